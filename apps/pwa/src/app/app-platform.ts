/**
 * What the app layer needs from the browser, as interfaces: capabilities (connectivity, visibility, permissions,
 * camera scanning), photo preparation, the vault (open, unlock, passphrase, settings), the service worker (updates, push) and the other
 * contexts of the origin. `platform/browser-app-platform.ts` implements it and `main.tsx` hands it to the app shell,
 * so nothing in `app/` imports `platform/`; tests pass a fake. Types only: no implementation, no browser API.
 */
import type { Platform } from '@cove/client';
import type { ServerLink, Settings, ThemeChoice } from './model.js';

export type NotificationPermission = 'default' | 'granted' | 'denied' | 'unsupported';

/** Push here: works, needs Cove on the iOS home screen first, or this browser has none. */
export type PushSupport = 'supported' | 'needs-home-screen' | 'unsupported';

export type PushSubscriptionJson = { endpoint: string; keys: { p256dh: string; auth: string } };

/** Browser capabilities outside the messenger core. */
export interface Capabilities {
  isOnline(): boolean;
  onConnectivityChange(listener: (online: boolean) => void): () => void;
  /** Calls `listener` whenever the page becomes visible or focused again (the user came back). */
  onVisible(listener: () => void): () => void;
  /** Shows the number of unread messages in the tab title and on the installed app's badge (0 clears both). */
  showUnread(count: number): void;
  isPersisted(): Promise<boolean | null>;
  /** Must follow a user gesture in some browsers. */
  requestPersistence(): Promise<boolean>;
  notificationPermission(): NotificationPermission;
  /** Must be called from a tap. */
  requestNotificationPermission(): Promise<NotificationPermission>;
  /** Whether this browser can receive pushes (and so show notifications while Cove is closed). */
  pushSupport(): PushSupport;
  canScan(): boolean;
  /** Streams the camera into `video` and resolves with the first QR code read, or null if aborted. */
  scanQr(video: HTMLVideoElement, signal: AbortSignal): Promise<string | null>;
  /** Puts text on the clipboard (after a tap); false when the browser refused or has no clipboard. */
  copyText(text: string): Promise<boolean>;
  /** A name for this browser in the account's device list ("Chrome on Linux"). */
  deviceLabel(): string;
  /** Reloads the page (after locking or wiping: the memory of this tab goes with it). */
  reload(): void;
  /**
   * Calls `run` once, after the next paint when the page has a moment (or after a short bound when it never does,
   * as in a hidden tab): for work the first screen must not wait for.
   */
  afterPaint(run: () => void): void;
}

/** The colour theme choice of this browser (applied before the first paint; other tabs follow). */
export interface ThemeStore {
  read(): ThemeChoice;
  write(choice: ThemeChoice): void;
  /** Another tab changed it. */
  onChange(listener: (choice: ThemeChoice) => void): () => void;
}

/** A photo re-encoded without its metadata (EXIF, GPS), with its size in pixels and a small JPEG thumbnail. */
export type PreparedImage = { blob: Blob; contentType: string; width: number; height: number; thumbnail: Uint8Array };

/** Photos before sending. */
export interface Media {
  /** Whether the type names an image format (one the browser may decode and so strip). */
  isImageType(type: string): boolean;
  /** Re-encodes a photo (orientation applied, metadata dropped); null when this browser cannot decode it. */
  prepareImage(file: Blob): Promise<PreparedImage | null>;
  /** A square 256×256 JPEG of the photo's centre, without metadata, for the profile; null when it cannot be made. */
  cropAvatar(file: Blob): Promise<Uint8Array | null>;
}

