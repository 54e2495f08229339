/**
 * The settings screen's view model: language, notification previews, persistent storage and notification
 * permission, and the vault's passphrase (set: the messenger pauses while every row is re-encrypted, and the other
 * tabs are told to reload; remove), and the block list (with unblock). It renders nothing and holds no key material; the vault does the cryptography.
 */
import type { CrossContext } from '../app-platform.js';
import type { AppSession } from '../app-session.js';
import type { AppState, BlockedContact, PermissionRequests, SettingsScreen } from '../model.js';

/** Longest name shown for a blocked person: a username is at most 32 characters; anything longer is not one. */
const MAX_NAME_CHARS = 64;

export class SettingsViewModel implements SettingsScreen {
  constructor(
    private readonly session: AppSession,
    private readonly permissions: PermissionRequests,
    private readonly crossContext: () => CrossContext | null,
    private readonly onLanguage: (setting: string | null) => Promise<void>,
    readonly minPassphraseLength: number,
  ) {}

  async setLanguage(language: string | null): Promise<void> {
    const vault = this.session.vault();
    if (!vault) return;
    const settings = await vault.writeSettings({ language });
    await this.onLanguage(language);
    this.session.store.set({ settings });
  }

  async setPreviews(previews: boolean): Promise<void> {
    const vault = this.session.vault();
    if (!vault) return;
    const { store } = this.session;
    // Show the switch in its new position at once (a controlled input would snap back until the write is done).
    store.set({ settings: { ...store.get().settings, previews } });
    store.set({ settings: await vault.writeSettings({ previews }) });
  }

  async setPassphrase(passphrase: string): Promise<void> {
    const vault = this.session.vault();
    if (!vault || !this.session.reader()) return;
    const messenger = this.session.messenger();
    await messenger?.stop();
    try {
      // The vault takes its lock itself; the store switches to the new keys before any other commit can start.
      await vault.setPassphrase(passphrase);
      this.session.store.set({ passphraseSet: true });
      this.crossContext()?.announceVaultChange();
    } finally {
      messenger?.start();
    }
  }

  async blocked(): Promise<BlockedContact[]> {
    const messenger = await this.session.requireMessenger();
    return (await messenger.blocked()).map(({ accountId, username }) => ({
      accountId,
      name: (username ?? accountId.slice(0, 8)).slice(0, MAX_NAME_CHARS),
    }));
  }

  async unblock(accountId: string): Promise<void> {
    await (await this.session.requireMessenger()).unblock(accountId);
    this.session.store.bump();
  }

  async removePassphrase(passphrase: string): Promise<boolean> {
    const vault = this.session.vault();
    if (!vault) return false;
    if (!(await vault.removePassphrase(passphrase))) return false;
    this.session.store.set({ passphraseSet: false });
    return true;
  }

  requestPersistence(): Promise<boolean> {
    return this.permissions.requestPersistence();
  }

  enableNotifications(): Promise<AppState['notifications']> {
    return this.permissions.enableNotifications();
  }
}
