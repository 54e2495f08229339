/**
 * The app shell (`CoveApp`): owns the start-up sequence (open the vault, unlock, load or create the account,
 * connect), turns messenger events and other contexts' commits into state changes, keeps the push subscription
 * current, and hands one view model per screen to the UI. It receives the browser through `AppPlatform` and imports
 * nothing from `platform/`; it holds no key material and shows nothing.
 */
import type { MessengerEvent, Platform } from '@cove/client';
import { isMuted, toChatPreferences } from '@cove/client/chat-preferences';
import type { AppPlatform, CrossContext, EmojiSource, ServiceWorkerHandle, Vault } from './app-platform.js';
import type { AppSession } from './app-session.js';
import { AppStateStore } from './app-state-store.js';
import { DeferredLoad } from './deferred-load.js';
import { HistoryReader } from './history-reader.js';
import { deviceNameOrNone } from './link-uri.js';
import type { MessengerPort } from './messenger-port.js';
import type * as CoreModuleValue from './messenger-adapter.js';
import type {
  AppState,
  CoveApp,
  HistoryProgressView,
  LinkResult,
  LoginResult,
  RegisterResult,
  ServerInfo,
  SsoFailure,
  SsoOnboarding,
  SsoReturn,
} from './model.js';
import { PeerTyping } from './peer-typing.js';
import { fetchServerInfo } from './server-info.js';
import { connectionStatus, effectiveState, ServerLinkTracker } from './server-link.js';
import { countOrZero } from './view-data.js';
import { ChatViewModel } from './view-models/chat-view-model.js';
import { ContactViewModel } from './view-models/contact-view-model.js';
import { GroupViewModel } from './view-models/group-view-model.js';
import { ListViewModel } from './view-models/list-view-model.js';
import { OnboardingViewModel } from './view-models/onboarding-view-model.js';
import { PermissionRequestsModel } from './view-models/permission-requests.js';
import { SettingsViewModel } from './view-models/settings-view-model.js';
import { AdminViewModel } from './view-models/admin-view-model.js';
import { VoiceViewModel } from './view-models/voice-view-model.js';

type CoreModule = typeof CoreModuleValue;

/** The device that registered the account; the others are linked to it (docs/linking.md). */
const PRIMARY_DEVICE_ID = 1;

/** The messenger core and libsodium, in their own chunk: the first screen does not wait for them. */
const importCore = (): Promise<CoreModule> => import('./messenger-adapter.js');

/**
 * Longest the core waits for the first screen to report its data (`firstScreenShown`) before loading anyway: a start
 * on a screen that never reports (settings, a contact) still connects, about this much later.
 */
const FIRST_SCREEN_WAIT_MS = 1_000;

export type AppShellOptions = {
  /** The server's origin (the app is served by it). */
  serverUrl: string;
  /** The language setting changed (null: follow the browser). */
  onLanguage: (setting: string | null) => Promise<void>;
  /** What a single sign-on handed back in the URL fragment when the app opened (already removed from the URL). */
  ssoReturn?: SsoReturn | null;
  /** The code of an invite link (`?invite=`) the app was opened with (already removed from the URL). */
  invite?: string | null;
};

/** The codes the server's callback uses (`#sso-error=…`); anything else reads as a provider failure. */
const SSO_CALLBACK_ERRORS: readonly SsoFailure[] = ['expired', 'denied', 'not-allowed', 'provider'];

export class CoveAppShell implements CoveApp, AppSession {
  readonly store: AppStateStore;
  readonly list: ListViewModel;
  readonly chat: ChatViewModel;
  readonly contact: ContactViewModel;
  readonly group: GroupViewModel;
  readonly voice: VoiceViewModel;
  readonly emoji: (language: string) => Promise<EmojiSource>;
  readonly settings: SettingsViewModel;
  readonly admin: AdminViewModel;
  readonly onboarding: OnboardingViewModel;
  private openedVault: Vault | null = null;
  private corePlatform: Platform | null = null;
  private loadedMessenger: MessengerPort | null = null;
  /**
   * The messenger of an existing account, loaded once the first screen is painted (or at once when a screen needs
   * it first: a send waits for it); null before start-up found an account, and after onboarding created one.
   */
  private messengerLoad: DeferredLoad<MessengerPort | null> | null = null;
  /** Called when the first screen reports its data; null once called or when nothing waits for it. */
  private onFirstScreen: (() => void) | null = null;
  private historyReader: HistoryReader | null = null;
  private crossContext: CrossContext | null = null;
  private core: Promise<CoreModule> | null = null;
  private info: ServerInfo | null = null;
  /** The single sign-on the app opened with, until onboarding used it (a token is single-use). */
  private ssoReturn: SsoReturn | null;
  /** The fresh sign-on of an existing SSO account's owner: linking this browser needs it. */
  private ssoLinkToken: string | null = null;
  private updates: ServiceWorkerHandle | null = null;
  private readonly peerTyping: PeerTyping;
  private readonly serverLink = new ServerLinkTracker();
  /** The revision the unread count was last computed for, and whether a computation runs or is wanted again. */
  private unreadRevision = -1;
  private unreadRunning = false;
  private unreadAgain = false;

