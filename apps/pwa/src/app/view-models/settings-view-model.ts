/**
 * The settings screen's view model: the encrypted profile (name, about, avatar cropped by the platform), language, notification previews, persistent storage and notification
 * permission, and the vault's passphrase (set: the messenger pauses while every row is re-encrypted, and the other
 * tabs are told to reload; remove). It renders nothing and holds no key material; the vault does the cryptography.
 */
import type { CrossContext } from '../app-platform.js';
import type { AppSession } from '../app-session.js';
import type { AppState, PermissionRequests, ProfileForm, ProfileSaveResult, SettingsScreen } from '../model.js';

export class SettingsViewModel implements SettingsScreen {
  constructor(
    private readonly session: AppSession,
    private readonly permissions: PermissionRequests,
    private readonly crossContext: () => CrossContext | null,
    private readonly onLanguage: (setting: string | null) => Promise<void>,
    readonly minPassphraseLength: number,
  ) {}

  async profile(): Promise<ProfileForm> {
    return (await this.session.requireMessenger()).profile();
  }

  async saveProfile(fields: { name: string; about: string }, avatarFile?: Blob | null): Promise<ProfileSaveResult> {
    let avatar: Uint8Array | undefined;
    if (avatarFile) {
      const cropped = await this.session.platform.media.cropAvatar(avatarFile);
      if (!cropped) return 'bad-image';
      avatar = cropped;
    }
    const result = await (
      await this.session.requireMessenger()
    ).setProfile({
      name: fields.name,
      about: fields.about,
      ...(avatar ? { avatar } : {}),
    });
    this.session.store.bump();
    return result;
  }

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
