/**
 * `Messenger`: the one facade the PWA, the CLI, bots and tests use. It registers or opens an account on a platform,
 * keeps the server connection (socket, or HTTP fetches for a woken service worker), runs prekey upkeep on every
 * connect, sends text through the outbox, receives through the inbox, answers read receipts and typing, exposes
 * history, safety numbers and verification, and reports typed events after each commit. Peers can be named by
 * username, account id or conversation id. It holds no state of its own beyond what the platform stores. The work
 * lives in modules it composes: contacts.ts (naming peers, identity and trust), recipients.ts (bundles, sessions,
 * devices), content-builder.ts (the data message), messenger-connection.ts (being online: socket lifecycle wired to
 * the inbox and outbox, queue-empty, sweeps and upkeep on connect, HTTP fetches), typing.ts, sweeps.ts, inbox.ts,
 * outbox.ts.
 */
import { IdentityKeyPair, PrivateKey, decryptDeviceName, profileKeyVersion, ready } from '@cove/crypto';
import { MAX_TEXT_BYTES, encodeContent, fromBase64, toBase64 } from '@cove/protocol';
import type { HistoryArchivePointer, Quote, ReadPosition } from '@cove/protocol';

import { ApiClient } from './api-client.js';
import { deleteAttachmentBlobs } from './attachments/attachment-blobs.js';
import {
  AUTO_DOWNLOAD_MAX_BYTES,
  downloadAttachment,
  pointerOf,
  downloadAndDecryptAttachment,
  readAttachment,
  recordSavedCopy,
  uploadsForRetry,
} from './attachments/attachment-service.js';
import { deleteUpload } from './attachments/tus-client.js';
import type { OutgoingAttachment } from './attachments/attachment-service.js';
import { sendAttachmentMessage } from './attachments/send-attachment.js';
import { createAccount, createLinkedAccount, loadAccount, validateUsername } from './account.js';
import { openProvisioning, parseLinkUri, sendProvisioning, waitForProvisioning } from './linking.js';
import { buildHistoryArchive, receiveHistory, uploadHistoryArchive } from './history-transfer.js';
import type { HistoryArchiveOptions, HistoryImportOutcome, HistoryProgressSink } from './history-transfer.js';
import type { RegisterOptions } from './account.js';
import { pollSsoDeviceSignIn, startSsoDeviceSignIn, type SsoDeviceSignIn, type SsoPoll } from './sso.js';
import {
  contactIdentity,
  resetSessions,
  resolveCached,
  resolvePeer,
  safetyNumberWith,
  verifyContact,
} from './contacts.js';
import type { ContactIdentity } from './contacts.js';
import { OUTBOX_GIVE_UP_MS, PRIMARY_DEVICE_ID } from './constants.js';
import { encodeDataMessage } from './content-builder.js';
import { checkTimer, conversationTimer, timerChange, timerText } from './disappearing.js';
import { readDraft, saveDraft } from './drafts.js';
import type { MessengerContext } from './context.js';
import { STORAGE_LOCK, emit, peerLock } from './context.js';
import { ClientError, ClientErrorCode, ServerResponseError } from './errors.js';
import type { ConnectionState, MessengerEvent, MessengerListener } from './events.js';
import { EventHub } from './events.js';
import { History, deleteMessage, isExpired, putConversation } from './history.js';
import type { MessagePage } from './history.js';
import { Inbox } from './inbox.js';
import type { InboxResult } from './inbox.js';
import { deleteForEveryone, editMessage, messageInfo, sendReaction } from './message-actions.js';
import type { MessageInfo } from './message-actions.js';
import { MessengerConnection } from './messenger-connection.js';
import { metaPut, readMeta } from './meta.js';
import { Outbox, mergeIntoOutbox, newOutboxEntry, putOutboxEntry } from './outbox.js';
import type { EventSink, Platform, WriteOp } from './platform.js';
import { hasPassword, loginWithPassword, refreshPasswordBackup, removePassword, setPassword } from './password.js';
import { runPrekeyUpkeep } from './prekeys.js';
import type { UpkeepResult } from './prekeys.js';
import type {
  AccountRecord,
  ConversationEntry,
  MessageEntry,
  OutboxEntry,
  ProfileRecord,
  SavedCopy,
} from './tables.js';
import { NOTICES_CONVERSATION_ID, directConversationId, directPeerOf, messageIndexKey, metaKeys } from './tables.js';
import { sendNotice } from './notices.js';
import { Organization } from './organization.js';
import { Sequencer, TimestampSource } from './sequence.js';
import {
  addMembers,
  createGroup,
  getGroup,
  groupIdOrThrow,
  leaveGroup,
  listGroups,
  makeAdmin,
  removeMembers,
  encodeGroupMessage,
  sendGroupAttachment,
  sendGroupText,
  setGroupTitle,
} from './group-actions.js';
import type { GroupEntry } from './tables.js';
import { groupConversationId, groupOf } from './tables.js';
import { storeOutgoingMessage } from './outgoing-message.js';
import {
  contactDisplayName,
  PROFILE_REFRESH_MS,
  contactProfile,
  ownVersion,
  profileKeyToShare,
  readOwnProfile,
  rotateOwnProfileKey,
  setContactNickname,
  setOwnProfile,
  syncOwnProfile,
  newOwnProfile,
  restoreOwnProfile,
} from './profiles.js';
import type { ProfileInput } from './profiles.js';
import { migrateStorage } from './storage-migrations.js';
import { pruneProcessed, sweepExpired } from './sweeps.js';
import { fromHex, groupLock } from './groups.js';
import type { SafetyNumber } from './trust.js';
import { sendTyping } from './typing.js';
import {
  acceptConversation,
  blockPeer,
  blockedPeers,
  conversationIdOf,
  deleteConversation,
  isAccepted,
  pendingRequests,
  unblockPeer,
} from './requests.js';
import type { BlockedPeer } from './requests.js';
import { searchLocal } from './search-local.js';
import { changeChatPreferences } from './chat-preferences.js';
import type { ChatPreferencesChange } from './chat-preferences.js';
import {
  fullSyncFor,
  fullSyncWrites,
  queueContactSync,
  queueConversationSync,
  queueProfileSync,
} from './device-sync.js';
import type { SearchResult } from './search-local.js';
import type { SealedSenderSetting } from './sealed-sender.js';

const utf8 = new TextEncoder();

export type MessengerOptions = {
  events?: EventSink<MessengerEvent>;
  /**
   * The server to talk to whatever URL the account was stored with: the PWA passes its own origin, since the server
   * serves it and its Content-Security-Policy lets it reach no other (a server that moved keeps its browsers).
   */
  serverUrl?: string;
};

/** This account's profile as the owner sees it. */
export type OwnProfile = {
  name: string;
  about: string;
  aboutEmoji: string;
  avatar: Uint8Array | null;
  /** The version of the current profile key (what contacts fetch with). */
  version: string;
};

/** A contact with everything the UI shows of them (see Messenger.contact). */
export type ContactView = {
  accountId: string;
  username: string | null;
  nickname: string | null;
  profileName: string | null;
  about: string | null;
  aboutEmoji: string | null;
  avatar: Uint8Array | null;
  hasProfileKey: boolean;
  displayName: string;
};

/** One device of this account as `devices()` lists it (times in milliseconds; `current`: this device). */
export type DeviceEntry = {
  deviceId: number;
  /** The name it gave itself, decrypted here; null when it gave none (or it does not decrypt). */
  name: string | null;
  createdAt: number;
  lastSeenAt: number;
  current: boolean;
};

export type PasswordLoginOptions = {
  serverUrl: string;
  username: string;
  password: string;
  /** One-time prekeys of each kind to upload (default PREKEY_BATCH). */
  oneTimePreKeys?: number;
  /** This device's name in the device list (encrypted: the server cannot read it). */
  deviceName?: string;
};

export type LinkOptions = {
  serverUrl: string;
  /** Called once with the link URI to show (as text and QR code) while the new device waits. */
  onLinkUri: (uri: string) => void;
  /** One-time prekeys of each kind to upload (default PREKEY_BATCH). */
  oneTimePreKeys?: number;
  /**
   * This device's name in the device list (encrypted: the server cannot read it); a function is asked once the
   * account arrived (so a screen can let the user type it while the link code is shown).
   */
  deviceName?: string | (() => string | undefined);
  /** Gives up waiting: the channel closes and the call rejects with `link_failed`; nothing is stored. */
  signal?: AbortSignal;
  /** Under single sign-on (`REGISTRATION=sso`): the token of the owner's fresh sign-on, required to link. */
  ssoToken?: string;
  /**
   * Progress of the history transfer, when the existing device sends history (history-transfer.ts): downloading,
   * importing, then `done` (with counts) or `failed` (with a code). The link succeeds even if the history fails.
   */
  onHistoryProgress?: HistoryProgressSink;
};

/** What the existing device sends with the account when linking (`addDevice`). */
export type AddDeviceOptions = {
  /** Also send recent history as an encrypted archive (true: the default days and messages per conversation). */
  history?: boolean | HistoryArchiveOptions;
  /** Progress of building and uploading the archive. */
  onHistoryProgress?: HistoryProgressSink;
};