  constructor(
    readonly platform: AppPlatform,
    private readonly options: AppShellOptions,
  ) {
    const { capabilities } = platform;
    this.ssoReturn = options.ssoReturn ?? null;
    this.store = new AppStateStore({
      phase: { kind: 'loading' },
      online: capabilities.isOnline(),
      server: 'unknown',
      connection: connectionStatus(capabilities.isOnline(), 'unknown'),
      updateReady: false,
      revision: 0,
      typing: new Set(),
      settings: { language: null, previews: true },
      theme: platform.theme.read(),
      passphraseSet: false,
      notifications: capabilities.notificationPermission(),
      push: capabilities.pushSupport(),
      persisted: null,
      progress: new Map(),
    });
    this.peerTyping = new PeerTyping(this.store);
    platform.theme.onChange((theme) => this.store.set({ theme }));
    this.store.subscribe(() => this.onStateChange());
    const permissions = new PermissionRequestsModel(this, () => this.refreshPush());
    this.list = new ListViewModel(this);
    this.chat = new ChatViewModel(this);
    this.contact = new ContactViewModel(this, capabilities);
    this.group = new GroupViewModel(this);
    this.voice = new VoiceViewModel(this, platform.voice);
    this.emoji = (language) => platform.emoji(language);
    this.settings = new SettingsViewModel(
      this,
      permissions,
      () => this.crossContext,
      options.onLanguage,
      platform.minPassphraseLength,
    );
    this.admin = new AdminViewModel(this, options.serverUrl);
    this.onboarding = new OnboardingViewModel(this, permissions, {
      register: (username, inviteCode, password) => this.register(username, inviteCode, password),
      login: (username, password) => this.login(username, password),
      link: (options) => this.link(options),
      enter: (corePlatform) => this.enter(corePlatform),
      inviteFromLink: options.invite ?? null,
    });
  }

  getState(): AppState {
    return this.store.get();
  }

  subscribe(listener: () => void): () => void {
    return this.store.subscribe(listener);
  }

  dismissDeviceAdded(): void {
    this.store.set({ deviceAdded: null });
  }

  applyUpdate(): void {
    this.updates?.apply();
  }

  reconnectNow(): void {
    this.loadedMessenger?.reconnectNow();
  }

  vault(): Vault | null {
    return this.openedVault;
  }

  reader(): HistoryReader | null {
    return this.historyReader;
  }

  profile(): Platform | null {
    return this.corePlatform;
  }

  messenger(): MessengerPort | null {
    return this.loadedMessenger;
  }

  async requireMessenger(): Promise<MessengerPort> {
    const messenger = this.loadedMessenger ?? (await this.messengerLoad?.now()) ?? null;
    if (!messenger) throw new Error('not registered');
    return messenger;
  }

  firstScreenShown(): void {
    const shown = this.onFirstScreen;
    this.onFirstScreen = null;
    shown?.();
  }

  /** Starts everything; resolves once the first screen is known. A failure shows the error screen. */
  async start(): Promise<void> {
    try {
      await this.startUp();
    } catch (error) {
      // eslint-disable-next-line no-console -- the only diagnostics sink in a page; the name carries no user data
      console.error('[cove:app] start failed', error instanceof Error ? error.name : typeof error);
      this.store.set({ phase: { kind: 'failed' } });
    }
  }

