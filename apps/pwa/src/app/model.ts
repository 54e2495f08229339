/**
 * What the UI can see and do: plain view data, the app shell `CoveApp` (shared state) and one view-model interface
 * per screen, implemented in app-shell.ts and view-models/. The UI imports only these types, so it never touches
 * storage, crypto or browser APIs. Types only.
 */
import type { EmojiEntry, EmojiSource, RecordedVoice, RecordingFailure, VoiceRecording } from './app-platform.js';

export type { EmojiEntry, EmojiSource, RecordedVoice, RecordingFailure, VoiceRecording };

export type MessageStatus = 'sending' | 'sent' | 'delivered' | 'read' | 'failed';

/** Why an outgoing message failed, for the reasons the user can act on; anything else shows the plain retry. */
export type FailureReason = 'queue_full' | 'identity_changed' | 'unknown_user' | 'too_long' | 'rate_limited';

/** What a message mainly is, for its bubble (`data-kind`) and for previews. */
export type MessageKind = 'text' | 'image' | 'voice' | 'file';

/**
 * Why an attachment could not be sent, downloaded or opened: the server's limits (`too_large`: 413
 * attachment_too_large, `quota`: 507 attachment_quota, `rate_limited`), no connection, a blob failing its digest
 * check (`unverified`), gone from the server (`unavailable`), or anything else.
 */
export type AttachmentFailure =
  'too_large' | 'quota' | 'rate_limited' | 'network' | 'unverified' | 'unavailable' | 'unsupported' | 'other';

/** One attachment as the chat shows it; every value bounded, whatever the pointer said. */
export type AttachmentView = {
  index: number;
  /** How it is shown: a photo the chat renders itself, a voice note, or a file card. */
  kind: Exclude<MessageKind, 'text'>;
  /** The pointer's content type, lower case, at most 100 characters (`application/octet-stream` when unusable). */
  contentType: string;
  /** Shown (never used as a URL): the name the sender gave, or null. */
  fileName: string | null;
  /** Plain size in bytes. */
  size: number;
  /** Pixels, when given and sensible (1–65,535). */
  width: number | null;
  height: number | null;
  /** The sender's thumbnail as a `data:` URL, only when its bytes are a JPEG, PNG or WebP. */
  thumbnail: string | null;
  voiceNote: boolean;
  durationMs: number | null;
  waveform: Uint8Array | null;
  caption: string | null;
  /** `remote`: not on this device yet; `local`: downloaded and verified; `failed`: see `error`. */
  state: 'remote' | 'local' | 'failed';
  error: 'unverified' | 'unavailable' | null;
  /** Small enough to fetch without asking (the core's auto-download threshold). */
  autoDownload: boolean;
};

/** Bytes of an attachment moved so far (ciphertext), while an upload or download runs. */
export type AttachmentProgress = { direction: 'upload' | 'download'; sent: number; total: number };

/** A file the user picked, dropped or pasted, ready to send (photos already re-encoded without metadata). */
export type OutgoingFile = {
  blob: Blob;
  contentType: string;
  fileName: string | null;
  caption?: string;
  width?: number;
  height?: number;
  thumbnail?: Uint8Array;
  voiceNote?: boolean;
  durationMs?: number;
  waveform?: Uint8Array;
};

export type ChatMessage = {
  id: string;
  conversationId: string;
  outgoing: boolean;
  text: string;
  /** When it was sent (sender's clock), ms since the epoch; null when the stored value names no date. */
  sentAt: number | null;
  /** Outgoing messages only. */
  status?: MessageStatus;
  /** An incoming message that could not be decrypted (the session is being repaired). */
  undecryptable?: boolean;
  /** The stored message has no text the app can show (a malformed record); a placeholder is shown instead. */
  unshowable?: boolean;
  /** A disappearing message: when it disappears (ms since the epoch). */
  expiresAt?: number;
  /** A failed outgoing message: the reason, when it is one the user can act on. */
  failure?: FailureReason;
  /** Reactions grouped by emoji, with whether one of them is the user's own (absent: none). */
  reactions?: ReactionCount[];
  /** Edited: the earlier texts, oldest first (absent: never edited). */
  edits?: { text: string; at: number | null }[];
  /** Deleted for everyone: a placeholder without text. */
  deleted?: boolean;
  /** The message this one replies to, as quoted in it. */
  quote?: QuotedMessage;
  /** Has files or a voice note (forwarding and editing do not apply). */
  hasAttachments?: boolean;
  /** `text` unless it carries an attachment (then the first one's kind). */
  kind: MessageKind;
  /** Photos, voice notes and files (the caption is `text`). */
  attachments?: AttachmentView[];
  /** A voice note (the message's first attachment with the voice flag). */
  voice?: VoiceNote;
  /** Who wrote an incoming message (account id), so consecutive bubbles group per sender (also in groups). */
  author?: string;
  /** Group messages from someone else: who wrote it (the chat shows the name in the member's colour). */
  sender?: MessageSender;
  /**
   * A system line instead of a message, rendered in the UI's language: a group change ("Ann added Ben") or, in any
   * conversation, the disappearing-message timer set or turned off.
   */
  system?: SystemLine;
};