/** The outbox entry telling our other devices that a conversation was read here up to a message. */
const readSyncEntry = (ctx: MessengerContext, position: ReadPosition): WriteOp =>
  putOutboxEntry(
    newOutboxEntry(ctx, {
      destination: ctx.account.accountId,
      kind: 'sync',
      timestamp: ctx.timestamps.next(),
      content: encodeContent({ kind: 'sync', sync: { type: 'read', positions: [position] } }),
    }),
  );

export type AccountInfo = { accountId: string; deviceId: number; username: string | null; serverUrl: string };

export type { ContactIdentity } from './contacts.js';
export type { BlockedPeer } from './requests.js';
export type { SearchResult } from './search-local.js';
export type { SealedSenderSetting } from './sealed-sender.js';

/** The server no longer accepts this device's credentials: it (or its account) was removed. */
const alreadyGone = (error: unknown): boolean =>
  error instanceof ClientError && error.code === ClientErrorCode.Unauthorized;

export class Messenger {
  private readonly hub: EventHub;
  private readonly link: MessengerConnection;
  private ctxValue: MessengerContext | null = null;
  private outboxValue: Outbox | null = null;
  private inboxValue: Inbox | null = null;
  private upkeepTimer = false;
  private closed = false;
  private readonly downloads = new Map<string, Promise<void>>();
  /** Group members whose profile is being fetched for `groupMemberNames` (one fetch each at a time). */
  private readonly profileFetches = new Set<string>();

  private constructor(
    readonly platform: Platform,
    private readonly options: MessengerOptions,
  ) {
    this.hub = new EventHub((error) =>
      platform.logger.warn('event listener threw', { error: error instanceof Error ? error.name : 'unknown' }),
    );
    this.link = new MessengerConnection(platform, { upkeep: () => this.upkeep(), isClosed: () => this.closed });
  }

  /** Opens the messenger over a platform's storage; `isRegistered` tells whether an account exists yet. */
  static async open(platform: Platform, options: MessengerOptions = {}): Promise<Messenger> {
    await ready();
    const messenger = new Messenger(platform, options);
    // Older stored data is brought to this build's layout before anything reads it (one commit; idempotent).
    const migrated = await platform.locks.withLock(STORAGE_LOCK, () =>
      migrateStorage(platform.storage, { random: platform.random, now: platform.clock.now() }),
    );
    for (const name of migrated) platform.logger.info('storage migrated', { migration: name });
    const account = await loadAccount(platform.storage);
    if (account) messenger.attach(account);
    return messenger;
  }

  get isRegistered(): boolean {
    return this.ctxValue !== null;
  }

  private attach(stored: AccountRecord): void {
    const { platform } = this;
    const account = this.options.serverUrl ? { ...stored, serverUrl: this.options.serverUrl } : stored;
    const api = new ApiClient(account.serverUrl, platform.http, {
      accountId: account.accountId,
      deviceId: account.deviceId,
      secret: account.secret,
    });
    const ctx: MessengerContext = {
      platform,
      account,
      api,
      history: new History(platform.storage, () => platform.clock.now()),
      hub: this.hub,
      sink: this.options.events,
      sequencer: new Sequencer(platform.clock, platform.random),
      timestamps: new TimestampSource(platform.clock),
      connection: () => this.link.socket,
    };
    this.ctxValue = ctx;
    this.hub.subscribe((event) => this.autoDownload(event));
    this.hub.subscribe((event) => this.refreshProfileOn(event));
    this.outboxValue = new Outbox(ctx);
    this.outboxValue.onNewSibling = async (deviceIds) => ctx.platform.storage.commit(await fullSyncFor(ctx, deviceIds));
    this.inboxValue = new Inbox(ctx, this.outboxValue, () => this.scheduleUpkeep());
    this.link.attach({ ctx, inbox: this.inboxValue, outbox: this.outboxValue });
  }

  private get ctx(): MessengerContext {
    if (!this.ctxValue) throw new ClientError(ClientErrorCode.NotRegistered, 'no account here: register first');
    return this.ctxValue;
  }

  private get outbox(): Outbox {
    if (!this.outboxValue) throw new ClientError(ClientErrorCode.NotRegistered, 'no account here: register first');
    return this.outboxValue;
  }

  /** Creates an account on a server and stores it here. */
  async register(options: RegisterOptions): Promise<AccountInfo> {
    if (this.ctxValue) throw new ClientError(ClientErrorCode.AlreadyRegistered, 'this data already holds an account');
    const api = new ApiClient(options.serverUrl, this.platform.http);
    const account = await createAccount(
      this.platform.storage,
      api,
      this.platform.random,
      this.platform.clock.now(),
      options,
    );
    this.attach(account);
    this.platform.logger.info('registered', { accountId: account.accountId, deviceId: account.deviceId });
    // The organization: an account registered with the owner invite makes and publishes the organization key; any
    // other pins the server's key now (first use). A failure leaves it to the next look (pinned then).
    await (options.inviteCode ? this.organization.bootstrap() : this.organization.refresh()).catch((error: unknown) =>
      this.platform.logger.warn('organization setup failed', {
        error: error instanceof ClientError ? error.code : 'unknown',
      }),
    );
    // The new profile key's (empty) profile and access key go up now, so contacts that get the key can send sealed
    // at once; a failure is retried by the next upkeep.
    await syncOwnProfile(this.ctx).catch((error: unknown) =>
      this.platform.logger.warn('profile upload failed', {
        error: error instanceof ClientError ? error.code : 'unknown',
      }),
    );
    return this.account();
  }

  /**
   * Single sign-on without a browser redirect (`REGISTRATION=sso`): starts a device authorization grant. Show the
   * person `verificationUri` and `userCode`, then call `ssoDevicePoll` every `interval` seconds.
   */
  ssoDeviceStart(serverUrl: string): Promise<SsoDeviceSignIn> {
    return startSsoDeviceSignIn(new ApiClient(serverUrl, this.platform.http));
  }

  /** One poll of a device authorization grant: pending (with the interval to wait), or the single-use grant. */
  ssoDevicePoll(serverUrl: string, handle: string): Promise<SsoPoll> {
    return pollSsoDeviceSignIn(new ApiClient(serverUrl, this.platform.http), handle);
  }

  /**
   * Links this (empty) storage as a new device of an existing account: waits on a provisioning channel for the
   * account an existing device sends (see linking.ts), then registers with it and stores it.
   */
  async linkNewDevice(options: LinkOptions): Promise<AccountInfo> {
    if (this.ctxValue) throw new ClientError(ClientErrorCode.AlreadyRegistered, 'this data already holds an account');
    const api = new ApiClient(options.serverUrl, this.platform.http);
    const ephemeral = PrivateKey.generate((n) => this.platform.random.bytes(n));
    const { address, sealed } = await waitForProvisioning(
      this.platform,
      api,
      ephemeral,
      options.onLinkUri,
      options.signal,
    );
    const provisioned = openProvisioning(ephemeral, address, sealed, this.platform.clock.now());
    const account = await createLinkedAccount(
      this.platform.storage,
      api,
      this.platform.random,
      this.platform.clock.now(),
      provisioned,
      [...provisioned.writes, ...this.ownProfileWrites(provisioned)],
      {
        oneTimePreKeys: options.oneTimePreKeys,
        deviceName: typeof options.deviceName === 'function' ? options.deviceName() : options.deviceName,
        ssoToken: options.ssoToken,
      },
    );
    const info = await this.joined(account, provisioned.profileKey);
    if (provisioned.history) await this.takeHistory(provisioned.history, options.onHistoryProgress);
    return info;
  }

  /**
   * Downloads and imports the history archive a linking device sent; a failure (unreachable, refused) is reported as
   * the `failed` phase and logged by code, never thrown: the device is linked either way.
   */
  private async takeHistory(
    pointer: HistoryArchivePointer,
    onProgress: HistoryProgressSink | undefined,
  ): Promise<void> {
    const report: HistoryProgressSink = (p) => {
      try {
        onProgress?.(p);
      } catch {
        // The shell's display is not the transfer's business.
      }
    };
    try {
      const { imported, skipped, dropped } = await this.receiveHistoryArchive(pointer, onProgress);
      report({ phase: 'done', done: pointer.messages, total: pointer.messages, imported, skipped, dropped });
      this.platform.logger.info('history imported', { imported, skipped, dropped });
    } catch (error) {
      const code = error instanceof ClientError ? error.code : 'unknown';
      report({ phase: 'failed', done: 0, total: pointer.messages, error: code });
      this.platform.logger.warn('history transfer failed', { error: code });
    }
  }

  /**
   * Downloads, verifies, checks and imports a history archive (history-transfer.ts), skipping messages held already
   * and dropping (counted) notices whose certificate does not prove admin or owner under the pinned organization key.
   * Throws `history_refused` (nothing stored) for an archive that does not verify, is too large or malformed, is for
   * another account or holds a message outside its conversation (a notice outside the notices among them).
   */
  async receiveHistoryArchive(
    pointer: HistoryArchivePointer,
    onProgress?: HistoryProgressSink,
  ): Promise<HistoryImportOutcome> {
    return receiveHistory(this.ctx, pointer, onProgress);
  }