  private async startUp(): Promise<void> {
    const { capabilities } = this.platform;
    const vault = await this.platform.openVault();
    this.openedVault = vault;
    const settings = await vault.readSettings();
    this.store.set({ settings, passphraseSet: await vault.hasPassphrase() });
    capabilities.onConnectivityChange((online) => {
      this.setLink({ online });
      if (online) this.loadedMessenger?.reconnectNow();
    });
    void capabilities.isPersisted().then((persisted) => this.store.set({ persisted }));
    this.crossContext = this.platform.listenToOtherContexts({
      onCommit: () => this.store.bump(),
      onServerLink: (server) => {
        if (this.loadedMessenger?.holdsConnection()) return;
        this.setLink({ server });
        // The tab holding the connection heard that this device was removed: every tab shows it.
        if (server === 'removed' && this.store.get().phase.kind === 'ready')
          this.store.set({ phase: { kind: 'removed' } });
      },
      serverLinkToShare: () => (this.loadedMessenger?.holdsConnection() ? this.serverLink.current : null),
    });
    this.updates = this.platform.registerServiceWorker();
    this.updates.onUpdateReady(() => this.store.set({ updateReady: true }));
    const opened = await vault.open();
    if (opened === 'locked') {
      this.store.set({ phase: { kind: 'locked' } });
      // Unlocking needs libsodium (Argon2id), which the core's chunk brings too: both load while the user types.
      this.prefetchCore();
      return;
    }
    await this.enter(opened);
  }

  private async enter(corePlatform: Platform): Promise<void> {
    this.corePlatform = corePlatform;
    const reader = new HistoryReader(corePlatform.storage);
    this.historyReader = reader;
    const account = await reader.account();
    if (account) {
      // Show the conversations from storage at once; the core (and libsodium) loads once they are painted, or
      // sooner when something needs it (a send in the first instant waits for it).
      this.store.set({ phase: { kind: 'ready', username: account.username ?? account.accountId.slice(0, 8) } });
      const load = new DeferredLoad(() => this.loadCore(corePlatform));
      this.messengerLoad = load;
      load.later((run) => this.afterFirstScreen(run));
      return;
    }
    this.store.set({ phase: { kind: 'onboarding', info: null, offline: !this.platform.capabilities.isOnline() } });
    // Registering, logging in or linking needs the core: it loads while the user reads the screen.
    this.prefetchCore();
    this.info = await fetchServerInfo(corePlatform.http, this.options.serverUrl);
    const sso = this.takeSso();
    if (this.store.get().phase.kind === 'onboarding')
      this.store.set({
        phase: { kind: 'onboarding', info: this.info, offline: !this.info, ...(sso ? { sso: sso.onboarding } : {}) },
      });
    if (sso?.register) await this.registerWithSso(sso.register.username, sso.register.token);
  }

  /** The single sign-on the app opened with, used once: what onboarding shows, and a token to register with. */
  private takeSso(): { onboarding: SsoOnboarding; register?: { username: string; token: string } } | null {
    const taken = this.ssoReturn;
    this.ssoReturn = null;
    if (!taken) return null;
    if (taken.kind === 'error') {
      const reason = SSO_CALLBACK_ERRORS.find((code) => code === taken.code) ?? 'provider';
      return { onboarding: { state: 'error', reason } };
    }
    if (taken.existing) {
      this.ssoLinkToken = taken.token;
      return { onboarding: { state: 'link', username: taken.username } };
    }
    return {
      onboarding: { state: 'registering', username: taken.username },
      register: { username: taken.username, token: taken.token },
    };
  }

  /** Registers this browser with a single sign-on's token; a refusal is shown on the onboarding screen. */
  private async registerWithSso(username: string, token: string): Promise<void> {
    const corePlatform = this.corePlatform;
    if (!corePlatform) return;
    const fail = (reason: SsoFailure): void => {
      if (this.store.get().phase.kind === 'onboarding')
        this.store.set({
          phase: { kind: 'onboarding', info: this.info, offline: !this.info, sso: { state: 'error', reason } },
        });
    };
    let registerSsoMessenger: CoreModule['registerSsoMessenger'];
    try {
      ({ registerSsoMessenger } = await this.loadCoreModule());
    } catch {
      fail('network');
      return;
    }
    const deviceName = deviceNameOrNone(this.platform.capabilities.deviceLabel());
    const result = await registerSsoMessenger(
      corePlatform,
      this.onVisible,
      this.options.serverUrl,
      username,
      token,
      deviceName,
    );
    if (typeof result === 'string') fail(result);
    else this.attach(result);
  }

  private loadCoreModule(): Promise<CoreModule> {
    if (this.core) return this.core;
    const core = importCore();
    // A failed fetch is forgotten, so the next use tries again.
    core.catch(() => {
      if (this.core === core) this.core = null;
    });
    this.core = core;
    return core;
  }

  /** Fetches the core's chunks after the current screen is painted (nothing waits for it; a failure retries on use). */
  private prefetchCore(): void {
    this.platform.capabilities.afterPaint(() => void this.loadCoreModule().catch(() => undefined));
  }