/** The author of a group message: account id (for the stable colour) and the name shown. */
export type MessageSender = { accountId: string; name: string };

/**
 * One change to a conversation, as its system line says it (the core stores both as a GroupChange): a group change,
 * or a timer change (`timer`, `expireTimerSeconds` null when turned off) in a group or a direct conversation. Names
 * are display names; `actor` is null when it was the user (in a direct conversation the chat names the peer).
 */
export type SystemLine = {
  kind: 'created' | 'added' | 'removed' | 'left' | 'title' | 'admin' | 'timer' | 'description';
  actor: string | null;
  members: string[];
  title: string | null;
  expireTimerSeconds: number | null;
};

/** A group member as the group info lists it. */
export type GroupMemberView = { accountId: string; name: string; role: 'admin' | 'member'; me: boolean };

/** A group as its info screen shows it. */
export type GroupInfoView = {
  conversationId: string;
  title: string;
  members: GroupMemberView[];
  /** The user is an admin (may add, remove, promote, rename). */
  admin: boolean;
  /** The user is still a member (false once left or removed). */
  active: boolean;
};

/** Why a group action failed, for the user: a name the server does not know, no network, or not allowed. */
export type GroupFailure = 'unknown' | 'self' | 'network' | 'forbidden' | 'invalid';

export type GroupActionResult = { ok: true } | { ok: false; error: GroupFailure };

/** A voice note as the player shows it. */
export type VoiceNote = {
  /** Index of the attachment in the message. */
  index: number;
  /** From the pointer; null when the sender gave none (the player then reads it from the audio). */
  durationMs: number | null;
  /** Loudness bars, 0–255 each; empty when the sender gave none. */
  waveform: readonly number[];
  contentType: string;
  /** `remote` (not downloaded yet), `local` (playable) or `failed` (could not be verified or fetched). */
  state: 'remote' | 'local' | 'failed';
};

export type ReactionCount = { emoji: string; count: number; mine: boolean };

/** A quote inside a reply: the quoted text, whether the user wrote it, and the original's send time. */
export type QuotedMessage = { text: string; byMe: boolean; sentAt: number | null };

/** When a message was sent and, for one's own, delivered and read (message info). */
export type MessageInfoView = {
  sentAt: number | null;
  serverAt: number | null;
  editedAt: number | null;
  recipients: { name: string; deliveredAt: number | null; readAt: number | null }[];
};

