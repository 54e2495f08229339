/**
 * The browser behind the app layer: implements the app's `AppPlatform` (declared in `app/app-platform.ts`; matched
 * by shape, so this layer imports nothing from `app/`) over the modules of this folder: capabilities, the vault
 * and its settings in IndexedDB (and wiping it), the colour theme, the service worker, cross-context notices and
 * push. `main.tsx` wires it into the app shell. It adds no behaviour of its own.
 */
import type { Platform } from '@cove/client';
import * as capabilities from './capabilities.js';
import { openBrowserPlatform, unlockBrowserPlatform, type BrowserPlatform } from './browser-platform.js';
import { listenToOtherContexts } from './cross-context.js';
import { emojiSource } from './emoji-data.js';
import { cropAvatar, isImageType, prepareImage } from './media.js';
import { openCoveDatabase } from './idb/database.js';
import type { CoveDatabase } from './idb/schema.js';
import { refreshPushSubscription } from './push.js';
import { readSettings, writeSettings, type StoredSettings } from './settings.js';
import { registerServiceWorker } from './sw-registration.js';
import { onThemeChange, readTheme, writeTheme } from './theme.js';
import {
  changePassphrase,
  MIN_PASSPHRASE_LENGTH,
  removePassphrase,
  setPassphrase,
  vaultMode,
  WrongPassphraseError,
} from './vault.js';
import { wipeLocalData } from './wipe.js';
import { canRecordVoice, playableUrl, startVoiceRecording } from './voice-recorder.js';

/** The page's profile in IndexedDB, its keys and its settings. */
class BrowserVault {
  /** The platform last opened or unlocked: its store switches to new keys when the passphrase is set. */
  private opened: BrowserPlatform | null = null;

  constructor(private readonly db: CoveDatabase) {}

  readSettings(): Promise<StoredSettings> {
    return readSettings(this.db);
  }

  writeSettings(patch: Partial<StoredSettings>): Promise<StoredSettings> {
    return writeSettings(this.db, patch);
  }

  async hasPassphrase(): Promise<boolean> {
    return (await vaultMode(this.db)) === 'passphrase';
  }

  async open(): Promise<Platform | 'locked'> {
    const opened = await openBrowserPlatform('page', this.db);
    if ('locked' in opened) return 'locked';
    this.opened = opened;
    return opened;
  }

  async unlock(passphrase: string): Promise<Platform | 'wrong-passphrase'> {
    try {
      this.opened = await unlockBrowserPlatform(this.db, passphrase, 'page');
      return this.opened;
    } catch (error) {
      if (error instanceof WrongPassphraseError) return 'wrong-passphrase';
      throw error;
    }
  }

  async setPassphrase(passphrase: string): Promise<void> {
    const platform = this.opened;
    if (!platform) throw new Error('vault not open');
    // The vault takes its lock itself; the store switches to the new keys before any other commit can start.
    await setPassphrase(this.db, platform.rows.currentKeys(), passphrase, (keys) => platform.rows.rekeyed(keys));
  }

  async changePassphrase(current: string, next: string): Promise<boolean> {
    try {
      await changePassphrase(this.db, current, next);
      return true;
    } catch (error) {
      if (error instanceof WrongPassphraseError) return false;
      throw error;
    }
  }

  wipe(): Promise<void> {
    return wipeLocalData();
  }

  async removePassphrase(passphrase: string): Promise<boolean> {
    try {
      await removePassphrase(this.db, passphrase);
      return true;
    } catch (error) {
      if (error instanceof WrongPassphraseError) return false;
      throw error;
    }
  }
}

/** The page's platform for the app shell. */
export function createBrowserAppPlatform() {
  return {
    capabilities: {
      isOnline: capabilities.isOnline,
      onConnectivityChange: capabilities.onConnectivityChange,
      onVisible: capabilities.onVisible,
      showUnread: capabilities.showUnread,
      isPersisted: capabilities.isPersisted,
      requestPersistence: capabilities.requestPersistence,
      notificationPermission: capabilities.notificationPermission,
      requestNotificationPermission: capabilities.requestNotificationPermission,
      canScan: capabilities.canScan,
      pushSupport: capabilities.pushSupport,
      scanQr: capabilities.scanQr,
      copyText: capabilities.copyText,
      deviceLabel: capabilities.deviceLabel,
      reload: () => globalThis.location.reload(),
      afterPaint: capabilities.afterPaint,
    },
    theme: { read: readTheme, write: writeTheme, onChange: onThemeChange },
    voice: {
      canRecord: canRecordVoice,
      start: startVoiceRecording,
      playable: playableUrl,
    },
    emoji: emojiSource,
    media: { prepareImage, isImageType, cropAvatar },
    minPassphraseLength: MIN_PASSPHRASE_LENGTH,
    openVault: async () => new BrowserVault(await openCoveDatabase()),
    registerServiceWorker: () => registerServiceWorker(),
    listenToOtherContexts,
    refreshPushSubscription,
  };
}