  /** Runs `run` after the first screen reported its data and was painted, or after FIRST_SCREEN_WAIT_MS. */
  private afterFirstScreen(run: () => void): void {
    let fired = false;
    const go = (): void => {
      if (fired) return;
      fired = true;
      clearTimeout(bound);
      this.onFirstScreen = null;
      this.platform.capabilities.afterPaint(run);
    };
    const bound = setTimeout(go, FIRST_SCREEN_WAIT_MS);
    this.onFirstScreen = go;
  }

  /** Visibility changes, for the messenger's expiry sweeps. */
  private readonly onVisible = (listener: () => void): (() => void) => this.platform.capabilities.onVisible(listener);

  private async loadCore(corePlatform: Platform): Promise<MessengerPort | null> {
    const { loadMessenger } = await this.loadCoreModule();
    const messenger = await loadMessenger(corePlatform, this.onVisible, this.options.serverUrl);
    if (messenger) this.attach(messenger);
    return messenger;
  }

  private async register(
    username: string,
    inviteCode: string | null,
    password: string | null,
  ): Promise<RegisterResult> {
    const corePlatform = this.corePlatform;
    if (!corePlatform) return { ok: false, error: 'other' };
    const { registerMessenger } = await this.loadCoreModule();
    // The browser names itself in the device list ("Chrome on Linux"), as a linked one does unless renamed.
    const deviceName = deviceNameOrNone(this.platform.capabilities.deviceLabel());
    const result = await registerMessenger(
      corePlatform,
      this.onVisible,
      this.options.serverUrl,
      username,
      inviteCode,
      password,
      deviceName,
    );
    if (typeof result === 'string') return { ok: false, error: result };
    this.attach(result);
    return { ok: true };
  }

  private async login(username: string, password: string): Promise<LoginResult> {
    const corePlatform = this.corePlatform;
    if (!corePlatform) return { ok: false, error: 'other' };
    let loginMessenger: CoreModule['loginMessenger'];
    try {
      ({ loginMessenger } = await this.loadCoreModule());
    } catch {
      return { ok: false, error: 'network' };
    }
    // Named in the device list like a registered or linked browser ("Chrome on Linux").
    const deviceName = deviceNameOrNone(this.platform.capabilities.deviceLabel());
    const result = await loginMessenger(
      corePlatform,
      this.onVisible,
      this.options.serverUrl,
      username,
      password,
      deviceName,
    );
    if (typeof result === 'string') return { ok: false, error: result };
    this.attach(result);
    return { ok: true };
  }

  private async link(options: {
    deviceName: () => string | undefined;
    onUri: (uri: string) => void;
    signal: AbortSignal;
    onHistoryProgress?: (progress: HistoryProgressView) => void;
  }): Promise<LinkResult> {
    const corePlatform = this.corePlatform;
    if (!corePlatform) return { ok: false, error: 'other' };
    let linkMessenger: CoreModule['linkMessenger'];
    try {
      ({ linkMessenger } = await this.loadCoreModule());
    } catch {
      return { ok: false, error: 'network' };
    }
    let historyEnded = false;
    const result = await linkMessenger(corePlatform, this.onVisible, this.options.serverUrl, {
      ...options,
      ...(this.ssoLinkToken === null ? {} : { ssoToken: this.ssoLinkToken }),
      onHistoryProgress: (progress) => {
        if (progress.phase === 'done' || progress.phase === 'failed') historyEnded = true;
        options.onHistoryProgress?.(progress);
      },
    });
    if (typeof result === 'string') return { ok: false, error: result };
    // With history, the link screen shows how the transfer ended and opens the app when the user goes on.
    if (historyEnded && options.onHistoryProgress) return { ok: true, open: () => this.attach(result) };
    this.attach(result);
    return { ok: true };
  }

  private attach(messenger: MessengerPort): void {
    this.loadedMessenger = messenger;
    messenger.subscribe((event) => this.onEvent(event));
    messenger.start();
    this.store.set({ phase: { kind: 'ready', username: messenger.username } });
    // Every shown view reads again: opening the core may have changed what is stored (its storage migrations run
    // before it returns, e.g. a profile of layout 1 whose messages move under `direct:` conversation ids), and the
    // views read so far came from the tables as they were. Without this, a chat opened before the core had loaded
    // showed an older profile's history as empty until something else changed.
    this.store.bump();
    void this.refreshPush();
  }

