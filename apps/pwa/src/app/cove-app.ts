/**
 * The app model behind the UI (`CoveApp`): owns the startup sequence (open the vault, unlock, load or create the
 * account, connect), turns messenger events and other contexts' commits into view revisions, and carries out the
 * user's actions on the messenger, the vault, settings, notifications, push and app updates. It holds no key
 * material itself and shows nothing; the UI renders its state.
 */
import type { MessengerEvent } from '@cove/client';
import type { BrowserPlatform } from '../platform/browser-platform.js';
import { openBrowserPlatform, unlockBrowserPlatform } from '../platform/browser-platform.js';
import * as device from '../platform/device.js';
import { openCoveDatabase } from '../platform/idb/database.js';
import type { CoveDatabase } from '../platform/idb/schema.js';
import { refreshPushSubscription } from '../platform/push.js';
import { listenToOtherContexts, type CrossContext } from '../platform/cross-context.js';
import { readSettings, writeSettings } from '../platform/settings.js';
import { registerServiceWorker, type UpdateHandle } from '../platform/sw-registration.js';
import {
  MIN_PASSPHRASE_LENGTH,
  removePassphrase,
  setPassphrase,
  vaultMode,
  WrongPassphraseError,
} from '../platform/vault.js';
import { HistoryReader } from './history-reader.js';
import { fetchServerInfo } from './server-info.js';
import { toChatMessage, toSummary } from './view-data.js';
import type { MessengerPort } from './messenger-port.js';
import type * as CoreModuleValue from './messenger-adapter.js';
import type {
  AppState,
  ChatMessage,
  ConversationSummary,
  CoveApp,
  RegisterResult,
  SafetyInfo,
  ServerInfo,
  StartChatResult,
} from './model.js';

type CoreModule = typeof CoreModuleValue;

/** A peer's "typing" expires after this long without a refresh, as in Signal, in case the "stopped" is lost. */
const TYPING_EXPIRY_MS = 15_000;
/** Re-send "typing started" at most this often while the user keeps typing. */
const TYPING_REFRESH_MS = 10_000;

export class BrowserCoveApp implements CoveApp {
  readonly minPassphraseLength = MIN_PASSPHRASE_LENGTH;
  private state: AppState;
  private readonly listeners = new Set<() => void>();
  private db: CoveDatabase | null = null;
  private platform: BrowserPlatform | null = null;
  private messenger: MessengerPort | null = null;
  /** Resolves once the messenger core has loaded (it is fetched after the first screen is shown). */
  private messengerReady: Promise<MessengerPort | null> = Promise.resolve(null);
  private reader: HistoryReader | null = null;
  private crossContext: CrossContext | null = null;
  private core: Promise<CoreModule> | null = null;
  private info: ServerInfo | null = null;
  private updates: UpdateHandle | null = null;
  private readonly typingTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly ownTyping = new Map<string, number>();
  private bumpQueued = false;

  constructor(
    private readonly serverUrl: string,
    private readonly onLanguage: (setting: string | null) => Promise<void>,
  ) {
    this.state = {
      phase: { kind: 'loading' },
      online: device.isOnline(),
      updateReady: false,
      revision: 0,
      typing: new Set(),
      settings: { language: null, previews: true },
      passphraseSet: false,
      notifications: device.notificationPermission(),
      persisted: null,
    };
  }

