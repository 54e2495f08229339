/**
 * The actions of the messenger core (`@cove/client`) that the app uses, named in one place so the app model
 * depends on behaviour, not on the core's layout; reads go through history-reader.ts. messenger-adapter.ts
 * implements it over the core's facade (linking this browser as a new device is its `linkMessenger`). Types only.
 */
import type {
  AuditVerification,
  ConversationEntry,
  MemberView,
  MessageInfo,
  MessengerEvent,
  OutgoingAttachment,
  SearchResult,
  TrustLevel,
} from '@cove/client';
import type {
  AuditListResponse,
  CreateInviteResponse,
  InviteEntry,
  RetentionResponse,
  ServerStatusResponse,
} from '@cove/protocol';
import type {
  AddDeviceResult,
  AdminFailure,
  AttachmentFailure,
  DeviceView,
  DirectoryMatch,
  OrganizationView,
  PasswordResult,
  RemoveDeviceResult,
  HistoryProgressView,
} from './model.js';

export type OwnProfileView = { name: string; about: string; avatar: Uint8Array | null };

export type SafetyNumber = { digits: string; scannable: string; trust: TrustLevel; changedAt: number | null };

export type LookupResult =
  { ok: true; conversation: ConversationEntry } | { ok: false; error: 'unknown' | 'self' | 'network' };

/** A group change the core refused or could not make: see GroupFailure in model.ts. */
export type GroupError = 'unknown' | 'self' | 'network' | 'forbidden' | 'invalid';

export type GroupResult<T = undefined> = { ok: true; value: T } | { ok: false; error: GroupError };

export type RegistrationError = 'taken' | 'invalid' | 'invite' | 'network' | 'password' | 'other';
/** Why a password login failed. */
export type LoginError = 'wrong' | 'throttled' | 'invalid' | 'network' | 'other';

/** Why an admin call failed: not an admin here, only the owner's device may, bad input, gone, no network. */
export type AdminError = AdminFailure;

export type AdminResult<T = undefined> = { ok: true; value: T } | { ok: false; error: AdminError };

/**
 * The organization's admin calls (the core's Organization and notice send); the server enforces every role, the
 * core refuses what this device cannot prove or sign. Failures come back as AdminError, never thrown.
 */
export interface AdminPort {
  /** Our certified role and whether this device holds the organization key (may sign role certificates). */
  access(): Promise<{ role: 'owner' | 'admin' | 'member'; keyHolder: boolean; keyChanged: boolean }>;
  members(): Promise<AdminResult<MemberView[]>>;
  setDisabled(accountId: string, disabled: boolean): Promise<AdminResult>;
  removeDevice(accountId: string, deviceId: number): Promise<AdminResult>;
  invites(): Promise<AdminResult<InviteEntry[]>>;
  createInvite(uses: number, expiresInSeconds: number): Promise<AdminResult<CreateInviteResponse>>;
  revokeInvite(id: string): Promise<AdminResult>;
  grant(accountId: string, role: 'admin' | 'member'): Promise<AdminResult>;
  /** Sends an organization notice to every member; the value is how many members it went to. */
  sendNotice(text: string): Promise<AdminResult<number>>;
  retention(): Promise<AdminResult<RetentionResponse>>;
  setRetention(
    envelopeSeconds: number | null,
    attachmentSeconds: number | null,
  ): Promise<AdminResult<RetentionResponse>>;
  serverStatus(): Promise<AdminResult<ServerStatusResponse>>;
  auditPage(after: number): Promise<AdminResult<AuditListResponse>>;
  verifyAudit(): Promise<AdminResult<Pick<AuditVerification, 'intact' | 'brokenAt'> & { entries: number }>>;
}