  private onEvent(event: MessengerEvent): void {
    switch (event.type) {
      case 'typing':
        this.peerTyping.set(event.conversationId, event.action === 'started', event.accountId);
        return;
      case 'message-added':
        if (event.message.direction === 'incoming') this.peerTyping.set(event.message.conversationId, false);
        this.store.bump();
        return;
      // A group's change (`group-updated`) redraws the list, the chat header and the group info. So does a contact's
      // profile name, avatar or nickname (`contact-updated`): titles and avatars redraw.
      case 'message-updated':
      case 'message-removed':
      case 'conversation-updated':
      case 'receipt':
      case 'identity-changed':
      case 'group-updated':
      case 'conversation-removed':
      case 'block-list-changed':
      case 'contact-updated':
      case 'profile-updated':
      case 'account-settings-updated':
        this.store.bump();
        return;
      case 'connection': {
        const linked = (this.loadedMessenger?.deviceId ?? PRIMARY_DEVICE_ID) !== PRIMARY_DEVICE_ID;
        const server = this.serverLink.next(effectiveState(event.state, linked));
        // The primary removed this device (socket closed 4004): the messenger stopped for good; say so.
        if (server === 'removed') this.store.set({ phase: { kind: 'removed' } });
        // A server that answers proves a network, whatever navigator.onLine thought.
        this.setLink(event.state === 'online' ? { server, online: true } : { server });
        this.crossContext?.announceServerLink(server);
        return;
      }
      case 'attachment-progress': {
        // Progress is not committed state: it lives here while bytes move and is dropped once all of them did.
        const progress = new Map(this.store.get().progress);
        const key = `${event.messageId}#${event.index}`;
        if (event.sent >= event.total) progress.delete(key);
        else progress.set(key, { direction: event.direction, sent: event.sent, total: event.total });
        this.store.set({ progress });
        return;
      }
      case 'own-device-added':
        this.store.set({ deviceAdded: event.deviceId });
        return;
      case 'queue-empty':
      case 'prekeys-uploaded':
      case 'message-rejected':
      case 'session-reset':
      case 'session-reset-limited':
      case 'reaction':
      case 'message-edited':
      case 'message-deleted':
      case 'group-update-rejected':
      case 'group-message-undecryptable':
        // Reactions, edits and deletes also come as `message-updated`, which redraws.
        return;
    }
  }

  /** Changes the browser's connectivity or the server link, and with them what the indicator says. */
  private setLink(patch: Partial<Pick<AppState, 'online' | 'server'>>): void {
    const { online, server } = { ...this.store.get(), ...patch };
    this.store.set({ ...patch, connection: connectionStatus(online, server) });
  }

  /** Recounts the unread messages for the title and the app badge when the data changed. */
  private onStateChange(): void {
    const { revision, phase } = this.store.get();
    if (phase.kind !== 'ready' || revision === this.unreadRevision) return;
    this.unreadRevision = revision;
    if (this.unreadRunning) {
      this.unreadAgain = true;
      return;
    }
    void this.countUnread();
  }

  private async countUnread(): Promise<void> {
    const reader = this.historyReader;
    if (!reader) return;
    this.unreadRunning = true;
    try {
      do {
        this.unreadAgain = false;
        const [ids, preferences] = await Promise.all([reader.conversations(), reader.chatPreferences()]);
        const conversations = await Promise.all(ids.map((id) => reader.conversation(id)));
        const now = Date.now();
        // Muted conversations count neither in the title nor on the badge (as in Signal).
        const total = conversations.reduce(
          (sum, c) =>
            c && isMuted(toChatPreferences(preferences.get(c.id)), now) ? sum : sum + countOrZero(c?.unreadCount),
          0,
        );
        this.platform.capabilities.showUnread(total);
      } while (this.unreadAgain);
    } catch {
      // A locked or closing vault: the next change counts again.
    } finally {
      this.unreadRunning = false;
    }
  }

  private async refreshPush(): Promise<void> {
    try {
      const registration = await this.updates?.ready;
      const corePlatform = this.corePlatform;
      if (!registration || !corePlatform || !this.loadedMessenger) return;
      this.info ??= await fetchServerInfo(corePlatform.http, this.options.serverUrl);
      if (!this.info?.vapidPublicKey) return;
      const subscription = await this.platform.refreshPushSubscription(registration, this.info.vapidPublicKey);
      if (subscription) await this.loadedMessenger.setPushSubscription(subscription);
    } catch {
      // Push is an optimisation: without it the app still receives everything when opened.
    }
  }
}