export type ConversationSummary = {
  id: string;
  /** The contact's nickname here, else their profile name, else their username (docs/profiles.md). */
  title: string;
  /** Their profile avatar (image bytes, decrypted), when they have one. */
  avatar?: Uint8Array;
  lastMessage?: {
    text: string;
    kind: MessageKind;
    /** The file's name, for a file message (the list shows it like a notification does). */
    fileName?: string | null;
    at: number | null;
    outgoing: boolean;
    status?: MessageStatus;
    undecryptable?: boolean;
    unshowable?: boolean;
    /** Group messages from someone else: the sender's name (the list prefixes it). */
    sender?: string;
    /** The last message is a system line (group change or timer): the list renders it in the UI's language. */
    system?: SystemLine;
  };
  unread: number;
  /** A group conversation (no safety number; the header opens the group info). */
  group?: boolean;
  /**
   * The organization's notices (docs/organizations.md): read-only (nobody replies), always first in the list, its
   * title translated by the UI; each message names the administrator who sent it.
   */
  notices?: true;
  /** A group the user left or was removed from: history stays readable, nothing can be sent. */
  inactive?: boolean;
  /** Direct conversations: the disappearing-message timer in seconds; absent when off. */
  expireTimerSeconds?: number;
  updatedAt: number;
  /** Text typed but not sent yet (the list shows "Draft: …"); absent when there is none. */
  draft?: string;
  /** The contact's identity key changed and has not been verified since. */
  identityChanged: boolean;
  verified: boolean;
  /** Muted (no notification, not in the unread badge): until when (ms since the epoch; `MUTED_FOREVER` for good). */
  mutedUntil?: number;
  /** Pinned to the top of the list (at most `MAX_PINNED`, in the order pinned). */
  pinned?: true;
  /** In the Archived folder. */
  archived?: true;
  /** A message request: someone who is not a contact wrote first; answered with accept, block or delete. */
  request: boolean;
  /** The peer is on the block list (the list hides the conversation; settings lists it). */
  blocked: boolean;
};

/** How long a mute lasts (Signal's choices). */
export type MuteDuration = '1h' | '8h' | '1w' | 'always';

/** The colour theme: the system's setting, or the user's choice. */
export type ThemeChoice = 'system' | 'light' | 'dark';

/** Who may send the account sealed messages (sealed sender): anyone, or only contacts holding its profile key. */
export type SealedSenderChoice = 'anyone' | 'contacts';

/** What logging out or deleting the account came to; `network`: the server could not be reached, nothing changed. */
export type AccountActionResult =
  { ok: true } | { ok: false; error: 'network' | 'not-primary' | 'wrong-confirmation' | 'other' };

/** One search hit: a conversation by its name, or a message with an excerpt (matched parts marked). */
export type SearchHit = {
  kind: 'conversation' | 'message';
  conversationId: string;
  /** The message's key; absent for a conversation hit. */
  messageId?: string;
  /** The conversation's name, with the matched parts for a conversation hit. */
  title: string;
  titleParts: { text: string; match: boolean }[];
  snippet: { text: string; match: boolean }[];
  at: number | null;
  outgoing: boolean;
};

/** A blocked person as settings lists them. */
export type BlockedContact = { accountId: string; name: string };

/** The pinned organization key's fingerprint, whether the server now presents another, and our certified role. */
export type OrganizationView = {
  fingerprint: string;
  keyChanged: boolean;
  presentedFingerprint: string | null;
  role: 'owner' | 'admin' | 'member';
};

export type SafetyInfo = {
  title: string;
  /** The 60 digits. */
  digits: string;
  /** What the QR code encodes (the other side scans and compares it). */
  qrPayload: string;
  verified: boolean;
  identityChanged: boolean;
};

export type Settings = {
  /** Language code chosen by the user, or null to follow the browser. */
  language: string | null;
  /** Show sender and text in notifications. */
  previews: boolean;
};

export type ServerInfo = {
  name: string;
  registration: 'open' | 'invite' | 'sso';
  /** Under single sign-on: what the sign-in button names (the organization or its identity provider). */
  ssoName: string | null;
  vapidPublicKey: string | null;
};

/** What the server's single sign-on callback handed back in the URL fragment (read once, then removed). */
export type SsoReturn =
  { kind: 'token'; token: string; username: string; existing: boolean } | { kind: 'error'; code: string };

/**
 * Single sign-on on the onboarding screen: registering with a fresh token; linking (this person has an account: an
 * existing device approves this browser); or why it failed (`expired`, `denied`, `not-allowed`, `provider` from the
 * server; `used` when the token was refused; `exists`, `network`, `other`).
 */
export type SsoOnboarding =
  | { state: 'registering'; username: string }
  | { state: 'link'; username: string }
  | { state: 'error'; reason: SsoFailure };

export type SsoFailure = 'expired' | 'denied' | 'not-allowed' | 'provider' | 'used' | 'exists' | 'network' | 'other';

export type Phase =
  | { kind: 'loading' }
  | { kind: 'locked' }
  | { kind: 'onboarding'; info: ServerInfo | null; offline: boolean; sso?: SsoOnboarding }
  | { kind: 'ready'; username: string }
  /** The account's primary device removed this one (socket closed 4004): it may wipe its data. */
  | { kind: 'removed' }
  /** Starting failed (storage unreadable, an unexpected error): the app shows an error screen. */
  | { kind: 'failed' };

