/**
 * What the app layer needs from the browser, as interfaces: capabilities (connectivity, visibility, permissions,
 * camera scanning), the vault (open, unlock, passphrase, settings), the service worker (updates, push) and the other
 * contexts of the origin. `platform/browser-app-platform.ts` implements it and `main.tsx` hands it to the app shell,
 * so nothing in `app/` imports `platform/`; tests pass a fake. Types only: no implementation, no browser API.
 */
import type { Platform } from '@cove/client';
import type { Settings } from './model.js';

export type NotificationPermission = 'default' | 'granted' | 'denied' | 'unsupported';

/** Push here: works, needs Cove on the iOS home screen first, or this browser has none. */
export type PushSupport = 'supported' | 'needs-home-screen' | 'unsupported';

export type PushSubscriptionJson = { endpoint: string; keys: { p256dh: string; auth: string } };

/** Browser capabilities outside the messenger core. */
export interface Capabilities {
  isOnline(): boolean;
  onConnectivityChange(listener: (online: boolean) => void): () => void;
  /** Calls `listener` whenever the page becomes visible again. */
  onVisible(listener: () => void): () => void;
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
  /** Tells the other tabs the vault's keys changed (they reload). */
  announceVaultChange(): void;
}

export interface AppPlatform {
  readonly capabilities: Capabilities;
  /** Shortest passphrase the vault accepts, in characters. */
  readonly minPassphraseLength: number;
  openVault(): Promise<Vault>;
  registerServiceWorker(): ServiceWorkerHandle;
  /** Calls `onCommit` whenever another context commits to storage. */
  listenToOtherContexts(onCommit: () => void): CrossContext;
  /** The push subscription for `vapidPublicKey`, or null when push is unavailable or not permitted. */
  refreshPushSubscription(
    registration: ServiceWorkerRegistration,
    vapidPublicKey: string,
  ): Promise<PushSubscriptionJson | null>;
}