export interface MessengerPort {
  readonly username: string;
  /** This device's id in the account (1: the primary, which registered it). */
  readonly deviceId: number;
  subscribe(listener: (event: MessengerEvent) => void): () => void;
  /** Connects (WebSocket, prekey upkeep, outbox) and keeps reconnecting until `stop`. */
  start(): void;
  stop(): Promise<void>;
  /** Whether this tab holds the live connection (one tab does; the others hear about it). */
  holdsConnection(): boolean;
  /** Retries the connection at once (the network or the user came back) instead of waiting out the backoff. */
  reconnectNow(): void;
  startChat(username: string): Promise<LookupResult>;
  /**
   * The organization directory: members whose username starts with `query` (ourselves left out); null when the
   * server has the directory off. A query that is no username prefix, or a failed request, finds nobody.
   */
  directory(query: string): Promise<DirectoryMatch[] | null>;
  /** The composer's send: the conversation's draft is removed with it. */
  sendText(conversationId: string, text: string, replyTo?: string): Promise<void>;
  react(messageId: string, emoji: string, remove: boolean): Promise<void>;
  edit(messageId: string, text: string): Promise<void>;
  deleteForMe(messageId: string): Promise<void>;
  deleteForEveryone(messageId: string): Promise<void>;
  forward(messageId: string, toConversationId: string): Promise<void>;
  messageInfo(messageId: string): Promise<MessageInfo | null>;
  /**
   * Sends one file (photo, voice note, document) with its metadata; resolves once the message is stored (the upload
   * then runs in the outbox), or with why it was refused before anything was stored (too large, quota, network).
   */
  sendAttachment(conversationId: string, attachment: OutgoingAttachment): Promise<AttachmentFailure | null>;
  /** Downloads and verifies a message's attachment; null when done, or why it failed. */
  downloadAttachment(messageId: string, index: number): Promise<AttachmentFailure | null>;
  /** The verified plaintext of a downloaded attachment as a Blob of `type`, or why it cannot be had. */
  openAttachment(messageId: string, index: number, type: string): Promise<Blob | AttachmentFailure>;
  retry(messageId: string): Promise<void>;
  markRead(conversationId: string): Promise<void>;
  /** Sets a direct conversation's disappearing-message timer (null: off) and tells the peer. */
  setExpireTimer(conversationId: string, seconds: number | null): Promise<void>;
  /** Keeps a conversation's unsent text (blank removes it). */
  setDraft(conversationId: string, text: string): Promise<void>;
  typing(conversationId: string, started: boolean): Promise<void>;
  safetyNumber(conversationId: string): Promise<SafetyNumber>;
  /** This account's profile as stored here (docs/profiles.md). */
  profile(): Promise<OwnProfileView>;
  /** Sets profile fields (encrypted and uploaded); `invalid` for input the core refuses, `network` when unsent. */
  setProfile(input: {
    name?: string;
    about?: string;
    avatar?: Uint8Array | null;
  }): Promise<'saved' | 'invalid' | 'network'>;
  /**
   * Who may send this account sealed messages, as last seen here; with `refresh` read from the server first (when it
   * cannot be reached, the one seen here).
   */
  sealedSenderSetting(refresh: boolean): Promise<'anyone' | 'contacts'>;
  /** Sets it on the server (for all the account's devices); `network` when the server could not be reached. */
  setSealedSenderSetting(setting: 'anyone' | 'contacts'): Promise<'saved' | 'network'>;
  /** The local nickname of a direct conversation's contact (null: none). */
  nickname(conversationId: string): Promise<string | null>;
  setNickname(conversationId: string, nickname: string | null): Promise<'saved' | 'invalid'>;
  /**
   * Marks the contact verified if its safety number is still `digitsShown` (what the user compared); `changed` when
   * the number moved on meanwhile (nothing is marked).
   */
  verify(conversationId: string, digitsShown: string): Promise<'verified' | 'changed'>;
  /** Resolves a username on the server: its account id and canonical spelling. */
  lookupMember(username: string): Promise<GroupResult<{ accountId: string; username: string }>>;
  /** Creates a group with the user as admin; the value is its conversation id (`group:<id>`). */
  createGroup(title: string, members: string[]): Promise<GroupResult<string>>;
  /** Admin changes and leaving; `members` are usernames or account ids. The core refuses what the user may not do. */
  changeGroup(
    groupId: string,
    change:
      | { kind: 'add' | 'remove'; members: string[] }
      | { kind: 'admin'; member: string }
      | { kind: 'rename'; title: string }
      | { kind: 'leave' },
  ): Promise<GroupResult>;
  /** Message requests and the block list (the core's requests.ts). */
  accept(conversationId: string): Promise<void>;
  block(conversationId: string): Promise<void>;
  unblock(accountId: string): Promise<void>;
  blocked(): Promise<{ accountId: string; username: string | null }[]>;
  /** The organization as this device pinned it (fingerprint, a changed key, our certified role); null without one. */
  organization(): Promise<OrganizationView | null>;
  /** The admin console's calls (admins; granting: the owner's device). */
  readonly admin: AdminPort;
  /** Whether the account has a password for logging in on new devices (the server's answer). */
  hasPassword(): Promise<boolean>;
  /** Sets or changes it (OPAQUE: the server never learns it); the account backup is sealed anew. */
  setPassword(password: string): Promise<PasswordResult>;
  /** Removes it: the server deletes the login record and the account backup. */
  removePassword(): Promise<PasswordResult>;
  /** Deletes a conversation and its history on this device (a group is left first). */
  deleteConversation(conversationId: string): Promise<void>;
  /** Tells the account's other devices a conversation's mute, pin and archive state (after a change here). */
  syncConversationSettings(conversationId: string): Promise<void>;
  /** Local search over conversations and messages (in memory; nothing is indexed at rest). */
  search(query: string, limit: number): Promise<SearchResult[]>;
  setPushSubscription(subscription: { endpoint: string; keys: { p256dh: string; auth: string } }): Promise<void>;
  /**
   * Signs this device out on the server (a linked device is removed; the primary forgets its push subscription) and
   * stops; rejects (with the core's error, nothing changed) when the server cannot be reached.
   */
  logout(): Promise<void>;
  /** Deletes the account on the server (primary only) and stops; rejects with the core's error otherwise. */
  deleteAccount(): Promise<void>;
  /** This account's devices, oldest first, names decrypted; rejects when the server cannot be asked. */
  devices(): Promise<DeviceView[]>;
  /** Primary only: seals this account to the device waiting behind `uri` and relays it (the user confirmed). */
  addDevice(
    uri: string,
    options?: { history: boolean; onHistoryProgress?: (progress: HistoryProgressView) => void },
  ): Promise<AddDeviceResult>;
  /** Primary only: removes another device of the account. */
  removeDevice(deviceId: number): Promise<RemoveDeviceResult>;
}