/** The link to the server as the core sees it: `unknown` until the tab holding the connection has said anything. */
export type ServerLink = 'unknown' | 'online' | 'connecting' | 'unreachable' | 'signed-out' | 'removed';

/** What the connection indicator shows; null when there is nothing to say (online). */
export type ConnectionStatus = 'offline' | 'connecting' | 'unreachable' | 'signed-out' | null;

export type AppState = {
  phase: Phase;
  /** The browser says it has a network. */
  online: boolean;
  /** The link to the server as the tab holding the connection sees it (shared with the other tabs). */
  server: ServerLink;
  /** What the connection indicator says, from the two above (server-link.ts). */
  connection: ConnectionStatus;
  /** A new version of the app is installed and waiting. */
  updateReady: boolean;
  /**
   * Another device joined this account (linked by QR, or logged in with the password) while this one ran: its device
   * id, shown until dismissed (if it was not the user, they remove it and change the password).
   */
  deviceAdded?: number | null;
  /** Bumped whenever conversations or messages change, so views reload. */
  revision: number;
  /** Conversation ids with the contact typing right now. */
  typing: ReadonlySet<string>;
  /** Who is typing there (account id), where known: a group chat says "Ann is typing…". */
  typingBy?: ReadonlyMap<string, string>;
  settings: Settings;
  /** The colour theme chosen on this device (shared by its tabs). */
  theme: ThemeChoice;
  passphraseSet: boolean;
  notifications: 'default' | 'granted' | 'denied' | 'unsupported';
  /** Whether notifications can work at all here; when not, the UI says why instead of offering a permission. */
  push: 'supported' | 'needs-home-screen' | 'unsupported';
  persisted: boolean | null;
  /** Attachments moving right now, by `<message id>#<index>`. */
  progress: ReadonlyMap<string, AttachmentProgress>;
};

/** One device of the account as Settings lists it (times in ms; `current`: this browser; `primary`: device 1). */
export type DeviceView = {
  deviceId: number;
  /** The name it gave itself, decrypted here (null: none). */
  name: string | null;
  createdAt: number;
  lastActiveAt: number;
  current: boolean;
  primary: boolean;
};

/** A pasted or scanned link URI: well formed (its normalised text and the code the new device shows), or why not. */
export type LinkUriCheck =
  { ok: true; uri: string; code: string } | { ok: false; error: 'empty' | 'not-link' | 'malformed' };

/**
 * Sending this account to a new device: done, or why not (the URI is no link, the new device stopped waiting, this
 * device is not the primary, no network, anything else).
 */
export type AddDeviceResult =
  { ok: true } | { ok: false; error: 'invalid' | 'expired' | 'not-primary' | 'network' | 'other' };

export type RemoveDeviceResult = { ok: true } | { ok: false; error: 'not-primary' | 'network' | 'other' };

/**
 * Linking this browser to an existing account: done, or why not (the code expired unused, the message that came did
 * not open or was refused, the account has all its devices, no network, cancelled by the user, anything else).
 */
export type LinkResult =
  | {
      ok: true;
      /**
       * Set when history came with the account: the screen shows how the transfer ended and calls this to open the
       * app (the account is stored already; a reload opens it too).
       */
      open?: () => void;
    }
  | { ok: false; error: 'expired' | 'refused' | 'limit' | 'network' | 'cancelled' | 'sso' | 'other' };

/**
 * A history transfer while linking (docs/linking.md), on either screen: the phase, how far it is in percent, and at
 * the end how many messages were imported (new device) or sent (existing device), and on the new device how many
 * notices were left out because their certificate did not prove an administrator here (absent when none).
 */
export type HistoryProgressView = {
  phase: 'preparing' | 'uploading' | 'downloading' | 'importing' | 'done' | 'failed';
  percent: number;
  messages?: number;
  droppedNotices?: number;
};

export type RegisterResult =
  { ok: true } | { ok: false; error: 'taken' | 'invalid' | 'invite' | 'network' | 'password' | 'other' };

/** Logging in with username and password: wrong (or unknown, alike), too many tries, or no network. */
export type LoginResult = { ok: true } | { ok: false; error: 'wrong' | 'throttled' | 'invalid' | 'network' | 'other' };