  /**
   * The account's profile key, already on the server with its access key: kept, so that this device neither
   * replaces the profile nor changes the key contacts send sealed messages with (its fields are fetched on joining).
   */
  private ownProfileWrites(from: { accountId: string; profileKey?: Uint8Array }): WriteOp[] {
    const { profileKey } = from;
    return profileKey
      ? [
          metaPut('ownProfile', {
            ...newOwnProfile(this.platform.random, this.platform.clock.now()),
            profileKey,
            uploadedVersion: profileKeyVersion(profileKey, from.accountId),
            accessKeyUploaded: true,
          }),
        ]
      : [];
  }

  /** A new device of an existing account is stored: attach it, fetch the own profile, announce it to the others. */
  private async joined(account: AccountRecord, profileKey: Uint8Array | undefined): Promise<AccountInfo> {
    this.attach(account);
    if (profileKey)
      await restoreOwnProfile(this.ctx).catch((error: unknown) =>
        this.platform.logger.warn('could not fetch the own profile', {
          error: error instanceof ClientError ? error.code : 'unknown',
        }),
      );
    // Tells the other devices this one exists (they refresh their device list on a message from an unknown sibling)
    // and asks them for everything they hold (a full sync: groups, contacts, conversation settings, profile key).
    await this.platform.storage.commit([
      putOutboxEntry(
        newOutboxEntry(this.ctx, {
          destination: account.accountId,
          kind: 'sync',
          timestamp: this.ctx.timestamps.next(),
          content: encodeContent({ kind: 'sync', sync: { type: 'request' } }),
        }),
      ),
    ]);
    this.platform.logger.info('linked', { accountId: account.accountId, deviceId: account.deviceId });
    return this.account();
  }

  /**
   * Logs this (empty) storage in as a new device of the account with `username`, by password (OPAQUE; see
   * password.ts): the account backup the server releases to a successful login becomes this device's account,
   * contacts and settings. A wrong password (or unknown username) is `wrong_password`; too many are `rate_limited`.
   */
  async loginWithPassword(options: PasswordLoginOptions): Promise<AccountInfo> {
    if (this.ctxValue) throw new ClientError(ClientErrorCode.AlreadyRegistered, 'this data already holds an account');
    validateUsername(options.username);
    const api = new ApiClient(options.serverUrl, this.platform.http);
    const { account, restored } = await loginWithPassword(
      this.platform,
      api,
      options.username,
      options.password,
      (r) => this.ownProfileWrites(r),
      { oneTimePreKeys: options.oneTimePreKeys, deviceName: options.deviceName },
    );
    return this.joined(account, restored.profileKey);
  }

  /** Sets or changes the account's password (any device); the account backup is sealed anew under it. */
  async setPassword(password: string): Promise<void> {
    await setPassword(this.ctx, password);
  }

  /** Removes the account's password: the server deletes its OPAQUE record and the account backup. */
  async removePassword(): Promise<void> {
    await removePassword(this.ctx);
  }

  /** Whether the account has a password (the server's answer). */
  async hasPassword(): Promise<boolean> {
    return hasPassword(this.ctx);
  }

  /** Primary device only: sends this account to the new device that shows `uri` (after the user confirmed). */
  async addDevice(uri: string, options: AddDeviceOptions = {}): Promise<void> {
    const { account, api } = this.ctx;
    const profile = await readMeta(this.platform.storage, 'profile');
    const own = await readOwnProfile(this.ctx);
    let history: Parameters<typeof sendProvisioning>[6];
    if (options.history) {
      // Checked before anything is built or uploaded: a bad URI or a secondary device would waste the upload.
      parseLinkUri(uri);
      if (account.deviceId !== PRIMARY_DEVICE_ID)
        throw new ClientError(ClientErrorCode.NotPrimary, 'only the primary device can link new devices');
      const archive = await buildHistoryArchive(
        this.ctx,
        options.history === true ? {} : options.history,
        options.onHistoryProgress,
      );
      history = await uploadHistoryArchive(this.ctx, archive, options.onHistoryProgress);
    }
    await sendProvisioning(this.platform, api, account, profile?.username ?? null, uri, own.profileKey, history);
    if (history) options.onHistoryProgress?.({ phase: 'done', done: history.messages, total: history.messages });
    // The new device registers in a moment. Until our own device list is read again, sent transcripts would skip it
    // (a device that only sends, like a CLI between runs, never hears its announcement): forget the list, so the next
    // send to our other devices reads it from the server.
    const me = account.accountId;
    await this.platform.locks.withLock(peerLock(me), async () => {
      const self = await this.platform.storage.get('contacts', me);
      if (self?.devices)
        await this.platform.storage.commit([
          { op: 'put', table: 'contacts', key: me, value: { ...self, devices: null } },
        ]);
    });
  }

