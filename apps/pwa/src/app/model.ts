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
  /** A voice note (the message's first attachment with the voice flag). */
  voice?: VoiceNote;
};

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
}

/** Recording, sending and playing voice notes. */
export interface VoiceScreen {
  /** Whether this browser can record (a microphone API and a recording format). */
  canRecord(): boolean;
  /** Must follow a tap. */
  startRecording(): Promise<VoiceRecording | RecordingFailure>;
  send(conversationId: string, recording: RecordedVoice): Promise<void>;
  /** A playable URL of a voice note's audio (downloading and verifying it first), and its release. */
  open(messageId: string, index: number, contentType: string): Promise<{ url: string; revoke: () => void }>;
  /** Whether it was played on this device since the app started, and marking it. */
  played(messageId: string): boolean;
  markPlayed(messageId: string): void;
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
  readonly voice: VoiceScreen;
  /** The composer's emoji picker: the data for a UI language (loaded on first use). */
  emoji(language: string): Promise<EmojiSource>;
  readonly settings: SettingsScreen;
  readonly onboarding: OnboardingScreen;
}
