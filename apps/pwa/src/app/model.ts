/**
 * What the UI can see and do: plain view data, the app shell `CoveApp` (shared state) and one view-model interface
 * per screen, implemented in app-shell.ts and view-models/. The UI imports only these types, so it never touches
 * storage, crypto or browser APIs. Types only.
 */

export type MessageStatus = 'sending' | 'sent' | 'delivered' | 'read' | 'failed';

/** Why an outgoing message failed, for the reasons the user can act on; anything else shows the plain retry. */
export type FailureReason = 'queue_full' | 'identity_changed' | 'unknown_user' | 'too_long' | 'rate_limited';

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
  title: string;
  lastMessage?: {
    text: string;
    at: number | null;
    outgoing: boolean;
    status?: MessageStatus;
    undecryptable?: boolean;
    unshowable?: boolean;
  };
  unread: number;
  updatedAt: number;
  /** The contact's identity key changed and has not been verified since. */
  identityChanged: boolean;
  verified: boolean;
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

export type ServerInfo = { name: string; registration: 'open' | 'invite'; vapidPublicKey: string | null };

export type Phase =
  | { kind: 'loading' }
  | { kind: 'locked' }
  | { kind: 'onboarding'; info: ServerInfo | null; offline: boolean }
  | { kind: 'ready'; username: string }
  /** Starting failed (storage unreadable, an unexpected error): the app shows an error screen. */
  | { kind: 'failed' };

export type AppState = {
  phase: Phase;
  online: boolean;
  /** A new version of the app is installed and waiting. */
  updateReady: boolean;
  /** Bumped whenever conversations or messages change, so views reload. */
  revision: number;
  /** Conversation ids with the contact typing right now. */
  typing: ReadonlySet<string>;
  settings: Settings;
  passphraseSet: boolean;
  notifications: 'default' | 'granted' | 'denied' | 'unsupported';
  /** Whether notifications can work at all here; when not, the UI says why instead of offering a permission. */
  push: 'supported' | 'needs-home-screen' | 'unsupported';
  persisted: boolean | null;
};

export type RegisterResult = { ok: true } | { ok: false; error: 'taken' | 'invalid' | 'invite' | 'network' | 'other' };

export type StartChatResult =
  { ok: true; conversationId: string } | { ok: false; error: 'unknown' | 'self' | 'network' };

/** The conversation list and the new-chat dialog. */
export interface ListScreen {
  /** Every conversation, most recent activity first. */
  conversations(): Promise<ConversationSummary[]>;
  startChat(username: string): Promise<StartChatResult>;
}

/** One open conversation. */
export interface ChatScreen {
  conversation(id: string): Promise<ConversationSummary | undefined>;
  /** Newest first, `limit` at most, older than `before` (a message id) when given. */
  messages(conversationId: string, options: { before?: string; limit: number }): Promise<ChatMessage[]>;
  send(conversationId: string, text: string): Promise<void>;
  retry(conversationId: string, messageId: string): Promise<void>;
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
}

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
}

/** Asking the browser for what the app works better with; both must follow a tap. */
export interface PermissionRequests {
  requestPersistence(): Promise<boolean>;
  enableNotifications(): Promise<AppState['notifications']>;
}

export interface SettingsScreen extends PermissionRequests {
  /** Shortest passphrase the vault accepts, in characters. */
  readonly minPassphraseLength: number;
  setLanguage(language: string | null): Promise<void>;
  setPreviews(previews: boolean): Promise<void>;
  setPassphrase(passphrase: string): Promise<void>;
  removePassphrase(passphrase: string): Promise<boolean>;
}

/** Creating the account (then the welcome steps) and unlocking a passphrase-protected vault. */
export interface OnboardingScreen extends PermissionRequests {
  register(username: string, inviteCode: string | null): Promise<RegisterResult>;
  unlock(passphrase: string): Promise<boolean>;
}

/** The app shell: the state every screen shares, and one view model per screen. */
export interface CoveApp {
  getState(): AppState;
  subscribe(listener: () => void): () => void;
  applyUpdate(): void;

  readonly list: ListScreen;
  readonly chat: ChatScreen;
  readonly contact: ContactScreen;
  readonly settings: SettingsScreen;
  readonly onboarding: OnboardingScreen;
}