/** Setting or removing the password: done, too short (or long), or the server was not reached. */
export type PasswordResult = 'saved' | 'invalid' | 'network';

export type StartChatResult =
  { ok: true; conversationId: string } | { ok: false; error: 'unknown' | 'self' | 'network' };

/** Creating groups, their info screen and the admins' changes; every call re-checks with the core. */
export interface GroupScreen {
  /** Checks that a username exists on the server (for the new-group member chips); the canonical name when it does. */
  checkMember(username: string): Promise<{ ok: true; username: string } | { ok: false; error: GroupFailure }>;
  create(
    title: string,
    usernames: string[],
  ): Promise<{ ok: true; conversationId: string } | { ok: false; error: GroupFailure }>;
  info(conversationId: string): Promise<GroupInfoView | undefined>;
  add(conversationId: string, usernames: string[]): Promise<GroupActionResult>;
  remove(conversationId: string, accountId: string): Promise<GroupActionResult>;
  makeAdmin(conversationId: string, accountId: string): Promise<GroupActionResult>;
  rename(conversationId: string, title: string): Promise<GroupActionResult>;
  leave(conversationId: string): Promise<GroupActionResult>;
}

/** A member the organization directory found (`ORG_DIRECTORY`). */
export type DirectoryMatch = { accountId: string; username: string };

/** The conversation list and the new-chat dialog. */
export interface ListScreen {
  /** Every conversation, most recent activity first. */
  conversations(): Promise<ConversationSummary[]>;
  startChat(username: string): Promise<StartChatResult>;
  /** Organization directory matches for a username prefix; null when the server has the directory off. */
  searchDirectory(query: string): Promise<DirectoryMatch[] | null>;
  /** Mutes a conversation for a while or for good; null unmutes. */
  mute(conversationId: string, duration: MuteDuration | null): Promise<void>;
  /** Pins or unpins; `limit` when `MAX_PINNED` conversations are pinned already. */
  pin(conversationId: string, pinned: boolean): Promise<'ok' | 'limit'>;
  /** Moves a conversation into the Archived folder or back. */
  archive(conversationId: string, archived: boolean): Promise<void>;
  /** Searches conversations and messages on this device (needs the core; nothing is indexed at rest). */
  search(query: string): Promise<SearchHit[]>;
}

/** One open conversation. */
export interface ChatScreen {
  conversation(id: string): Promise<ConversationSummary | undefined>;
  /** Newest first, `limit` at most, older than `before` (a message id) when given. */
  messages(conversationId: string, options: { before?: string; limit: number }): Promise<ChatMessage[]>;
  send(conversationId: string, text: string): Promise<void>;
  retry(conversationId: string, messageId: string): Promise<void>;
  /** Sends files one message each, in order; stops at and returns the first refusal (nothing of it is stored). */
  sendFiles(conversationId: string, files: readonly OutgoingFile[]): Promise<AttachmentFailure | null>;
  /** Whether a picked file is a photo the preview should re-encode. */
  isImage(type: string): boolean;
  /** Re-encodes a photo without metadata for the preview sheet; null when it cannot be decoded (sent as a file). */
  prepareImage(file: Blob): Promise<PreparedImageView | null>;
  /** Downloads and verifies an attachment; null when done. */
  download(messageId: string, index: number): Promise<AttachmentFailure | null>;
  /** The verified plaintext of a downloaded attachment (a safe type for images, octet-stream for files). */
  open(messageId: string, index: number, purpose: 'view' | 'save'): Promise<Blob | AttachmentFailure>;
  markRead(conversationId: string): Promise<void>;
  setTyping(conversationId: string, typing: boolean): void;
  /** Replies to a message: sends `text` quoting it. */
  reply(conversationId: string, messageId: string, text: string): Promise<void>;
  /** Sets (or with `remove`, takes away) the user's reaction to a message. */
  react(messageId: string, emoji: string, remove: boolean): Promise<void>;
  edit(messageId: string, text: string): Promise<void>;
  deleteForMe(messageId: string): Promise<void>;
  deleteForEveryone(messageId: string): Promise<void>;
  forward(messageId: string, toConversationId: string): Promise<void>;
  info(messageId: string): Promise<MessageInfoView | null>;
  /** Copies a message's text; false when the browser refused. */
  copy(text: string): Promise<boolean>;
  /** Whether the user may still edit or delete this message for everyone (own, not deleted, within 24 hours). */
  canModify(message: ChatMessage): boolean;
  /** Message requests: accept (read receipts held back go out), block the sender, or delete with its history. */
  accept(conversationId: string): Promise<void>;
  block(conversationId: string): Promise<void>;
  deleteConversation(conversationId: string): Promise<void>;
  /** Sets a direct conversation's disappearing-message timer (seconds; null turns it off) on both sides. */
  setTimer(conversationId: string, seconds: number | null): Promise<void>;
  /** The conversation's unsent text ('' when none). */
  draft(conversationId: string): Promise<string>;
  /** Keeps the unsent text (sealed at rest like every row; blank removes it). */
  saveDraft(conversationId: string, text: string): Promise<void>;
}