  getState(): AppState {
    return this.state;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private set(patch: Partial<AppState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  /** Coalesces many changes in one tick into one revision bump (one reload of the visible views). */
  private bump(): void {
    if (this.bumpQueued) return;
    this.bumpQueued = true;
    queueMicrotask(() => {
      this.bumpQueued = false;
      this.set({ revision: this.state.revision + 1 });
    });
  }

  /** Starts everything; resolves once the first screen is known. A failure shows the error screen. */
  async start(): Promise<void> {
    try {
      await this.startUp();
    } catch (error) {
      // eslint-disable-next-line no-console -- the only diagnostics sink in a page; the name carries no user data
      console.error('[cove:app] start failed', error instanceof Error ? error.name : typeof error);
      this.set({ phase: { kind: 'failed' } });
    }
  }

  private async startUp(): Promise<void> {
    // Fetch the core (and libsodium) in parallel with opening the database; the first screen does not wait for it.
    this.core = import('./messenger-adapter.js');
    this.core.catch(() => undefined);
    const db = await openCoveDatabase();
    this.db = db;
    const settings = await readSettings(db);
    this.set({ settings, passphraseSet: (await vaultMode(db)) === 'passphrase' });
    device.onConnectivityChange((online) => this.set({ online }));
    void device.isPersisted().then((persisted) => this.set({ persisted }));
    this.crossContext = listenToOtherContexts(() => this.bump());
    this.updates = registerServiceWorker();
    this.updates.onUpdateReady(() => this.set({ updateReady: true }));
    const opened = await openBrowserPlatform('page', db);
    if ('locked' in opened) {
      this.set({ phase: { kind: 'locked' } });
      return;
    }
    await this.enter(opened);
  }

  private async enter(platform: BrowserPlatform): Promise<void> {
    this.platform = platform;
    const reader = new HistoryReader(platform.storage);
    this.reader = reader;
    const account = await reader.account();
    if (account) {
      // Show the conversations at once; the core (and libsodium) loads meanwhile.
      this.set({ phase: { kind: 'ready', username: account.username ?? account.accountId.slice(0, 8) } });
      this.messengerReady = this.loadCore(platform);
      return;
    }
    this.set({ phase: { kind: 'onboarding', info: null, offline: !device.isOnline() } });
    this.info = await fetchServerInfo(platform.http, this.serverUrl);
    if (this.state.phase.kind === 'onboarding')
      this.set({ phase: { kind: 'onboarding', info: this.info, offline: !this.info } });
  }

  private loadCoreModule(): Promise<CoreModule> {
    this.core ??= import('./messenger-adapter.js');
    return this.core;
  }

  private async loadCore(platform: BrowserPlatform): Promise<MessengerPort | null> {
    const { loadMessenger } = await this.loadCoreModule();
    const messenger = await loadMessenger(platform, this.serverUrl);
    if (messenger) this.attach(messenger);
    return messenger;
  }

  private attach(messenger: MessengerPort): void {
    this.messenger = messenger;
    this.messengerReady = Promise.resolve(messenger);
    messenger.subscribe((event) => this.onEvent(event));
    messenger.start();
    this.set({ phase: { kind: 'ready', username: messenger.username } });
    void this.refreshPush();
  }

  private onEvent(event: MessengerEvent): void {
    switch (event.type) {
      case 'typing':
        this.setPeerTyping(event.conversationId, event.action === 'started');
        return;
      case 'message-added':
        if (event.message.direction === 'incoming') this.setPeerTyping(event.message.conversationId, false);
        this.bump();
        return;
      case 'message-updated':
      case 'message-removed':
      case 'conversation-updated':
      case 'receipt':
      case 'identity-changed':
        this.bump();
        return;
      case 'connection':
        if (event.state === 'online') this.set({ online: true });
        return;
      case 'queue-empty':
      case 'prekeys-uploaded':
      case 'message-rejected':
      case 'session-reset':
      case 'session-reset-limited':
        return;
    }
  }

  private setPeerTyping(conversationId: string, typing: boolean): void {
    const timer = this.typingTimers.get(conversationId);
    if (timer) clearTimeout(timer);
    this.typingTimers.delete(conversationId);
    const next = new Set(this.state.typing);
    if (typing) {
      next.add(conversationId);
      this.typingTimers.set(
        conversationId,
        setTimeout(() => this.setPeerTyping(conversationId, false), TYPING_EXPIRY_MS),
      );
    } else next.delete(conversationId);
    if (next.size !== this.state.typing.size || typing !== this.state.typing.has(conversationId))
      this.set({ typing: next });
  }

  private async refreshPush(): Promise<void> {
    try {
      const registration = await this.updates?.ready;
      const platform = this.platform;
      if (!registration || !platform || !this.messenger) return;
      this.info ??= await fetchServerInfo(platform.http, this.serverUrl);
      if (!this.info?.vapidPublicKey) return;
      const subscription = await refreshPushSubscription(registration, this.info.vapidPublicKey);
      if (subscription) await this.messenger.setPushSubscription(subscription);
    } catch {
      // Push is an optimisation: without it the app still receives everything when opened.
    }
  }

  private async requireMessenger(): Promise<MessengerPort> {
    const messenger = this.messenger ?? (await this.messengerReady);
    if (!messenger) throw new Error('not registered');
    return messenger;
  }

  async register(username: string, inviteCode: string | null): Promise<RegisterResult> {
    const platform = this.platform;
    if (!platform) return { ok: false, error: 'other' };
    const { registerMessenger } = await this.loadCoreModule();
    const result = await registerMessenger(platform, this.serverUrl, username, inviteCode);
    if (typeof result === 'string') return { ok: false, error: result };
    this.attach(result);
    return { ok: true };
  }

  async unlock(passphrase: string): Promise<boolean> {
    if (!this.db) return false;
    try {
      const platform = await unlockBrowserPlatform(this.db, passphrase, 'page');
      await this.enter(platform);
      return true;
    } catch (error) {
      if (error instanceof WrongPassphraseError) return false;
      // eslint-disable-next-line no-console -- the only diagnostics sink in a page; the name carries no user data
      console.error('[cove:app] unlock failed', error instanceof Error ? error.name : typeof error);
      this.set({ phase: { kind: 'failed' } });
      return true;
    }
  }

  async conversations(): Promise<ConversationSummary[]> {
    const reader = this.reader;
    if (!reader) return [];
    const ids = await reader.conversations();
    const summaries = await Promise.all(ids.map((id) => this.summarize(reader, id)));
    return summaries.filter((s): s is ConversationSummary => s !== undefined);
  }

  private async summarize(reader: HistoryReader, id: string): Promise<ConversationSummary | undefined> {
    const c = await reader.conversation(id);
    if (!c) return undefined;
    const lastKey: unknown = c.lastMessageKey;
    const [last, trust] = await Promise.all([reader.message(lastKey), reader.trust(id)]);
    const view = last && typeof lastKey === 'string' ? toChatMessage(lastKey, last, id) : undefined;
    return toSummary(id, c, view, trust);
  }

  async conversation(id: string): Promise<ConversationSummary | undefined> {
    return this.reader ? this.summarize(this.reader, id) : undefined;
  }

  async messages(conversationId: string, options: { before?: string; limit: number }): Promise<ChatMessage[]> {
    if (!this.reader) return [];
    const entries = await this.reader.messages(conversationId, options);
    return entries.map((e) => toChatMessage(e.key, e.value, conversationId));
  }

  async startChat(username: string): Promise<StartChatResult> {
    const result = await (await this.requireMessenger()).startChat(username);
    if (!result.ok) return result;
    this.bump();
    return { ok: true, conversationId: result.conversation.id };
  }

  async send(conversationId: string, text: string): Promise<void> {
    this.ownTyping.delete(conversationId);
    await (await this.requireMessenger()).sendText(conversationId, text);
  }

  async retry(_conversationId: string, messageId: string): Promise<void> {
    await (await this.requireMessenger()).retry(messageId);
  }

  async markRead(conversationId: string): Promise<void> {
    await (await this.requireMessenger()).markRead(conversationId);
  }

  setTyping(conversationId: string, typing: boolean): void {
    const messenger = this.messenger;
    if (!messenger) return;
    const last = this.ownTyping.get(conversationId);
    const now = Date.now();
    if (typing) {
      if (last !== undefined && now - last < TYPING_REFRESH_MS) return;
      this.ownTyping.set(conversationId, now);
    } else {
      if (last === undefined) return;
      this.ownTyping.delete(conversationId);
    }
    void messenger.typing(conversationId, typing).catch(() => undefined);
  }

  async safety(conversationId: string): Promise<SafetyInfo> {
    const messenger = await this.requireMessenger();
    const [conversation, number] = await Promise.all([
      this.reader?.conversation(conversationId),
      messenger.safetyNumber(conversationId),
    ]);
    return {
      title: conversation?.peerUsername ?? conversationId.slice(0, 8),
      digits: number.digits,
      qrPayload: number.scannable,
      verified: number.trust === 'verified',
      identityChanged: number.trust === 'unverified' && number.changedAt !== null,
    };
  }

  async compareSafety(conversationId: string, scanned: string): Promise<boolean> {
    const number = await (await this.requireMessenger()).safetyNumber(conversationId);
    const trimmed = scanned.trim();
    if (trimmed === number.scannable) return true;
    return trimmed.replace(/\D/g, '') === number.digits;
  }

  async markVerified(conversationId: string, digitsShown: string): Promise<'verified' | 'changed'> {
    const result = await (await this.requireMessenger()).verify(conversationId, digitsShown);
    this.bump();
    return result;
  }

  async setLanguage(language: string | null): Promise<void> {
    if (!this.db) return;
    const settings = await writeSettings(this.db, { language });
    await this.onLanguage(language);
    this.set({ settings });
  }

  async setPreviews(previews: boolean): Promise<void> {
    if (!this.db) return;
    // Show the switch in its new position at once (a controlled input would snap back until the write is done).
    this.set({ settings: { ...this.state.settings, previews } });
    this.set({ settings: await writeSettings(this.db, { previews }) });
  }

  async setPassphrase(passphrase: string): Promise<void> {
    const { db, platform } = this;
    if (!db || !platform) return;
    await this.messenger?.stop();
    try {
      // The vault takes its lock itself; the store switches to the new keys before any other commit can start.
      await setPassphrase(db, platform.sealed.currentKeys(), passphrase, (keys) => platform.sealed.rekeyed(keys));
      this.set({ passphraseSet: true });
      this.crossContext?.announceVaultChange();
    } finally {
      this.messenger?.start();
    }
  }

  async removePassphrase(passphrase: string): Promise<boolean> {
    if (!this.db) return false;
    try {
      await removePassphrase(this.db, passphrase);
      this.set({ passphraseSet: false });
      return true;
    } catch (error) {
      if (error instanceof WrongPassphraseError) return false;
      throw error;
    }
  }

  async requestPersistence(): Promise<boolean> {
    const persisted = await device.requestPersistence();
    this.set({ persisted });
    return persisted;
  }

  async enableNotifications(): Promise<AppState['notifications']> {
    const notifications = await device.requestNotificationPermission();
    this.set({ notifications });
    if (notifications === 'granted') void this.refreshPush();
    return notifications;
  }

  applyUpdate(): void {
    this.updates?.apply();
  }

  canScan(): boolean {
    return device.canScan();
  }

  scanQr(video: HTMLVideoElement, signal: AbortSignal): Promise<string | null> {
    return device.scanQr(video, signal);
  }
}