/** The local profile: its keys (encrypted at rest), its passphrase and its non-secret settings. */
export interface Vault {
  readSettings(): Promise<Settings>;
  writeSettings(patch: Partial<Settings>): Promise<Settings>;
  hasPassphrase(): Promise<boolean>;
  /** The core's platform over this profile, or `'locked'` while a passphrase is needed. */
  open(): Promise<Platform | 'locked'>;
  /** The core's platform after unlocking with `passphrase`; `'wrong-passphrase'` when it does not match. */
  unlock(passphrase: string): Promise<Platform | 'wrong-passphrase'>;
  /** Protects the opened profile with a passphrase (new keys; every row re-encrypted). */
  setPassphrase(passphrase: string): Promise<void>;
  /** False when `passphrase` is wrong. */
  removePassphrase(passphrase: string): Promise<boolean>;
  /** Re-wraps the same keys under `next` (no row changes); false when `current` is wrong. */
  changePassphrase(current: string, next: string): Promise<boolean>;
  /**
   * Deletes everything this browser keeps for the user: every IndexedDB database of the origin (the other tabs'
   * connections close on the deletion), caches other than the app's own files, the push subscription and shown
   * notifications, local and session storage. The app's files stay, so it opens (at onboarding) offline too.
   */
  wipe(): Promise<void>;
}

/** The registered service worker: a waiting new version, and push. */
export interface ServiceWorkerHandle {
  onUpdateReady(listener: () => void): void;
  apply(): void;
  /** Resolves with the registration once active, or null when there is no service worker. */
  ready: Promise<ServiceWorkerRegistration | null>;
}

/** The other tabs and the service worker of this origin. */
export interface CrossContext {
  /** Tells the other tabs the vault's keys changed, were locked or wiped (they reload). */
  announceVaultChange(): void;
  /** Tells the other tabs how the server link looks from the tab holding the connection. */
  announceServerLink(link: ServerLink): void;
}

/** What a tab hears from the others. */
export type OtherContextHandlers = {
  /** Another context committed to storage. */
  onCommit(): void;
  /** The tab holding the connection reports its server link. */
  onServerLink(link: ServerLink): void;
  /** Another tab asks for the link: answer with ours when we hold the connection, else null (stay silent). */
  serverLinkToShare(): ServerLink | null;
};

/** Why recording a voice note cannot start, in the words the UI explains. */
export type RecordingFailure = 'denied' | 'no-microphone' | 'unsupported' | 'failed';

/** A finished voice note: the recorded bytes, their container type, the exact duration and ~64 loudness bytes. */
export type RecordedVoice = { bytes: Uint8Array; contentType: string; durationMs: number; waveform: Uint8Array };

/** A voice note being recorded. */
export interface VoiceRecording {
  elapsedMs(): number;
  /** Stops and resolves with the recording; rejects when nothing usable was recorded. */
  stop(): Promise<RecordedVoice>;
  /** Stops and discards everything. */
  cancel(): void;
}

/** The microphone, for voice notes (MediaRecorder in the type this engine records). */
export interface VoiceRecorder {
  canRecord(): boolean;
  /** Must follow a tap (the permission prompt). */
  start(): Promise<VoiceRecording | RecordingFailure>;
  /** A URL the page can play `audio` from, and its release. */
  playable(audio: Blob): { url: string; revoke: () => void };
}

/** One emoji as the picker shows it: the character(s) and its name in the data's language. */
export type EmojiEntry = { unicode: string; name: string };

/** Emoji data in one language, served by Cove itself. */
export interface EmojiSource {
  /** The emoji of one group (0 smileys … 9 flags), in the standard order. */
  group(group: number): Promise<EmojiEntry[]>;
  /** Emoji whose name or keywords start with the words of `query`. */
  search(query: string): Promise<EmojiEntry[]>;
}

export interface AppPlatform {
  readonly capabilities: Capabilities;
  readonly voice: VoiceRecorder;
  /** The emoji data for a UI language (Chinese names for `zh*`); loaded on first use. */
  emoji(language: string): Promise<EmojiSource>;
  readonly media: Media;
  readonly theme: ThemeStore;
  /** Shortest passphrase the vault accepts, in characters. */
  readonly minPassphraseLength: number;
  openVault(): Promise<Vault>;
  registerServiceWorker(): ServiceWorkerHandle;
  /** Listens to the other tabs and the service worker; see OtherContextHandlers. */
  listenToOtherContexts(handlers: OtherContextHandlers): CrossContext;
  /** The push subscription for `vapidPublicKey`, or null when push is unavailable or not permitted. */
  refreshPushSubscription(
    registration: ServiceWorkerRegistration,
    vapidPublicKey: string,
  ): Promise<PushSubscriptionJson | null>;
}