/** Recording, sending and playing voice notes. */
export interface VoiceScreen {
  /** Whether this browser can record (a microphone API and a recording format). */
  canRecord(): boolean;
  /** Must follow a tap. */
  startRecording(): Promise<VoiceRecording | RecordingFailure>;
  /** Sends the recording as a voice note; null when stored for sending, or why it was refused. */
  send(conversationId: string, recording: RecordedVoice): Promise<AttachmentFailure | null>;
  /** A playable URL of a voice note's audio (downloading and verifying it first), and its release. */
  open(messageId: string, index: number, contentType: string): Promise<{ url: string; revoke: () => void }>;
  /** Whether it was played on this device since the app started, and marking it. */
  played(messageId: string): boolean;
  markPlayed(messageId: string): void;
}

/** A photo prepared for sending, as the preview shows it. */
export type PreparedImageView = {
  blob: Blob;
  contentType: string;
  width: number;
  height: number;
  thumbnail: Uint8Array;
};

/** A contact's safety number: show, compare (camera or paste), mark verified. */
export interface ContactScreen {
  safety(conversationId: string): Promise<SafetyInfo>;
  /** True when the scanned or pasted text matches this conversation's safety number. */
  compareSafety(conversationId: string, scanned: string): Promise<boolean>;
  /**
   * Marks the contact verified, passing the digits the user was shown: `changed` (and nothing marked) when the
   * safety number is no longer those digits.
   */
  markVerified(conversationId: string, digitsShown: string): Promise<'verified' | 'changed'>;
  /** Camera QR scanning, when the device has a camera. */
  canScan(): boolean;
  scanQr(video: HTMLVideoElement, signal: AbortSignal): Promise<string | null>;
  /** The nickname set on this device for the contact (null: none). */
  nickname(conversationId: string): Promise<string | null>;
  /** Sets (or with an empty text removes) the nickname; `invalid` when too long or with control characters. */
  setNickname(conversationId: string, nickname: string): Promise<'saved' | 'invalid'>;
}

/** Asking the browser for what the app works better with; both must follow a tap. */
export interface PermissionRequests {
  requestPersistence(): Promise<boolean>;
  enableNotifications(): Promise<AppState['notifications']>;
}

/** This account's profile as the settings screen edits it. */
export type ProfileForm = { name: string; about: string; avatar: Uint8Array | null };
export type ProfileSaveResult = 'saved' | 'invalid' | 'network' | 'bad-image';

