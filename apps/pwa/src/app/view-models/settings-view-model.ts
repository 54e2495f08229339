/**
 * The settings screen's view model: the encrypted profile (name, about, avatar cropped by the platform), language, colour theme, notification previews, persistent storage and
 * notification permission, the vault's passphrase (set: the messenger pauses while every row is re-encrypted, and
 * the other tabs are told to reload; change; remove), "lock now" (every tab reloads and so forgets its keys), who
 * may send sealed messages (anyone or contacts: a server setting shared by the account's devices), the block list
 * (with unblock), the login password (set, change, remove; OPAQUE in the core), linked devices (list, link a new one
 * from a scanned or pasted URI, remove one; wiping this browser once it was removed), and leaving: log out and delete
 * the account (the server first, then this browser's data
 * is wiped and every tab reloads into onboarding). It renders nothing and holds no key material; the vault does the
 * cryptography.
 */
import type { CrossContext } from '../app-platform.js';
import type { AppSession } from '../app-session.js';
import { checkLinkUri } from '../link-uri.js';
import type {
  AccountActionResult,
  AddDeviceResult,
  AppState,
  DeviceView,
  LinkUriCheck,
  RemoveDeviceResult,
  BlockedContact,
  OrganizationView,
  PasswordResult,
  PermissionRequests,
  ProfileForm,
  ProfileSaveResult,
  SealedSenderChoice,
  SettingsScreen,
  ThemeChoice,
  HistoryProgressView,
} from '../model.js';
import type { MessengerPort } from '../messenger-port.js';

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

  async sealedSender(refresh = false): Promise<SealedSenderChoice> {
    return (await this.session.requireMessenger()).sealedSenderSetting(refresh);
  }

  async setSealedSender(choice: SealedSenderChoice): Promise<boolean> {
    const saved = (await (await this.session.requireMessenger()).setSealedSenderSetting(choice)) === 'saved';
    this.session.store.bump();
    return saved;
  }

  async blocked(): Promise<BlockedContact[]> {
    const messenger = await this.session.requireMessenger();
    return (await messenger.blocked()).map(({ accountId, username }) => ({
      accountId,
      name: (username ?? accountId.slice(0, 8)).slice(0, MAX_NAME_CHARS),
    }));
  }

  /** The organization key's fingerprint and our role, as this device pinned and verified them (null: none). */
  async organization(): Promise<OrganizationView | null> {
    return (await this.session.requireMessenger()).organization();
  }

  async unblock(accountId: string): Promise<void> {
    await (await this.session.requireMessenger()).unblock(accountId);
    this.session.store.bump();
  }

  async hasPassword(): Promise<boolean | null> {
    try {
      return await (await this.session.requireMessenger()).hasPassword();
    } catch {
      return null;
    }
  }

  async setPassword(password: string): Promise<PasswordResult> {
    return (await this.session.requireMessenger()).setPassword(password);
  }

  async removePassword(): Promise<PasswordResult> {
    return (await this.session.requireMessenger()).removePassword();
  }

  async devices(): Promise<DeviceView[]> {
    return (await this.session.requireMessenger()).devices();
  }

  checkLinkUri(text: string): LinkUriCheck {
    return checkLinkUri(text);
  }

  async addDevice(
    uri: string,
    options?: { history: boolean; onHistoryProgress?: (progress: HistoryProgressView) => void },
  ): Promise<AddDeviceResult> {
    const check = checkLinkUri(uri);
    if (!check.ok) return { ok: false, error: 'invalid' };
    return (await this.session.requireMessenger()).addDevice(check.uri, options);
  }

  async removeDevice(deviceId: number): Promise<RemoveDeviceResult> {
    return (await this.session.requireMessenger()).removeDevice(deviceId);
  }

  canScan(): boolean {
    return this.session.platform.capabilities.canScan();
  }

  scanQr(video: HTMLVideoElement, signal: AbortSignal): Promise<string | null> {
    return this.session.platform.capabilities.scanQr(video, signal);
  }

  async wipeRemoved(): Promise<void> {
    const vault = this.session.vault();
    if (this.session.store.get().phase.kind !== 'removed' || !vault) return;
    // The server already forgot this device; its keys and history go from this browser, then every tab reloads.
    await this.session.messenger()?.stop();
    await vault.wipe();
    this.crossContext()?.announceVaultChange();
    this.session.platform.capabilities.reload();
  }

  async removePassphrase(passphrase: string): Promise<boolean> {
    const vault = this.session.vault();
    if (!vault) return false;
    if (!(await vault.removePassphrase(passphrase))) return false;
    this.session.store.set({ passphraseSet: false });
    return true;
  }

  async changePassphrase(current: string, next: string): Promise<boolean> {
    const vault = this.session.vault();
    if (!vault) return false;
    return vault.changePassphrase(current, next);
  }

  lockNow(): void {
    if (!this.session.store.get().passphraseSet) return;
    // The keys live only in the memory of each tab: a reload forgets them, and the vault then asks for the passphrase.
    this.crossContext()?.announceVaultChange();
    this.session.platform.capabilities.reload();
  }

  setTheme(theme: ThemeChoice): void {
    this.session.platform.theme.write(theme);
    this.session.store.set({ theme });
  }

  logout(): Promise<AccountActionResult> {
    return this.leave(async (messenger) => {
      await messenger.logout();
    });
  }

  async deleteAccount(confirmation: string): Promise<AccountActionResult> {
    const { phase } = this.session.store.get();
    const username = phase.kind === 'ready' ? phase.username : null;
    if (!username || confirmation.trim().toLowerCase() !== username.toLowerCase())
      return { ok: false, error: 'wrong-confirmation' };
    return this.leave((messenger) => messenger.deleteAccount());
  }

  /** Runs the server step; only once it succeeded is this browser wiped and every tab reloaded. */
  private async leave(serverStep: (messenger: MessengerPort) => Promise<void>): Promise<AccountActionResult> {
    const vault = this.session.vault();
    if (!vault) return { ok: false, error: 'other' };
    let messenger: MessengerPort;
    try {
      messenger = await this.session.requireMessenger();
    } catch {
      return { ok: false, error: 'other' };
    }
    const refused = await serverStep(messenger).then(
      () => null,
      (error: unknown) => error,
    );
    if (refused !== null) return { ok: false, error: accountActionError(refused) };
    // The messenger stopped with the server step; the data goes now, then every tab reloads into onboarding.
    await vault.wipe();
    this.crossContext()?.announceVaultChange();
    this.session.platform.capabilities.reload();
    return { ok: true };
  }

  requestPersistence(): Promise<boolean> {
    return this.permissions.requestPersistence();
  }

  enableNotifications(): Promise<AppState['notifications']> {
    return this.permissions.enableNotifications();
  }
}

/** What a failed server step means for the user: no server, not the primary device, or anything else. */
function accountActionError(error: unknown): 'network' | 'not-primary' | 'other' {
  const { code, errorCode } = (error ?? {}) as { code?: unknown; errorCode?: unknown };
  if (code === 'server_unreachable' || code === 'rate_limited') return 'network';
  if (code === 'invalid_input' || errorCode === 'forbidden') return 'not-primary';
  return 'other';
}