  /** This account's devices, oldest first. */
  async devices(): Promise<DeviceEntry[]> {
    const { account, api } = this.ctx;
    const list = await api.devices();
    const identity = IdentityKeyPair.deserialize(account.identityKeyPair);
    const nameOf = (sealed: string | null): string | null => {
      if (sealed === null) return null;
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(
          decryptDeviceName(identity.privateKey, fromBase64(sealed)),
        );
      } catch {
        return null;
      }
    };
    return list.devices
      .map((d) => ({
        deviceId: d.deviceId,
        name: nameOf(d.name),
        createdAt: d.createdAt,
        lastSeenAt: d.lastSeenAt,
        current: d.deviceId === account.deviceId,
      }))
      .sort((a, b) => a.deviceId - b.deviceId);
  }

  /** Primary device only: removes another device of this account (its keys, queue and credential go with it). */
  async removeDevice(deviceId: number): Promise<void> {
    const { api } = this.ctx;
    try {
      await api.removeDevice(deviceId);
    } catch (error) {
      if (error instanceof ServerResponseError && error.errorCode === 'forbidden')
        throw new ClientError(ClientErrorCode.NotPrimary, 'only the primary device can remove devices (not itself)');
      if (error instanceof ServerResponseError && error.errorCode === 'not_found')
        throw new ClientError(ClientErrorCode.InvalidInput, `this account has no device ${deviceId}`);
      throw error;
    }
  }

  async account(): Promise<AccountInfo> {
    const { account } = this.ctx;
    const profile = await readMeta(this.platform.storage, 'profile');
    return {
      accountId: account.accountId,
      deviceId: account.deviceId,
      username: profile?.username ?? null,
      serverUrl: account.serverUrl,
    };
  }

  async setUsername(username: string): Promise<void> {
    validateUsername(username);
    try {
      await this.ctx.api.setUsername(username);
    } catch (error) {
      if (error instanceof ServerResponseError && error.errorCode === 'username_taken') {
        throw new ClientError(ClientErrorCode.UsernameTaken, `the username ${username} is taken`);
      }
      throw error;
    }
    await this.platform.storage.commit([
      { op: 'put', table: 'meta', key: metaKeys.profile, value: { username } satisfies ProfileRecord },
    ]);
  }

  /**
   * Signs this device out on the server: a linked device is removed from the account (its keys, queue and credential
   * go); the primary device cannot be removed, so only its push subscription is forgotten (the account stays, its
   * messages wait on the server until they expire). Then closes the connection; on failure (no server) nothing
   * changed and the messenger runs on. Returns which of the two happened. The local data is the caller's to wipe:
   * the core does not own the platform's storage.
   */
  async logout(): Promise<'device-removed' | 'primary-kept'> {
    const { api, account } = this.ctx;
    let outcome: 'device-removed' | 'primary-kept' = 'primary-kept';
    try {
      if (account.deviceId !== PRIMARY_DEVICE_ID) {
        await api.removeDevice(account.deviceId);
        outcome = 'device-removed';
      } else {
        await api.deletePushSubscription();
      }
    } catch (error) {
      // Refused credentials: the device (or its account) is already gone, so nothing is left to sign out of. A refusal
      // of the push step alone (no subscription stored) leaves nothing to remove either. No server at all is a failure.
      if (!alreadyGone(error) && !(error instanceof ServerResponseError && outcome === 'primary-kept')) throw error;
    }
    await this.close();
    this.platform.logger.info('logged out', { deviceId: account.deviceId, outcome });
    return outcome;
  }

  /**
   * Deletes the account on the server (only from the primary device; `invalid_input` from a linked one): every
   * device, key, queued message, attachment and the username. Then closes the connection; on failure nothing changed.
   * The local data is the caller's to wipe.
   */
  async deleteAccount(): Promise<void> {
    const { api, account } = this.ctx;
    if (account.deviceId !== PRIMARY_DEVICE_ID)
      throw new ClientError(ClientErrorCode.InvalidInput, 'only the primary device (device 1) can delete the account');
    await api.deleteAccount().catch((error: unknown) => {
      // Refused credentials: the account was deleted already (by this device in another tab, say).
      if (!alreadyGone(error)) throw error;
    });
    await this.close();
    this.platform.logger.info('account deleted', { accountId: account.accountId });
  }

  subscribe(listener: MessengerListener): () => void {
    return this.hub.subscribe(listener);
  }

  // ---- connection -------------------------------------------------------------------------------------------

  /**
   * Opens the live connection (reconnecting until `disconnect`); resolves once the server said `ready`. With
   * `failFast`, a first attempt that cannot reach the server rejects with `server_unreachable` (and stops) instead
   * of waiting for the server to come back.
   */
  connect(options: { failFast?: boolean } = {}): Promise<void> {
    return this.link.connect(options);
  }

  get connectionState(): ConnectionState {
    return this.link.state;
  }

  /**
   * Retries the connection now instead of waiting out the backoff, or checks a live one with a ping: for when the
   * network comes back or the user returns to the app. Does nothing when not connecting.
   */
  reconnectNow(): void {
    this.link.reconnectNow();
  }

  /** Resolves at the next `queue-empty` (all stored envelopes delivered and processed). */
  waitForQueueEmpty(): Promise<void> {
    return this.link.waitForQueueEmpty();
  }

  /** Closes the live connection; queued sends stay in the outbox. */
  disconnect(): Promise<void> {
    return this.link.disconnect();
  }

  /** Disconnects and waits for in-flight work; the platform's storage stays open (its owner closes it). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.disconnect();
  }

  /**
   * Fetches and processes pending envelopes over HTTP (no socket: a service worker woken by a push, a cron job),
   * acknowledging each after it is stored, then sends the resulting receipts; returns what happened to each.
   */
  fetchPending(): Promise<InboxResult[]> {
    return this.link.fetchPending();
  }

  // ---- prekeys ----------------------------------------------------------------------------------------------

  /** Tops up and rotates prekeys as needed (runs on every connect and after PreKey messages). */
  async upkeep(options: { forceRotation?: boolean } = {}): Promise<UpkeepResult> {
    const ctx = this.ctx;
    const result = await this.platform.locks.withLock('cove:prekeys', () =>
      runPrekeyUpkeep({
        storage: this.platform.storage,
        api: ctx.api,
        identity: IdentityKeyPair.deserialize(new Uint8Array(ctx.account.identityKeyPair)),
        now: this.platform.clock.now(),
        logger: this.platform.logger,
        ...(options.forceRotation === undefined ? {} : { forceRotation: options.forceRotation }),
      }),
    );
    if (result.preKeys || result.kyberPreKeys || result.signedPreKey || result.kyberLastResort) {
      emit(ctx, { type: 'prekeys-uploaded', ...result });
    }
    await pruneProcessed(this.platform);
    // The profile and access key of this key reach the server (after registration, an upgrade or a failed upload).
    await syncOwnProfile(ctx).catch((error: unknown) =>
      this.platform.logger.warn('profile upload failed', {
        error: error instanceof ClientError ? error.code : 'unknown',
      }),
    );
    // The password backup follows contacts and settings (only on a device that holds its key).
    await refreshPasswordBackup(ctx).catch((error: unknown) =>
      this.platform.logger.warn('password backup upload failed', {
        error: error instanceof ClientError ? error.code : 'unknown',
      }),
    );
    // Our sealed-sender setting as the server holds it now (another of our devices may have changed it).
    await this.outbox.sealed.refreshAcceptSetting().catch((error: unknown) => {
      this.platform.logger.warn('could not read the sealed sender setting', {
        error: error instanceof Error ? error.name : 'unknown',
      });
    });
    // Our own other devices as the server lists them now (linked or removed since), for sent transcripts and syncs.
    await this.outbox.refreshSiblings().catch((error: unknown) => {
      this.platform.logger.warn('could not refresh the device list', {
        error: error instanceof Error ? error.name : 'unknown',
      });
    });
    return result;
  }

  // ---- profiles ---------------------------------------------------------------------------------------------

  /** This account's profile as stored here (name, about, emoji, avatar) and the version of its current key. */
  async profile(): Promise<OwnProfile> {
    const ctx = this.ctx;
    const record = await readOwnProfile(ctx);
    return {
      name: record.name,
      about: record.about,
      aboutEmoji: record.aboutEmoji,
      avatar: record.avatar,
      version: ownVersion(ctx, record),
    };
  }

  /**
   * Sets profile fields (absent ones unchanged; `avatar: null` removes it): checked (name at most 26 characters,
   * about at most 140, one emoji, avatar at most 128 KiB), encrypted with the profile key and stored on the server.
   */
  async setProfile(input: ProfileInput): Promise<OwnProfile> {
    const record = await setOwnProfile(this.ctx, input);
    // The other devices fetch the new fields with the (shared) profile key.
    await this.syncing(() => queueProfileSync(this.ctx, record.profileKey));
    return this.profile();
  }

  /**
   * Makes a new profile key (call after blocking someone, naming them in `except`): the old key reads nothing any
   * more, and every other contact that had it gets the new one.
   */
  async rotateProfileKey(options: { except?: string[] } = {}): Promise<void> {
    const except = await Promise.all((options.except ?? []).map((peer) => this.resolveCached(peer)));
    await rotateOwnProfileKey(this.ctx, except);
    const record = await readMeta(this.platform.storage, 'ownProfile');
    if (record) await queueProfileSync(this.ctx, record.profileKey);
    this.outbox.kick();
  }

  /**
   * A contact as the UI names it: username as the server spells it, their profile (fetched under their profile key,
   * cached for an hour unless `refresh`), the nickname set here, and `displayName` (nickname, else profile name,
   * else username).
   */
  async contact(peer: string, options: { refresh?: boolean } = {}): Promise<ContactView> {
    const ctx = this.ctx;
    const accountId = await this.resolveCached(peer);
    let profile = null;
    try {
      profile = await contactProfile(ctx, accountId, { force: options.refresh ?? false });
    } catch (error) {
      // Offline or a server error: the cached profile (if any) stands.
      this.platform.logger.debug('profile fetch failed', {
        error: error instanceof ClientError ? error.code : 'unknown',
      });
    }
    const contact = await this.platform.storage.get('contacts', accountId);
    profile ??= contact?.profile ?? null;
    return {
      accountId,
      username: contact?.username ?? null,
      nickname: contact?.nickname ?? null,
      profileName: profile?.name ?? null,
      about: profile?.about ?? null,
      aboutEmoji: profile?.aboutEmoji ?? null,
      avatar: profile?.avatar ?? null,
      hasProfileKey: contact?.profileKey !== undefined,
      displayName: contactDisplayName(contact) ?? accountId,
    };
  }

  /** Sets the local nickname of a contact (null or empty removes it); it overrides their profile name here only. */
  async setNickname(peer: string, nickname: string | null): Promise<void> {
    const accountId = await this.resolveCached(peer);
    await setContactNickname(this.ctx, accountId, nickname);
    await this.syncing(() => queueContactSync(this.ctx, [accountId]));
  }

  /** Fetches a contact's profile in the background when their key arrives or changes (errors only logged). */
  private refreshProfileOn(event: MessengerEvent): void {
    if (event.type !== 'contact-updated' || !this.ctxValue || this.closed) return;
    const ctx = this.ctxValue;
    void contactProfile(ctx, event.accountId).catch((error: unknown) =>
      this.platform.logger.debug('profile fetch failed', {
        error: error instanceof ClientError ? error.code : 'unknown',
      }),
    );
  }

  /**
   * Deletes disappearing messages whose timer ran out (returns how many) and re-send log entries past their window.
   * Runs on connect and every minute while connected; reads hide both at once, before any sweep.
   */
  sweepExpired(): Promise<number> {
    return sweepExpired(this.ctx);
  }

  /** How many one-time prekeys the server still holds for this device. */
  keyStatus(): Promise<{ preKeyCount: number; kyberPreKeyCount: number }> {
    return this.ctx.api.keyStatus();
  }

  /** After PreKey messages consumed keys: check the server's counts once the burst is over. */
  private scheduleUpkeep(): void {
    if (this.upkeepTimer) return;
    this.upkeepTimer = true;
    this.platform.clock.setTimeout(() => {
      this.upkeepTimer = false;
      if (this.closed) return;
      void this.upkeep().catch((error: unknown) =>
        this.platform.logger.warn('prekey upkeep failed', {
          error: error instanceof Error ? error.message : 'unknown',
        }),
      );
    }, 2_000);
  }

  // ---- contacts and trust -----------------------------------------------------------------------------------

  /** Resolves a username (asking the server) or an account id to an account id, remembering the username. */
  resolve(peer: string): Promise<string> {
    return resolvePeer(this.ctx, peer);
  }

  private resolveCached(peer: string): Promise<string> {
    return resolveCached(this.ctx, peer);
  }

  // ---- sealed sender ----------------------------------------------------------------------------------------

  /**
   * The unidentified access key known for a contact (sealed sender): the one derived from the profile key they sent
   * us, or one set with {@link setAccessKey}; undefined while neither is known. While one is known, sends to that
   * contact go sealed.
   */
  async accessKeyFor(peer: string): Promise<Uint8Array | undefined> {
    return this.outbox.sealed.accessKeyFor(await this.resolveCached(peer));
  }

  /**
   * Records (or with null forgets) an explicit unidentified access key for a contact, which wins over the one derived
   * from their profile key (not needed once they sent us their profile key); a new key lifts an earlier refusal.
   */
  async setAccessKey(peer: string, key: Uint8Array | null): Promise<void> {
    await this.outbox.sealed.setAccessKey(await this.resolveCached(peer), key);
  }

  /**
   * Publishes this account's own unidentified access key (16 bytes; null removes it) and whether anyone may send it
   * sealed messages (`PUT /v1/accounts/attributes`). The key derived from our profile key is uploaded on its own (at
   * registration, sync and rotation); this overrides it until the profile key next changes. With `key` undefined only
   * the open setting changes.
   */
  async setOwnUnidentifiedAccess(key: Uint8Array | null | undefined, unrestricted?: boolean): Promise<void> {
    await this.ctx.api.setAccountAttributes({
      ...(key === undefined ? {} : { unidentifiedAccessKey: key === null ? null : toBase64(key) }),
      ...(unrestricted === undefined ? {} : { unrestrictedUnidentifiedAccess: unrestricted }),
    });
  }

  /**
   * Who may send this account sealed messages: `contacts` (default: only those holding our profile key, so our access
   * key; anyone else's sealed send is refused by the server and their client sends identified, which lands in our
   * message requests) or `anyone` (the server takes a sealed send without our key, so strangers are hidden from it
   * too). The setting lives on the server, shared by all our devices; this returns the one last seen here, or with
   * `{ refresh: true }` reads it from the server first (as every upkeep does).
   */
  async sealedSenderSetting(options: { refresh?: boolean } = {}): Promise<SealedSenderSetting> {
    return options.refresh ? this.outbox.sealed.refreshAcceptSetting() : this.outbox.sealed.acceptSetting();
  }

  /** Changes who may send this account sealed messages, on the server (so for every device of the account). */
  async setSealedSenderSetting(setting: SealedSenderSetting): Promise<void> {
    if (setting !== 'anyone' && setting !== 'contacts')
      throw new ClientError(ClientErrorCode.InvalidInput, 'the setting is "anyone" or "contacts"');
    await this.outbox.sealed.setAcceptSetting(setting);
  }

  // ---- sending ----------------------------------------------------------------------------------------------

  /**
   * Sends a text message: stores it (status `sending`) and its outbox entry in one commit, then lets the outbox
   * deliver it. Resolves with the stored message once it is persisted, before delivery; follow `message-updated`
   * events (or `waitForOutbox()`) for `sent`, `delivered`, `read` or `failed`.
   */
  async sendText(
    peer: string,
    text: string,
    { clearDraft = false, ...options }: { quote?: Quote; expireTimerSeconds?: number; clearDraft?: boolean } = {},
  ): Promise<MessageEntry> {
    const ctx = this.ctx;
    if (text.length === 0) throw new ClientError(ClientErrorCode.InvalidInput, 'the message is empty');
    if (utf8.encode(text).length > MAX_TEXT_BYTES)
      throw new ClientError(ClientErrorCode.InvalidInput, `the message is longer than ${MAX_TEXT_BYTES} bytes`);
    const accountId = await this.resolveCached(peer);
    if (accountId === ctx.account.accountId)
      throw new ClientError(ClientErrorCode.InvalidInput, 'sending to yourself is not supported');
    const timestamp = ctx.timestamps.next();
    // Composed under the peer's lock with the reads that store it: one storage round trip for all of them (on a
    // browser each read is a keyed hash, an IndexedDB transaction and a decryption), before anything is stored.
    const message = await storeOutgoingMessage(ctx, accountId, async () => {
      const [profile, share, timer] = await Promise.all([
        readMeta(this.platform.storage, 'profile'),
        // Our profile key goes with the first message to this peer and the first after it changed.
        profileKeyToShare(ctx, accountId),
        // Without an explicit timer, a message carries the conversation's (disappearing messages, set by either side).
        options.expireTimerSeconds ?? this.timerWith(accountId),
      ]);
      const expireTimerSeconds = timer ?? undefined;
      const encoded = encodeDataMessage({
        text,
        timestamp,
        senderUsername: profile?.username,
        ...options,
        profileKey: share?.profileKey ?? null,
        expireTimerSeconds,
      });
      return {
        timestamp,
        text,
        quote: options.quote ?? null,
        expireTimerSeconds: expireTimerSeconds ?? null,
        content: encoded,
        ...(share ? { contactUpdate: share.shared } : {}),
        clearDraft,
      };
    });
    this.outbox.kick();
    return message;
  }

  /**
   * Sets the disappearing-message timer of a direct conversation (seconds; 0 or null turns it off): stores the
   * system line ("You set disappearing messages to …") and the conversation's timer in one commit and sends the
   * update, after which both sides' messages carry it. Returns the system line.
   */
  async setExpireTimer(peer: string, seconds: number | null): Promise<MessageEntry> {
    const ctx = this.ctx;
    const timer = checkTimer(seconds);
    if (groupOf(peer) !== null)
      throw new ClientError(ClientErrorCode.InvalidInput, "a group's timer is part of the group's state");
    const accountId = await this.resolveCached(peer);
    if (accountId === ctx.account.accountId)
      throw new ClientError(ClientErrorCode.InvalidInput, 'sending to yourself is not supported');
    const timestamp = ctx.timestamps.next();
    const profile = await readMeta(this.platform.storage, 'profile');
    const content = encodeDataMessage({
      text: '',
      timestamp,
      senderUsername: profile?.username,
      expireTimerSeconds: timer,
      expireTimerUpdate: true,
    });
    const message = await storeOutgoingMessage(ctx, accountId, {
      timestamp,
      text: timerText('You', timer),
      quote: null,
      expireTimerSeconds: null,
      content,
      timerChange: { system: timerChange(timer), seconds: timer },
    });
    this.outbox.kick();
    return message;
  }

  /** The disappearing-message timer of the direct conversation with an account (null: off). */
  private async timerWith(accountId: string): Promise<number | null> {
    return conversationTimer(await this.ctx.history.conversation(directConversationId(accountId)));
  }

  /**
   * Sends a file, image or voice note (with an optional caption): encrypts it into local ciphertext, creates its
   * upload (size and quota refused here with `attachment_too_large` / `attachment_quota`), commits the message and
   * its outbox entry (with the upload state) at once, and lets the outbox upload — resumably, with
   * `attachment-progress` events — and then send the message. Resolves once it is persisted.
   */
  async sendAttachment(
    peer: string,
    attachment: OutgoingAttachment & { expireTimerSeconds?: number },
  ): Promise<MessageEntry> {
    const ctx = this.ctx;
    const accountId = await this.resolveCached(peer);
    if (accountId === ctx.account.accountId)
      throw new ClientError(ClientErrorCode.InvalidInput, 'sending to yourself is not supported');
    const timer = attachment.expireTimerSeconds ?? (await this.timerWith(accountId));
    const message = await sendAttachmentMessage(ctx, accountId, {
      ...attachment,
      ...(timer ? { expireTimerSeconds: timer } : {}),
    });
    this.outbox.kick();
    return message;
  }

  /**
   * Downloads (resuming what is on this device) and verifies a message's attachment; afterwards it is readable with
   * `readAttachment`. A blob failing verification is dropped, the attachment marked `failed`
   * (`attachment_unverified`) and this throws ClientError(attachment_unverified).
   */
  downloadAttachment(messageId: string, index: number): Promise<void> {
    const key = `${messageId}#${index}`;
    const running = this.downloads.get(key);
    if (running) return running;
    const download = downloadAttachment(this.ctx, messageId, index).finally(() => this.downloads.delete(key));
    this.downloads.set(key, download);
    return download;
  }

  /**
   * Downloads, verifies and decrypts a message's attachment in one pass (see downloadAndDecryptAttachment): plaintext
   * comes out as each chunk's tag holds, and only a run that ends without throwing delivered the whole, verified
   * attachment, so a caller keeps what it gets out of sight (a hidden partial file) until then. An attachment already
   * downloaded is read (`readAttachment`); one being downloaded by `downloadAttachment` is read once that ends.
   */
  async *downloadAndDecryptAttachment(messageId: string, index: number): AsyncIterable<Uint8Array> {
    const key = `${messageId}#${index}`;
    const running = this.downloads.get(key);
    if (running) {
      await running;
      yield* readAttachment(this.ctx, messageId, index);
      return;
    }
    let finished: () => void = () => undefined;
    // While this runs, downloadAttachment for the same attachment waits for it, then finds it local (or not).
    this.downloads.set(
      key,
      new Promise<void>((resolve) => {
        finished = resolve;
      }),
    );
    try {
      yield* downloadAndDecryptAttachment(this.ctx, messageId, index);
    } finally {
      this.downloads.delete(key);
      finished();
    }
  }

  /**
   * Records where a decrypted copy of an attachment was saved on this device (path, size, SHA-256 as written), so
   * that history can show it and deleting the message can remove it (the shell removes the file: the core has no
   * file system).
   */
  recordSavedCopy(messageId: string, index: number, copy: SavedCopy): Promise<void> {
    return recordSavedCopy(this.ctx, messageId, index, copy);
  }

  /** The plaintext of a downloaded attachment; nothing is yielded unless the whole blob verifies. */
  readAttachment(messageId: string, index: number): AsyncIterable<Uint8Array> {
    return readAttachment(this.ctx, messageId, index);
  }

  /**
   * Deletes a message here (not on the peer's devices), with its attachments' local blobs. One still queued is not
   * sent any more: its outbox entry goes in the same commit, and its unfinished uploads are deleted on the server
   * (best effort; the uploader stops at its next piece).
   */
  async deleteMessage(messageId: string): Promise<boolean> {
    const ctx = this.ctx;
    const message = await ctx.history.message(messageId);
    if (!message) return false;
    const peer = directPeerOf(message.conversationId) ?? message.conversationId;
    const queued = await this.platform.locks.withLock(peerLock(peer), async () => {
      const entries = (await this.platform.storage.list('outbox')).filter((e) => e.value.messageKey === message.id);
      await this.platform.storage.commit([
        ...deleteMessage(message),
        ...entries.map(({ key }) => ({ op: 'delete' as const, table: 'outbox' as const, key })),
      ]);
      return entries.map(({ value }) => value);
    });
    for (const entry of queued)
      for (const upload of entry.uploads ?? [])
        if (!upload.done && upload.uploadUrl !== null) await deleteUpload(ctx, upload.uploadUrl);
    await deleteAttachmentBlobs(this.platform, message);
    emit(ctx, { type: 'message-removed', conversationId: message.conversationId, messageId });
    return true;
  }

  /** Deletes a message on this device only (its attachments' local blobs too); the peer keeps it. */
  deleteForMe(messageId: string): Promise<boolean> {
    return this.deleteMessage(messageId);
  }

  /**
   * Deletes one of this user's messages, sent within the last 24 hours, for everyone: it becomes a "deleted"
   * placeholder here at once and on the peer's devices when they receive the deletion.
   */
  async deleteForEveryone(messageId: string): Promise<MessageEntry> {
    const message = await deleteForEveryone(this.ctx, messageId);
    this.outbox.kick();
    return message;
  }

  /** Reacts to a message with one emoji, replacing this user's earlier reaction to it. */
  async sendReaction(messageId: string, emoji: string): Promise<MessageEntry> {
    const message = await sendReaction(this.ctx, messageId, emoji);
    this.outbox.kick();
    return message;
  }

  /** Takes this user's reaction to a message away. */
  async removeReaction(messageId: string, emoji: string): Promise<MessageEntry> {
    const message = await sendReaction(this.ctx, messageId, emoji, true);
    this.outbox.kick();
    return message;
  }

  /** Gives one of this user's messages, sent within the last 24 hours, a new text (at most 10 times). */
  async editMessage(messageId: string, text: string): Promise<MessageEntry> {
    const message = await editMessage(this.ctx, messageId, text);
    this.outbox.kick();
    return message;
  }

  /**
   * Sends a message's text to another conversation as a new message of this user's. Messages with attachments are
   * refused (their files would have to be uploaded again; not done yet), and so are deleted ones.
   */
  async forward(messageId: string, peer: string): Promise<MessageEntry> {
    const message = await this.ctx.history.message(messageId);
    if (!message || message.status === 'undecryptable' || message.deletedAt !== undefined)
      throw new ClientError(ClientErrorCode.InvalidInput, 'no such message');
    if (message.attachments?.length)
      throw new ClientError(ClientErrorCode.InvalidInput, 'forwarding attachments is not supported yet');
    return this.sendText(peer, message.text);
  }

  /** When a message was sent, stored, edited or deleted and, for one's own, delivered and read per recipient. */
  messageInfo(messageId: string): Promise<MessageInfo | null> {
    return messageInfo(this.ctx, messageId);
  }

  /** Small incoming attachments are fetched as soon as their message is stored (AUTO_DOWNLOAD_MAX_BYTES). */
  private autoDownload(event: MessengerEvent): void {
    if (event.type !== 'message-added' || event.message.direction !== 'incoming') return;
    const { message } = event;
    message.attachments?.forEach((attachment, index) => {
      if (attachment.state !== 'remote' || attachment.plainSize > AUTO_DOWNLOAD_MAX_BYTES) return;
      void this.downloadAttachment(message.id, index).catch((error: unknown) =>
        this.platform.logger.info('attachment not downloaded', {
          error: error instanceof ClientError ? error.code : 'unknown',
        }),
      );
    });
  }

  /** Queues a failed message again. */
  async retrySend(messageId: string): Promise<MessageEntry> {
    const ctx = this.ctx;
    const message = await ctx.history.message(messageId);
    if (!message || message.direction !== 'outgoing' || message.deletedAt !== undefined)
      throw new ClientError(ClientErrorCode.InvalidInput, 'no such outgoing message');
    if (message.status !== 'failed') return message;
    if (groupOf(message.conversationId) !== null) return this.retryGroupSend(message);
    const peer = directPeerOf(message.conversationId);
    if (peer === null) throw new ClientError(ClientErrorCode.InvalidInput, 'no such outgoing message');
    const updated = await this.platform.locks.withLock(peerLock(peer), async () => {
      const profile = await readMeta(this.platform.storage, 'profile');
      // A failed message never reached anyone; one older than a day takes a new timestamp, since receivers refuse
      // send times that far behind the server's.
      const stale = this.platform.clock.now() - message.timestamp >= OUTBOX_GIVE_UP_MS;
      const timestamp = stale ? ctx.timestamps.next() : message.timestamp;
      // An attachment whose upload was never created has no storage id yet: the uploader encodes the content.
      const uncreated = message.attachments?.some((a) => a.storageId === '') ?? false;
      // A timer update goes out again as the update it was (its stored text is only the line's English rendering).
      const timerUpdate = message.system?.kind === 'timer' ? message.system : null;
      const content = uncreated
        ? new Uint8Array(0)
        : timerUpdate
          ? encodeDataMessage({
              text: '',
              timestamp,
              senderUsername: profile?.username,
              expireTimerSeconds: timerUpdate.expireTimerSeconds,
              expireTimerUpdate: true,
            })
          : encodeDataMessage({
              text: message.text,
              timestamp,
              senderUsername: profile?.username,
              quote: message.quote,
              expireTimerSeconds: message.expireTimerSeconds,
              attachments: message.attachments?.map(pointerOf) ?? null,
            });
      const entry = {
        ...newOutboxEntry(ctx, { destination: peer, kind: 'data', timestamp, content, messageKey: message.id }),
        ...(message.attachments?.length ? { uploads: uploadsForRetry(ctx, message) } : {}),
      };
      return this.requeue(message, timestamp, entry);
    });
    emit(ctx, { type: 'message-updated', message: updated });
    this.outbox.kick();
    return updated;
  }

  /**
   * Stores a failed outgoing message as sending again, at `timestamp` (its time index moved when that changed),
   * together with its new outbox entry, in one commit; returns the stored message. Callers hold the peer's or the
   * group's lock.
   */
  private async requeue(message: MessageEntry, timestamp: number, entry: OutboxEntry): Promise<MessageEntry> {
    const next: MessageEntry = { ...message, timestamp, status: 'sending', error: null };
    const index = (t: number): string => messageIndexKey(message.conversationId, message.authorAccountId, t);
    await this.platform.storage.commit([
      { op: 'put', table: 'messages', key: message.id, value: next },
      ...(timestamp !== message.timestamp
        ? [
            { op: 'delete' as const, table: 'messageIndex' as const, key: index(message.timestamp) },
            { op: 'put' as const, table: 'messageIndex' as const, key: index(timestamp), value: message.id },
          ]
        : []),
      putOutboxEntry(entry),
    ]);
    return next;
  }

  // ---- groups -----------------------------------------------------------------------------------------------

  /**
   * Creates a group (we are its admin) with members named by username or account id, and sends each of them its
   * state pairwise. Its conversation is `group:<id>`.
   */
  createGroup(title: string, members: string[]): Promise<GroupEntry> {
    return this.afterGroupChange(createGroup(this.ctx, title, members));
  }

  /** Adds members (admins only); they receive the current state, not the history. */
  addMembers(groupId: string, members: string[]): Promise<GroupEntry> {
    return this.afterGroupChange(addMembers(this.ctx, groupId, members));
  }

  /** Removes members (admins only); our sender key is rotated before our next message, as every member's is. */
  removeMembers(groupId: string, members: string[]): Promise<GroupEntry> {
    return this.afterGroupChange(removeMembers(this.ctx, groupId, members));
  }

  /** Leaves a group: the others are told and rotate their sender keys. */
  leaveGroup(groupId: string): Promise<GroupEntry> {
    return this.afterGroupChange(leaveGroup(this.ctx, groupId));
  }

  /** Renames a group (admins only). */
  setGroupTitle(groupId: string, title: string): Promise<GroupEntry> {
    return this.afterGroupChange(setGroupTitle(this.ctx, groupId, title));
  }

  /** Makes a member an admin (admins only). */
  makeAdmin(groupId: string, member: string): Promise<GroupEntry> {
    return this.afterGroupChange(makeAdmin(this.ctx, groupId, member));
  }

  /**
   * Sends a text to a group: stored with its outbox entry, then encrypted once with our sender key and sent in one
   * multi-recipient request (our key first goes pairwise to member devices that lack it).
   */
  async sendGroupText(groupId: string, text: string, options: { quote?: Quote } = {}): Promise<MessageEntry> {
    const message = await sendGroupText(this.ctx, groupId, text, options);
    this.outbox.kick();
    return message;
  }

  /**
   * Sends a photo, voice note or file (with an optional caption) to a group: uploaded once, its pointer sent to every
   * member in one sender-key message (as `sendAttachment` does for 1:1).
   */
  async sendGroupAttachment(groupId: string, attachment: OutgoingAttachment): Promise<MessageEntry> {
    const message = await sendGroupAttachment(this.ctx, groupId, attachment);
    this.outbox.kick();
    return message;
  }

  /**
   * What to call each member of a group (account id → name): nickname set here, else their profile name, else their
   * username, else the start of their account id; we are "You". Members whose profile key we hold (every group
   * message carries it) but whose profile is missing or older than an hour get it fetched in the background
   * (`contact-updated` follows).
   */
  async groupMemberNames(groupId: string): Promise<Record<string, string>> {
    const group = await getGroup(this.ctx, groupId);
    const names: Record<string, string> = {};
    for (const member of group?.members ?? []) {
      if (member.accountId === this.ctx.account.accountId) {
        names[member.accountId] = 'You';
        continue;
      }
      const contact = await this.platform.storage.get('contacts', member.accountId);
      names[member.accountId] = contactDisplayName(contact) ?? member.username ?? member.accountId.slice(0, 8);
      const stale =
        contact?.profileKey !== undefined &&
        (!contact.profile || this.platform.clock.now() - contact.profile.fetchedAt >= PROFILE_REFRESH_MS);
      if (stale && !this.profileFetches.has(member.accountId)) {
        this.profileFetches.add(member.accountId);
        void contactProfile(this.ctx, member.accountId)
          .catch(() => null)
          .finally(() => this.profileFetches.delete(member.accountId));
      }
    }
    return names;
  }

  /** The groups held here (those we left or were removed from have `active: false`). */
  listGroups(): Promise<GroupEntry[]> {
    return listGroups(this.ctx);
  }

  group(groupId: string): Promise<GroupEntry | undefined> {
    return getGroup(this.ctx, groupId);
  }

  /** How many multi-recipient requests this messenger made (one per group message send attempt). */
  get multiRecipientRequests(): number {
    return this.outbox.multiRequests;
  }

  private async afterGroupChange(change: Promise<GroupEntry>): Promise<GroupEntry> {
    const group = await change;
    this.outbox.kick();
    return group;
  }

  /** Queues a failed group message again (a new timestamp when the old one is a day old, as for 1:1). */
  private async retryGroupSend(message: MessageEntry): Promise<MessageEntry> {
    const ctx = this.ctx;
    const groupId = groupOf(message.conversationId) ?? '';
    const updated = await this.platform.locks.withLock(groupLock(groupId), async () => {
      const group = await this.platform.storage.get('groups', groupId);
      if (!group?.active) throw new ClientError(ClientErrorCode.InvalidInput, 'you are no longer in this group');
      const profile = await readMeta(this.platform.storage, 'profile');
      const stale = this.platform.clock.now() - message.timestamp >= OUTBOX_GIVE_UP_MS;
      const timestamp = stale ? ctx.timestamps.next() : message.timestamp;
      // An attachment whose upload was never created has no storage id yet: the uploader encodes the content.
      const uncreated = message.attachments?.some((a) => a.storageId === '') ?? false;
      const content = uncreated
        ? new Uint8Array(0)
        : encodeGroupMessage(
            { text: message.text, timestamp, quote: message.quote, attachments: message.attachments },
            group,
            profile?.username,
            (await readOwnProfile(ctx)).profileKey,
          );
      const entry = {
        ...newOutboxEntry(ctx, {
          destination: message.conversationId,
          kind: 'group',
          timestamp,
          content,
          messageKey: message.id,
        }),
        ...(message.attachments?.length ? { uploads: uploadsForRetry(ctx, message) } : {}),
      };
      return this.requeue(message, timestamp, entry);
    });
    emit(ctx, { type: 'message-updated', message: updated });
    this.outbox.kick();
    return updated;
  }

  /**
   * Delivers everything due in the outbox now, attachment uploads included (to their end, or to a failure that
   * leaves them queued); resolves when that is over.
   */
  async flushOutbox(): Promise<void> {
    await this.outbox.drain();
  }

  outboxSize(): Promise<number> {
    return this.outbox.size();
  }

  /** Marks a conversation (named by its id, or by the peer) read and sends read receipts for what was unread. */
  async markRead(peerOrConversation: string): Promise<number> {
    const ctx = this.ctx;
    const { storage } = this.platform;
    if (groupOf(peerOrConversation) !== null) return this.markGroupRead(groupIdOrThrow(peerOrConversation));
    if (peerOrConversation === NOTICES_CONVERSATION_ID) return this.markNoticesRead();
    const peer = await this.resolveCached(peerOrConversation);
    const conversationId = directConversationId(peer);
    const result = await this.platform.locks.withLock(peerLock(peer), async () => {
      const conversation = await ctx.history.conversation(conversationId);
      if (!conversation) return null;
      // Expired disappearing messages were never shown: no read receipt for them, and no event.
      const unread = (await storage.list('messages', { prefix: `${conversationId}/` })).filter(
        ({ value }) =>
          value.direction === 'incoming' &&
          !value.read &&
          value.status === 'received' &&
          !isExpired(value, this.platform.clock.now()),
      );
      const writes: WriteOp[] = unread.map(({ value }) => ({
        op: 'put',
        table: 'messages',
        key: value.id,
        value: { ...value, read: true },
      }));
      const updated: ConversationEntry = { ...conversation, unreadCount: 0 };
      writes.push(putConversation(updated));
      const timestamps = unread.map(({ value }) => value.timestamp);
      if (timestamps.length > 0) {
        // A message request gets no read receipts until accepted (they go out then: requests.ts); one's own other
        // devices still learn it was read.
        if (conversation.request !== true)
          writes.push(...(await mergeIntoOutbox(ctx, peer, 'receipt', timestamps, { receiptType: 'read' })));
        writes.push(readSyncEntry(ctx, { peerAccountId: peer, timestamp: Math.max(...timestamps) }));
      }
      await storage.commit(writes);
      return { updated, messages: unread.map(({ value }) => ({ ...value, read: true })) };
    });
    if (!result) return 0;
    for (const message of result.messages) emit(ctx, { type: 'message-updated', message });
    emit(ctx, { type: 'conversation-updated', conversation: result.updated });
    if (result.messages.length > 0) this.outbox.kick();
    return result.messages.length;
  }

  /** Marks every notice read here (notices get no read receipts: nobody answers them). */
  private async markNoticesRead(): Promise<number> {
    const ctx = this.ctx;
    const { storage } = this.platform;
    const conversation = await storage.get('conversations', NOTICES_CONVERSATION_ID);
    if (!conversation) return 0;
    const unread = (await storage.list('messages', { prefix: `${NOTICES_CONVERSATION_ID}/` }))
      .map(({ value }) => value)
      .filter((m) => m.direction === 'incoming' && !m.read);
    const updated: ConversationEntry = { ...conversation, unreadCount: 0 };
    const messages = unread.map((m) => ({ ...m, read: true }));
    await storage.commit([
      ...messages.map((m) => ({ op: 'put' as const, table: 'messages' as const, key: m.id, value: m })),
      putConversation(updated),
    ]);
    for (const message of messages) emit(ctx, { type: 'message-updated', message });
    emit(ctx, { type: 'conversation-updated', conversation: updated });
    return messages.length;
  }

  // ---- organization (organization.ts, notices.ts) ---------------------------------------------------------------

  /** The organization as this device sees it: pinned key, believed roles, and the admin calls. */
  get organization(): Organization {
    return new Organization(this.ctx);
  }

  /**
   * Sends an organization notice to every member (admins and the owner only: `not_admin` otherwise) and waits until
   * the outbox has tried every recipient. Returns the notice as stored here and how many members it went to.
   */
  async sendNotice(text: string): Promise<{ message: MessageEntry; recipients: number }> {
    const sent = await sendNotice(this.ctx, this.organization, text);
    this.outbox.kick();
    return sent;
  }

  // ---- message requests and the block list (requests.ts) ------------------------------------------------------

  /**
   * Whether the user accepted this peer (a contact: username, account id or direct conversation id) or this group
   * conversation. Read receipts, typing indicators and the profile are shared only when it is true.
   */
  isAccepted(peerOrConversation: string): Promise<boolean> {
    return isAccepted(this.ctx, peerOrConversation);
  }

  /** Conversations that are message requests waiting for an answer (not those of blocked peers), newest first. */
  requests(): Promise<ConversationEntry[]> {
    return pendingRequests(this.ctx);
  }

  /** Accepts a message request (a peer or a group conversation); the read receipts held back go out. */
  async accept(peerOrConversation: string): Promise<ConversationEntry> {
    const conversation = await acceptConversation(this.ctx, peerOrConversation);
    await queueConversationSync(this.ctx, [conversation.id]);
    // Accepting a blocked peer unblocks them.
    if (conversation.kind !== 'group') await queueContactSync(this.ctx, [conversation.peerAccountId]);
    this.outbox.kick();
    return conversation;
  }

  /** Puts a peer on the block list: their messages are dropped unseen, nothing is sent to them. */
  async block(peer: string): Promise<boolean> {
    const changed = await blockPeer(this.ctx, peer);
    if (changed) await this.syncing(async () => queueContactSync(this.ctx, [await this.resolveCached(peer)]));
    return changed;
  }

  /** Takes a peer off the block list. */
  async unblock(peer: string): Promise<boolean> {
    const changed = await unblockPeer(this.ctx, peer);
    if (changed) await this.syncing(async () => queueContactSync(this.ctx, [await this.resolveCached(peer)]));
    return changed;
  }

  /**
   * Mutes, pins or archives a conversation (chat-preferences.ts; `limit` when MAX_PINNED are pinned) and tells the
   * account's other devices.
   */
  async setChatPreference(conversationId: string, change: ChatPreferencesChange): Promise<'ok' | 'limit'> {
    const { storage, locks, clock } = this.platform;
    const result = await changeChatPreferences(storage, locks, conversationId, change, clock.now());
    if (result === 'ok') await this.syncing(() => queueConversationSync(this.ctx, [conversationId]));
    return result;
  }

  /** Tells the account's other devices a conversation's current settings (after a change made here directly). */
  async syncConversationSettings(conversationId: string): Promise<void> {
    await this.syncing(() => queueConversationSync(this.ctx, [conversationId]));
  }

  /**
   * Sends everything this device holds (contacts, conversations and their settings, groups, the profile key) to
   * the account's other devices, for one that missed syncs; a newly linked device gets it by itself.
   */
  async syncDevices(): Promise<void> {
    await this.platform.storage.commit(await fullSyncWrites(this.ctx));
    this.outbox.kick();
  }

  /** Queues a sync after a local change and starts sending it; a failure to queue never undoes the change. */
  private async syncing(queue: () => Promise<void>): Promise<void> {
    try {
      await queue();
    } catch (error) {
      this.platform.logger.warn('could not queue a sync', { error: error instanceof Error ? error.name : 'unknown' });
      return;
    }
    this.outbox.kick();
  }

  /** The block list, most recently blocked first. */
  blocked(): Promise<BlockedPeer[]> {
    return blockedPeers(this.ctx);
  }

  /** Deletes a conversation with its history on this device (a group is left first). */
  async deleteConversation(peerOrConversation: string): Promise<boolean> {
    const id = await conversationIdOf(this.ctx, peerOrConversation);
    const deleted = await deleteConversation(this.ctx, peerOrConversation);
    if (deleted) await queueConversationSync(this.ctx, [id]);
    this.outbox.kick();
    return deleted;
  }

  /**
   * Searches conversations (by name or username) and messages on this device, in memory over decrypted rows: no
   * index is stored (search.ts). Newest messages first.
   */
  search(query: string, options: { limit?: number } = {}): Promise<SearchResult[]> {
    return searchLocal(this.ctx, query, options);
  }

  /** Marks a group conversation read here, and tells each author which of their messages were read. */
  private async markGroupRead(groupId: string): Promise<number> {
    const ctx = this.ctx;
    const { storage } = this.platform;
    const conversationId = groupConversationId(groupId);
    const result = await this.platform.locks.withLock(groupLock(groupId), async () => {
      const conversation = await ctx.history.conversation(conversationId);
      if (!conversation) return null;
      const unread = (await storage.list('messages', { prefix: `${conversationId}/` })).filter(
        ({ value }) => value.direction === 'incoming' && !value.read,
      );
      const updated: ConversationEntry = { ...conversation, unreadCount: 0 };
      await storage.commit([
        ...unread.map(({ value }): WriteOp => ({
          op: 'put',
          table: 'messages',
          key: value.id,
          value: { ...value, read: true },
        })),
        putConversation(updated),
        ...(unread.length > 0
          ? [
              readSyncEntry(ctx, {
                groupId: fromHex(groupId),
                timestamp: Math.max(...unread.map(({ value }) => value.timestamp)),
              }),
            ]
          : []),
      ]);
      return {
        updated,
        messages: unread.map(({ value }) => ({ ...value, read: true })),
        // A group we were invited to and have not accepted gets no read receipts (as a 1:1 request).
        receipted: conversation.request === true ? [] : unread.map(({ value }) => value),
      };
    });
    if (!result) return 0;
    // Read receipts go 1:1 to each message's author (as Signal does), under that author's lock (taken after the
    // group's is released: a peer lock is never taken inside a group lock). A crash in between loses only receipts.
    const byAuthor = new Map<string, number[]>();
    for (const message of result.receipted)
      if (
        message.status === 'received' &&
        message.authorAccountId !== ctx.account.accountId &&
        !isExpired(message, this.platform.clock.now())
      )
        byAuthor.set(message.authorAccountId, [...(byAuthor.get(message.authorAccountId) ?? []), message.timestamp]);
    for (const [author, timestamps] of byAuthor)
      await this.platform.locks.withLock(peerLock(author), async () =>
        storage.commit(await mergeIntoOutbox(ctx, author, 'receipt', timestamps, { receiptType: 'read' })),
      );
    for (const message of result.messages) emit(ctx, { type: 'message-updated', message });
    emit(ctx, { type: 'conversation-updated', conversation: result.updated });
    if (result.messages.length > 0) this.outbox.kick();
    return result.messages.length;
  }

  /** Tells the peer that the user started or stopped typing: best effort, never queued, only with sessions in place. */
  async sendTyping(peer: string, action: 'started' | 'stopped'): Promise<boolean> {
    // Nothing tells a stranger (or a blocked peer) that the user is looking at their message.
    if (!(await isAccepted(this.ctx, peer))) return false;
    const groupId = groupOf(peer) !== null ? groupIdOrThrow(peer) : null;
    if (groupId !== null) {
      // In a group: once, with our sender key, to every member (never queued; see GroupSender.sendEphemeral).
      const group = await this.platform.storage.get('groups', groupId);
      if (!group?.active) return false;
      const timestamp = this.ctx.timestamps.next();
      const content = encodeContent({
        kind: 'typing',
        typing: { timestamp, action, group: { id: fromHex(groupId), revision: group.revision } },
      });
      return this.outbox.groups.sendEphemeral(groupId, content, timestamp);
    }
    return sendTyping(this.ctx, peer, action);
  }

  // ---- history ----------------------------------------------------------------------------------------------

  conversations(): Promise<ConversationEntry[]> {
    return this.ctx.history.conversations();
  }

  /** A conversation's messages, newest first; the conversation is named by its id or by the peer. */
  async messages(peerOrConversation: string, options: { limit?: number; before?: string } = {}): Promise<MessagePage> {
    if (groupOf(peerOrConversation) !== null)
      return this.ctx.history.messages(groupConversationId(groupIdOrThrow(peerOrConversation)), options);
    if (peerOrConversation === NOTICES_CONVERSATION_ID)
      return this.ctx.history.messages(NOTICES_CONVERSATION_ID, options);
    const peer = await this.resolveCached(peerOrConversation);
    return this.ctx.history.messages(directConversationId(peer), options);
  }

  message(id: string): Promise<MessageEntry | undefined> {
    return this.ctx.history.message(id);
  }

  /** Saves the unsent text of a conversation (blank: removes it), sealed at rest like every row. */
  setDraft(conversationId: string, text: string): Promise<void> {
    return saveDraft(this.platform.storage, conversationId, text);
  }

  /** The unsent text of a conversation, or the empty string. */
  draft(conversationId: string): Promise<string> {
    return readDraft(this.platform.storage, conversationId);
  }

  /** The peer's identity state and safety number (null until a session was made or a key fetched). */
  identity(peer: string): Promise<ContactIdentity> {
    return contactIdentity(this.ctx, peer);
  }

  /** The 60-digit safety number shared with a peer. */
  safetyNumber(peer: string): Promise<SafetyNumber> {
    return safetyNumberWith(this.ctx, peer);
  }

  /**
   * Marks the peer's identity key verified — the key whose safety number is `expected`, the 60 digits the user
   * compared; see contacts.ts verifyContact. Throws SafetyNumberMismatchError (and changes nothing) on any difference.
   */
  async verify(peer: string, expected: string): Promise<ContactIdentity> {
    const identity = await verifyContact(this.ctx, peer, expected);
    await this.syncing(() => queueContactSync(this.ctx, [identity.accountId]));
    return identity;
  }

  /** Forgets every session with a peer (they are rebuilt from fresh bundles on the next send). */
  resetSessions(peer: string): Promise<void> {
    return resetSessions(this.ctx, peer);
  }
}