export interface SettingsScreen extends PermissionRequests {
  /** The profile (name, about, avatar) as stored on this device. */
  profile(): Promise<ProfileForm>;
  /** Saves name and about, and the avatar when `avatarFile` is given (cropped to a square, metadata gone). */
  saveProfile(fields: { name: string; about: string }, avatarFile?: Blob | null): Promise<ProfileSaveResult>;
  /** Shortest passphrase the vault accepts, in characters. */
  readonly minPassphraseLength: number;
  setLanguage(language: string | null): Promise<void>;
  setPreviews(previews: boolean): Promise<void>;
  setPassphrase(passphrase: string): Promise<void>;
  removePassphrase(passphrase: string): Promise<boolean>;
  /** Re-seals the vault's keys under `next` after checking `current`; false when `current` is wrong. */
  changePassphrase(current: string, next: string): Promise<boolean>;
  /** Forgets the keys in every tab of this browser (they show the lock screen); only with a passphrase set. */
  lockNow(): void;
  setTheme(theme: ThemeChoice): void;
  /**
   * Signs this device out (a linked device is removed from the account; the primary keeps the account on the server
   * but forgets its push subscription) and wipes this browser's data in every tab.
   */
  logout(): Promise<AccountActionResult>;
  /** Deletes the account on the server (`confirmation` must be the username) and wipes this browser's data. */
  deleteAccount(confirmation: string): Promise<AccountActionResult>;
  /**
   * Who may send the account sealed messages, as this device last saw it; with `refresh`, read from the server first
   * (another device may have changed it; unreachable: the one seen here).
   */
  sealedSender(refresh?: boolean): Promise<SealedSenderChoice>;
  /** Changes it on the server, for every device of the account; false when the server could not be reached. */
  setSealedSender(choice: SealedSenderChoice): Promise<boolean>;
  /** The block list, most recently blocked first, and taking someone off it. */
  blocked(): Promise<BlockedContact[]>;
  unblock(accountId: string): Promise<void>;
  /** The organization key's fingerprint and our certified role (null when the server has no organization). */
  organization(): Promise<OrganizationView | null>;
  /** The account's password: whether one is set (null: unknown, offline), set or change it, remove it. */
  hasPassword(): Promise<boolean | null>;
  setPassword(password: string): Promise<PasswordResult>;
  removePassword(): Promise<PasswordResult>;
  /** This account's devices, oldest first; rejects when the server cannot be asked. */
  devices(): Promise<DeviceView[]>;
  /** Checks a pasted or scanned link URI before anything is sent. */
  checkLinkUri(text: string): LinkUriCheck;
  /**
   * Primary only, after the user confirmed: sends this account to the device waiting behind `uri`, with recent
   * history when the user ticked it (progress reported while it is built and uploaded).
   */
  addDevice(
    uri: string,
    options?: { history: boolean; onHistoryProgress?: (progress: HistoryProgressView) => void },
  ): Promise<AddDeviceResult>;
  /** Primary only, after the user confirmed: removes another device (its socket closes, it is told). */
  removeDevice(deviceId: number): Promise<RemoveDeviceResult>;
  /** Camera QR scanning for "Link a new device", when the device has a camera. */
  canScan(): boolean;
  scanQr(video: HTMLVideoElement, signal: AbortSignal): Promise<string | null>;
  /** After this device was removed: wipes this browser's data in every tab, which reload into onboarding. */
  wipeRemoved(): Promise<void>;
}

/** Creating the account (then the welcome steps) and unlocking a passphrase-protected vault. */
export interface OnboardingScreen extends PermissionRequests {
  /** The invite code of an admin's invite link the app was opened with (pre-fills the invite field); null: none. */
  readonly inviteFromLink: string | null;
  /** `password`: also set one for logging in on new devices (null: none). */
  register(username: string, inviteCode: string | null, password: string | null): Promise<RegisterResult>;
  /** Logs this browser in as a new device of the account, by username and password. */
  login(username: string, password: string): Promise<LoginResult>;
  /**
   * "I already have an account": opens a provisioning channel and reports the link URI (`onUri`) for the QR code,
   * then waits for an existing device to send the account; `deviceName` is read once it arrived (null: unnamed).
   * Aborting `signal` closes the channel. On success the app shows the account.
   */
  link(options: {
    deviceName: () => string;
    onUri: (uri: string) => void;
    signal: AbortSignal;
    onHistoryProgress?: (progress: HistoryProgressView) => void;
  }): Promise<LinkResult>;
  /** A name for this browser to suggest (its engine and system), for the device list. */
  suggestedDeviceName(): string;
  unlock(passphrase: string): Promise<boolean>;
}

/** Why an admin console action failed: see AdminError in messenger-port.ts. */
export type AdminFailure = 'forbidden' | 'owner-only' | 'invalid' | 'not-found' | 'network' | 'other';
export type AdminOutcome<T = undefined> = { ok: true; value: T } | { ok: false; error: AdminFailure };

/** Who may use the console here: an admin or the owner by certificate; `canGrant` when this device holds the key. */
export type AdminAccess = { role: 'owner' | 'admin'; canGrant: boolean };

export type AdminMemberDevice = { deviceId: number; createdAt: number; lastActiveDay: string };

export type AdminMemberView = {
  accountId: string;
  /** The username, or a short account id for an account without one. */
  name: string;
  /** The role the member's certificate proves here. */
  role: 'owner' | 'admin' | 'member';
  /** The server enforces a role no valid certificate proves (shown as a warning). */
  uncertified: boolean;
  joinedAt: number;
  lastActiveDay: string | null;
  devices: AdminMemberDevice[];
  disabled: boolean;
  me: boolean;
};

export type AdminInviteView = {
  id: string;
  uses: number;
  usesLeft: number;
  expiresAt: number;
  createdAt: number;
  revoked: boolean;
  /** Usable now: not revoked, not expired, uses left. */
  live: boolean;
};

/** A new invite: the code is shown once (the server keeps only its hash), with a link that carries it. */
export type AdminCreatedInvite = { code: string; link: string; uses: number; expiresAt: number };

/** Lifetimes in days (fractions where an override is under a day), the server's defaults and whether overridden. */
export type AdminRetentionView = {
  envelopeDays: number;
  attachmentDays: number;
  envelopeDefaultDays: number;
  attachmentDefaultDays: number;
  envelopeOverridden: boolean;
  attachmentOverridden: boolean;
};

export type AdminStatusView = {
  version: string;
  uptimeSeconds: number;
  connections: number;
  queues: { name: string; waiting: number; active: number; delayed: number; failed: number }[];
  pendingEnvelopes: number;
  accounts: number;
  devices: number;
};

/** One audit entry with account ids named where the member list knows them. */
export type AdminAuditEntryView = { seq: number; at: number; event: string; actor: string; target: string };
export type AdminAuditPage = { entries: AdminAuditEntryView[]; more: boolean; next: number };
export type AdminAuditCheck = { intact: boolean; entries: number; brokenAt: number | null };

/**
 * The admin console: members (devices, disable/enable, remove one device, grant roles), invites, notices, retention,
 * the server status and the audit log. The server refuses every call to non-admins; `access()` hides the console
 * from them (null).
 */
export interface AdminScreen {
  access(): Promise<AdminAccess | null>;
  members(): Promise<AdminOutcome<AdminMemberView[]>>;
  setDisabled(accountId: string, disabled: boolean): Promise<AdminOutcome>;
  removeDevice(accountId: string, deviceId: number): Promise<AdminOutcome>;
  grant(accountId: string, role: 'admin' | 'member'): Promise<AdminOutcome>;
  invites(): Promise<AdminOutcome<AdminInviteView[]>>;
  createInvite(uses: number, days: number): Promise<AdminOutcome<AdminCreatedInvite>>;
  revokeInvite(id: string): Promise<AdminOutcome>;
  /** Sends an organization notice; the value is how many members it goes to. */
  sendNotice(text: string): Promise<AdminOutcome<number>>;
  retention(): Promise<AdminOutcome<AdminRetentionView>>;
  /** Sets the lifetimes in days; null goes back to the server's default. */
  setRetention(envelopeDays: number | null, attachmentDays: number | null): Promise<AdminOutcome<AdminRetentionView>>;
  status(): Promise<AdminOutcome<AdminStatusView>>;
  /** The audit log from `after` (0: the start), one page. */
  audit(after: number): Promise<AdminOutcome<AdminAuditPage>>;
  verifyAudit(): Promise<AdminOutcome<AdminAuditCheck>>;
  copy(text: string): Promise<boolean>;
}

/** The app shell: the state every screen shares, and one view model per screen. */
export interface CoveApp {
  getState(): AppState;
  subscribe(listener: () => void): () => void;
  applyUpdate(): void;
  /** Hides the "a new device was added" notice. */
  dismissDeviceAdded(): void;
  /** Tries the server again now (the "Retry now" of the connection indicator). */
  reconnectNow(): void;

  readonly list: ListScreen;
  readonly chat: ChatScreen;
  readonly contact: ContactScreen;
  readonly group: GroupScreen;
  readonly voice: VoiceScreen;
  /** The composer's emoji picker: the data for a UI language (loaded on first use). */
  emoji(language: string): Promise<EmojiSource>;
  readonly settings: SettingsScreen;
  readonly admin: AdminScreen;
  readonly onboarding: OnboardingScreen;
}
