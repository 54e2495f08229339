/**
 * Adapts the messenger core (`Messenger` from `@cove/client`) to the app's MessengerPort over the core's platform
 * (the browser's, handed in by the app shell). One tab at a time holds the live connection (a Web Lock elects
 * it; when that tab closes the next one takes over): the others send over HTTP and see new data through the
 * commit broadcasts, so several tabs never fight over the device's socket. Decryption and session updates are
 * serialized by the core's own locks, which the platform maps to Web Locks shared with the service worker.
 * Every tab also sweeps expired disappearing messages, on an interval and whenever it becomes visible.
 */
import {
  ClientError,
  ClientErrorCode,
  Messenger,
  SafetyNumberMismatchError,
  validatePassword,
  type AccountRecord,
  type ConversationEntry,
  type HistoryTransferProgress,
  type MessageInfo,
  type MessengerEvent,
  type OutgoingAttachment,
  type Platform,
  type SearchResult,
} from '@cove/client';
import { toBase64 } from '@cove/protocol';
import type { Capabilities } from './app-platform.js';
import type {
  GroupError,
  GroupResult,
  LookupResult,
  MessengerPort,
  OwnProfileView,
  LoginError,
  RegistrationError,
  SafetyNumber,
} from './messenger-port.js';
import type {
  AddDeviceResult,
  AttachmentFailure,
  DeviceView,
  DirectoryMatch,
  LinkResult,
  OrganizationView,
  PasswordResult,
  RemoveDeviceResult,
  HistoryProgressView,
  SsoFailure,
} from './model.js';
import { HistoryReader } from './history-reader.js';
import { AdminAdapter } from './admin-adapter.js';

/** How registration failures are shown; everything else is "something went wrong". */
const REGISTRATION_ERRORS: Partial<Record<ClientErrorCode, RegistrationError>> = {
  [ClientErrorCode.UsernameTaken]: 'taken',
  [ClientErrorCode.InviteRequired]: 'invite',
  [ClientErrorCode.InvalidInput]: 'invalid',
  [ClientErrorCode.ServerUnreachable]: 'network',
  [ClientErrorCode.RateLimited]: 'network',
};

/** The attachment failures the UI explains in words of their own; anything else is "something went wrong". */
const ATTACHMENT_FAILURES: Partial<Record<ClientErrorCode, AttachmentFailure>> = {
  [ClientErrorCode.AttachmentTooLarge]: 'too_large',
  [ClientErrorCode.AttachmentQuota]: 'quota',
  [ClientErrorCode.RateLimited]: 'rate_limited',
  [ClientErrorCode.ServerUnreachable]: 'network',
  [ClientErrorCode.AttachmentUnverified]: 'unverified',
  [ClientErrorCode.AttachmentUnavailable]: 'unavailable',
  [ClientErrorCode.AttachmentsUnsupported]: 'unsupported',
};

/** How a failure to send the account to a new device is shown; anything else is "something went wrong". */
const ADD_DEVICE_ERRORS: Partial<Record<ClientErrorCode, Extract<AddDeviceResult, { ok: false }>['error']>> = {
  [ClientErrorCode.InvalidInput]: 'invalid',
  // The server's 404 for the channel: the new device stopped waiting (expired, used, or never there).
  [ClientErrorCode.LinkFailed]: 'expired',
  [ClientErrorCode.NotPrimary]: 'not-primary',
  [ClientErrorCode.ServerUnreachable]: 'network',
  [ClientErrorCode.RateLimited]: 'network',
};

/** How a failure to link this browser is shown; anything else is "something went wrong". */
const LINK_ERRORS: Partial<Record<ClientErrorCode, Extract<LinkResult, { ok: false }>['error']>> = {
  [ClientErrorCode.LinkFailed]: 'refused',
  [ClientErrorCode.DeviceLimit]: 'limit',
  [ClientErrorCode.ServerUnreachable]: 'network',
  [ClientErrorCode.RateLimited]: 'network',
  [ClientErrorCode.SsoRequired]: 'sso',
};

const linkError = (error: unknown, aborted: boolean): Extract<LinkResult, { ok: false }>['error'] => {
  if (aborted) return 'cancelled';
  if (!(error instanceof ClientError)) return 'other';
  // The channel closing 4008 (nobody used the code in time) reads differently from a message that was refused.
  if (error.code === ClientErrorCode.LinkFailed && /expired/.test(error.message)) return 'expired';
  return LINK_ERRORS[error.code] ?? 'other';
};

const attachmentFailure = (error: unknown): AttachmentFailure =>
  error instanceof ClientError ? (ATTACHMENT_FAILURES[error.code] ?? 'other') : 'other';

/** How a refused group call is shown: unknown names, no network, not allowed; anything else is invalid input. */
const groupError = (error: unknown): GroupError => {
  if (!(error instanceof ClientError)) return 'invalid';
  if (error.code === ClientErrorCode.UnknownUser) return 'unknown';
  if (error.code === ClientErrorCode.ServerUnreachable || error.code === ClientErrorCode.RateLimited) return 'network';
  // The core says "only an admin can change this group" / "no longer in this group" as InvalidInput.
  if (error.code === ClientErrorCode.InvalidInput && /admin|no longer/.test(error.message)) return 'forbidden';
  return 'invalid';
};

/**
 * The core's history transfer progress as the screens show it: a percentage, and at the end the message count and
 * the notices dropped (when any were).
 */
export const historyProgressView = (p: HistoryTransferProgress): HistoryProgressView => ({
  phase: p.phase,
  percent: p.phase === 'done' ? 100 : p.total > 0 ? Math.floor((p.done * 100) / p.total) : 0,
  ...(p.phase === 'done' ? { messages: p.imported ?? p.total } : {}),
  ...(p.phase === 'done' && p.dropped ? { droppedNotices: p.dropped } : {}),
});

const historyView =
  (report: (progress: HistoryProgressView) => void) =>
  (p: HistoryTransferProgress): void =>
    report(historyProgressView(p));

/** The device that registered the account; it alone links and removes the others (docs/linking.md). */
const PRIMARY_DEVICE_ID = 1;

const GROUP_PREFIX = 'group:';
const isGroupConversation = (id: string): boolean => id.startsWith(GROUP_PREFIX);

/** The lock held by the tab that owns the live connection. */
const CONNECTION_LOCK = 'connection';
/**
 * How often every tab deletes disappearing messages whose timer ran out, whether or not it holds the connection
 * (the core sweeps only while connected): the history reader hides them at once, this removes them from storage.
 */
const EXPIRY_SWEEP_MS = 15_000;

const utf8 = new TextEncoder();

/** The core's conversation id for a route id: a bare account id names the direct conversation with it. */
export const conversationKeyOf = (id: string): string => (id.includes(':') ? id : `direct:${id}`);

/** A quote carries an excerpt, not a copy: the protocol's bound is 2,048 bytes; 200 characters is a preview. */
const QUOTE_EXCERPT_CHARS = 200;

const quoteExcerpt = (text: string): string => {
  const chars = [...text];
  return chars.length > QUOTE_EXCERPT_CHARS ? `${chars.slice(0, QUOTE_EXCERPT_CHARS).join('')}…` : text;
};

class MessengerAdapter implements MessengerPort {
  private releaseLeadership: (() => void) | null = null;
  private leading = false;
  private stopped = true;
  private sweepTimer: ReturnType<typeof setInterval> | null = null;
  private stopVisibility: (() => void) | null = null;
  private readonly reader: HistoryReader;
  readonly admin: AdminAdapter;

  constructor(
    private readonly messenger: Messenger,
    private readonly platform: Platform,
    private readonly onVisible: Capabilities['onVisible'],
    readonly username: string,
    readonly deviceId: number,
  ) {
    this.reader = new HistoryReader(platform.storage);
    this.admin = new AdminAdapter(messenger);
  }

  subscribe(listener: (event: MessengerEvent) => void): () => void {
    return this.messenger.subscribe((event) => {
      // A group message's sender is named by their profile (its key came with the message): fetched in the
      // background when missing or old (at most hourly per member); `contact-updated` then redraws the names.
      if (
        event.type === 'message-added' &&
        event.message.direction === 'incoming' &&
        isGroupConversation(event.message.conversationId)
      )
        void this.messenger.groupMemberNames(event.message.conversationId).catch(() => undefined);
      listener(event);
    });
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.platform.locks
      .withLock(CONNECTION_LOCK, async () => {
        if (this.stopped) return;
        const released = new Promise<void>((resolve) => {
          this.releaseLeadership = resolve;
        });
        this.leading = true;
        try {
          await this.messenger.connect();
        } catch (error) {
          this.platform.logger.warn('connect failed', { error: error instanceof ClientError ? error.code : 'unknown' });
        }
        await released;
        this.leading = false;
      })
      .catch(() => undefined);
    void this.messenger.flushOutbox().catch(() => undefined);
    this.sweep();
    this.sweepTimer = setInterval(() => this.sweep(), EXPIRY_SWEEP_MS);
    this.stopVisibility = this.onVisible(() => {
      this.sweep();
      this.reconnectNow();
    });
  }

  holdsConnection(): boolean {
    return this.leading;
  }

  reconnectNow(): void {
    if (this.leading) this.messenger.reconnectNow();
  }

  /** Deletes expired disappearing messages now; failures (a locked vault) wait for the next round. */
  private sweep(): void {
    void this.messenger
      .sweepExpired()
      .catch((error: unknown) =>
        this.platform.logger.warn('expiry sweep failed', { error: error instanceof Error ? error.name : 'unknown' }),
      );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    this.stopVisibility?.();
    this.stopVisibility = null;
    await this.messenger.disconnect();
    this.releaseLeadership?.();
    this.releaseLeadership = null;
  }

  async directory(query: string): Promise<DirectoryMatch[] | null> {
    try {
      const self = await this.messenger.account();
      return (await this.messenger.organization.directory(query)).filter((m) => m.accountId !== self.accountId);
    } catch (error) {
      if (error instanceof ClientError && error.code === ClientErrorCode.DirectoryDisabled) return null;
      return [];
    }
  }

  async startChat(username: string): Promise<LookupResult> {
    try {
      const accountId = await this.messenger.resolve(username);
      const self = await this.messenger.account();
      if (accountId === self.accountId) return { ok: false, error: 'self' };
      const conversation = await this.reader.conversation(accountId);
      if (!conversation) return { ok: false, error: 'unknown' };
      return { ok: true, conversation };
    } catch (error) {
      if (
        error instanceof ClientError &&
        (error.code === ClientErrorCode.UnknownUser || error.code === ClientErrorCode.InvalidInput)
      )
        return { ok: false, error: 'unknown' };
      return { ok: false, error: 'network' };
    }
  }

  async sendText(conversationId: string, text: string, replyTo?: string): Promise<void> {
    const quoted = replyTo === undefined ? undefined : await this.messenger.message(replyTo);
    // A reply quotes the message in its own conversation only (a group's quote names one of the group's messages).
    const options =
      quoted &&
      quoted.deletedAt === undefined &&
      (!isGroupConversation(conversationId) || quoted.conversationId === conversationId)
        ? {
            quote: {
              timestamp: quoted.timestamp,
              authorAccountId: quoted.authorAccountId,
              text: quoteExcerpt(quoted.text),
            },
          }
        : {};
    if (isGroupConversation(conversationId)) {
      // A group's message is stored elsewhere (group-sender.ts): its draft goes in a commit of its own, as before.
      const cleared = this.setDraft(conversationId, '').catch(() => undefined);
      try {
        await this.messenger.sendGroupText(conversationId, text, options);
      } finally {
        await cleared;
      }
      return;
    }
    try {
      // The draft was this message: removed in the commit that stores it (no second commit, no second reload of the
      // open views ahead of the send).
      await this.messenger.sendText(conversationId, text, { ...options, clearDraft: true });
    } catch (error) {
      // Refused before anything was stored (blocked, too long): the text left the composer all the same.
      await this.setDraft(conversationId, '').catch(() => undefined);
      throw error;
    }
  }

  async react(messageId: string, emoji: string, remove: boolean): Promise<void> {
    if (remove) await this.messenger.removeReaction(messageId, emoji);
    else await this.messenger.sendReaction(messageId, emoji);
  }

  async edit(messageId: string, text: string): Promise<void> {
    await this.messenger.editMessage(messageId, text);
  }

  async deleteForMe(messageId: string): Promise<void> {
    await this.messenger.deleteForMe(messageId);
  }

  async deleteForEveryone(messageId: string): Promise<void> {
    await this.messenger.deleteForEveryone(messageId);
  }

  async forward(messageId: string, toConversationId: string): Promise<void> {
    if (isGroupConversation(toConversationId)) {
      const message = await this.messenger.message(messageId);
      if (!message || message.deletedAt !== undefined || message.attachments?.length || message.system)
        throw new ClientError(ClientErrorCode.InvalidInput, 'this message cannot be forwarded');
      await this.messenger.sendGroupText(toConversationId, message.text);
      return;
    }
    await this.messenger.forward(messageId, toConversationId);
  }

  messageInfo(messageId: string): Promise<MessageInfo | null> {
    return this.messenger.messageInfo(messageId);
  }

  async sendAttachment(conversationId: string, attachment: OutgoingAttachment): Promise<AttachmentFailure | null> {
    try {
      if (isGroupConversation(conversationId)) await this.messenger.sendGroupAttachment(conversationId, attachment);
      else await this.messenger.sendAttachment(conversationId, attachment);
      return null;
    } catch (error) {
      this.platform.logger.warn('attachment not sent', {
        error: error instanceof ClientError ? error.code : 'unknown',
      });
      return attachmentFailure(error);
    }
  }

  async downloadAttachment(messageId: string, index: number): Promise<AttachmentFailure | null> {
    try {
      await this.messenger.downloadAttachment(messageId, index);
      return null;
    } catch (error) {
      return attachmentFailure(error);
    }
  }

  async openAttachment(messageId: string, index: number, type: string): Promise<Blob | AttachmentFailure> {
    try {
      // A Blob of pieces: the browser may keep a large one on disk rather than in memory.
      const pieces: Uint8Array<ArrayBuffer>[] = [];
      for await (const piece of this.messenger.readAttachment(messageId, index))
        pieces.push(piece as Uint8Array<ArrayBuffer>);
      return new Blob(pieces, { type });
    } catch (error) {
      return attachmentFailure(error);
    }
  }

  async retry(messageId: string): Promise<void> {
    await this.messenger.retrySend(messageId);
  }

  async markRead(conversationId: string): Promise<void> {
    await this.messenger.markRead(conversationId);
  }

  async setExpireTimer(conversationId: string, seconds: number | null): Promise<void> {
    await this.messenger.setExpireTimer(conversationId, seconds);
  }

  async setDraft(conversationId: string, text: string): Promise<void> {
    await this.messenger.setDraft(conversationKeyOf(conversationId), text);
  }

  async typing(conversationId: string, started: boolean): Promise<void> {
    // In a group the core sends it once with the sender key (best effort, as 1:1).
    await this.messenger.sendTyping(conversationId, started ? 'started' : 'stopped');
  }

  async safetyNumber(conversationId: string): Promise<SafetyNumber> {
    const identity = await this.messenger.identity(conversationId);
    if (!identity.safetyNumber) throw new ClientError(ClientErrorCode.UnknownUser, 'no identity key known');
    return {
      digits: identity.safetyNumber.digits,
      // The QR code carries the 60 digits: both sides compute the same number, so a scan compares directly.
      scannable: identity.safetyNumber.digits,
      trust: identity.trust === 'unknown' ? 'trusted-first-use' : identity.trust,
      changedAt: identity.changedAt,
    };
  }

  async profile(): Promise<OwnProfileView> {
    const own = await this.messenger.profile();
    return { name: own.name, about: own.about, avatar: own.avatar };
  }

  async setProfile(input: {
    name?: string;
    about?: string;
    avatar?: Uint8Array | null;
  }): Promise<'saved' | 'invalid' | 'network'> {
    try {
      await this.messenger.setProfile(input);
      return 'saved';
    } catch (error) {
      if (error instanceof ClientError && error.code === ClientErrorCode.InvalidInput) return 'invalid';
      if (error instanceof ClientError) return 'network';
      throw error;
    }
  }

  async sealedSenderSetting(refresh: boolean): Promise<'anyone' | 'contacts'> {
    if (!refresh) return this.messenger.sealedSenderSetting();
    try {
      return await this.messenger.sealedSenderSetting({ refresh: true });
    } catch (error) {
      if (error instanceof ClientError) return this.messenger.sealedSenderSetting();
      throw error;
    }
  }

  async setSealedSenderSetting(setting: 'anyone' | 'contacts'): Promise<'saved' | 'network'> {
    try {
      await this.messenger.setSealedSenderSetting(setting);
      return 'saved';
    } catch (error) {
      if (error instanceof ClientError) return 'network';
      throw error;
    }
  }

  async nickname(conversationId: string): Promise<string | null> {
    return (await this.messenger.contact(conversationId)).nickname;
  }

  async setNickname(conversationId: string, nickname: string | null): Promise<'saved' | 'invalid'> {
    try {
      await this.messenger.setNickname(conversationId, nickname);
      return 'saved';
    } catch (error) {
      if (error instanceof ClientError && error.code === ClientErrorCode.InvalidInput) return 'invalid';
      throw error;
    }
  }

  async verify(conversationId: string, digitsShown: string): Promise<'verified' | 'changed'> {
    try {
      await this.messenger.verify(conversationId, digitsShown);
      return 'verified';
    } catch (error) {
      // The key changed since the number was shown: nothing was marked, and the screen says so.
      if (error instanceof SafetyNumberMismatchError) return 'changed';
      throw error;
    }
  }

  async logout(): Promise<void> {
    await this.messenger.logout();
    await this.stop();
  }

  async deleteAccount(): Promise<void> {
    await this.messenger.deleteAccount();
    await this.stop();
  }

  async devices(): Promise<DeviceView[]> {
    return (await this.messenger.devices()).map((d) => ({
      deviceId: d.deviceId,
      name: d.name,
      createdAt: d.createdAt,
      lastActiveAt: d.lastSeenAt,
      current: d.current,
      primary: d.deviceId === PRIMARY_DEVICE_ID,
    }));
  }

  async addDevice(
    uri: string,
    options?: { history: boolean; onHistoryProgress?: (progress: HistoryProgressView) => void },
  ): Promise<AddDeviceResult> {
    try {
      const report = options?.onHistoryProgress;
      await this.messenger.addDevice(
        uri,
        options?.history ? { history: true, ...(report ? { onHistoryProgress: historyView(report) } : {}) } : {},
      );
      return { ok: true };
    } catch (error) {
      // Only the code: the URI names the channel and the new device's key.
      this.platform.logger.warn('device not added', { error: error instanceof ClientError ? error.code : 'unknown' });
      return { ok: false, error: error instanceof ClientError ? (ADD_DEVICE_ERRORS[error.code] ?? 'other') : 'other' };
    }
  }

  async removeDevice(deviceId: number): Promise<RemoveDeviceResult> {
    try {
      await this.messenger.removeDevice(deviceId);
      return { ok: true };
    } catch (error) {
      if (!(error instanceof ClientError)) return { ok: false, error: 'other' };
      if (error.code === ClientErrorCode.NotPrimary) return { ok: false, error: 'not-primary' };
      if (error.code === ClientErrorCode.ServerUnreachable || error.code === ClientErrorCode.RateLimited)
        return { ok: false, error: 'network' };
      return { ok: false, error: 'other' };
    }
  }

  async lookupMember(username: string): Promise<GroupResult<{ accountId: string; username: string }>> {
    try {
      const accountId = await this.messenger.resolve(username);
      const self = await this.messenger.account();
      if (accountId === self.accountId) return { ok: false, error: 'self' };
      const known = await this.reader.conversation(accountId);
      return { ok: true, value: { accountId, username: known?.peerUsername ?? username } };
    } catch (error) {
      const reason = groupError(error);
      return { ok: false, error: reason === 'invalid' ? 'unknown' : reason };
    }
  }

  async createGroup(title: string, members: string[]): Promise<GroupResult<string>> {
    try {
      const group = await this.messenger.createGroup(title, members);
      return { ok: true, value: `${GROUP_PREFIX}${group.id}` };
    } catch (error) {
      return { ok: false, error: groupError(error) };
    }
  }

  async changeGroup(groupId: string, change: Parameters<MessengerPort['changeGroup']>[1]): Promise<GroupResult> {
    try {
      switch (change.kind) {
        case 'add':
          await this.messenger.addMembers(groupId, change.members);
          break;
        case 'remove':
          await this.messenger.removeMembers(groupId, change.members);
          break;
        case 'admin':
          await this.messenger.makeAdmin(groupId, change.member);
          break;
        case 'rename':
          await this.messenger.setGroupTitle(groupId, change.title);
          break;
        case 'leave':
          await this.messenger.leaveGroup(groupId);
          break;
      }
      return { ok: true, value: undefined };
    } catch (error) {
      return { ok: false, error: groupError(error) };
    }
  }

  async accept(conversationId: string): Promise<void> {
    await this.messenger.accept(conversationId);
  }

  async block(conversationId: string): Promise<void> {
    const group = conversationId.startsWith('group:')
      ? await this.platform.storage.get<ConversationEntry>('conversations', conversationId)
      : undefined;
    // A group request is blocked by blocking whoever added us, then leaving it.
    const peer = group ? group.invitedBy : conversationId;
    if (peer) await this.messenger.block(peer);
    if (group) await this.messenger.deleteConversation(conversationId);
  }

  async unblock(accountId: string): Promise<void> {
    await this.messenger.unblock(accountId);
  }

  hasPassword(): Promise<boolean> {
    return this.messenger.hasPassword();
  }

  async setPassword(password: string): Promise<PasswordResult> {
    try {
      await this.messenger.setPassword(password);
      return 'saved';
    } catch (error) {
      if (error instanceof ClientError && error.code === ClientErrorCode.InvalidInput) return 'invalid';
      return 'network';
    }
  }

  async removePassword(): Promise<PasswordResult> {
    try {
      await this.messenger.removePassword();
      return 'saved';
    } catch {
      return 'network';
    }
  }

  async blocked(): Promise<{ accountId: string; username: string | null }[]> {
    return (await this.messenger.blocked()).map(({ accountId, username }) => ({ accountId, username }));
  }

  async organization(): Promise<OrganizationView | null> {
    const status = await this.messenger.organization.status();
    return status.fingerprint === null
      ? null
      : {
          fingerprint: status.fingerprint,
          keyChanged: status.keyChanged,
          presentedFingerprint: status.presentedFingerprint,
          role: status.role,
        };
  }

  async deleteConversation(conversationId: string): Promise<void> {
    await this.messenger.deleteConversation(conversationId);
  }

  syncConversationSettings(conversationId: string): Promise<void> {
    return this.messenger.syncConversationSettings(conversationId);
  }

  search(query: string, limit: number): Promise<SearchResult[]> {
    return this.messenger.search(query, { limit });
  }

  /**
   * Registers the push subscription with the server (`PUT /v1/push/subscription`), authenticated as this device.
   * The core has no call for it, so the request is made here with the device credential from the account record.
   */
  async setPushSubscription(subscription: { endpoint: string; keys: { p256dh: string; auth: string } }): Promise<void> {
    const account = await this.platform.storage.get<AccountRecord>('meta', 'account');
    if (!account) return;
    const credential = `${account.accountId}.${account.deviceId}:${toBase64(account.secret)}`;
    const response = await this.platform.http.request({
      method: 'PUT',
      url: `${account.serverUrl}/v1/push/subscription`,
      headers: { authorization: `Basic ${toBase64(utf8.encode(credential))}`, 'content-type': 'application/json' },
      body: JSON.stringify(subscription),
    });
    if (response.status >= 300) this.platform.logger.warn('push subscription refused', { status: response.status });
  }
}

/** Opens the messenger when this browser already holds an account; null otherwise. */
export async function loadMessenger(
  platform: Platform,
  onVisible: Capabilities['onVisible'],
  serverUrl: string,
): Promise<MessengerPort | null> {
  const messenger = await Messenger.open(platform, { serverUrl });
  if (!messenger.isRegistered) return null;
  const account = await messenger.account();
  return new MessengerAdapter(
    messenger,
    platform,
    onVisible,
    account.username ?? account.accountId.slice(0, 8),
    account.deviceId,
  );
}

/**
 * Creates an account (keys are generated here, in the browser) and returns the ready messenger; `password` (null:
 * none) is set for logging in on new devices; `deviceName` names this browser in the device list (encrypted).
 */
export async function registerMessenger(
  platform: Platform,
  onVisible: Capabilities['onVisible'],
  serverUrl: string,
  username: string,
  inviteCode: string | null,
  password: string | null = null,
  deviceName?: string,
): Promise<MessengerPort | RegistrationError> {
  if (password !== null) {
    // Checked before the account exists, so a too-short password does not leave an account without one.
    try {
      validatePassword(password);
    } catch {
      return 'password';
    }
  }
  return openAccount(platform, onVisible, serverUrl, username, REGISTRATION_ERRORS, async (messenger) => {
    const account = await messenger.register({
      serverUrl,
      username,
      ...(inviteCode ? { inviteCode } : {}),
      ...(deviceName ? { deviceName } : {}),
    });
    // The account exists either way; a password that did not reach the server can be set again in Settings.
    if (password !== null)
      await messenger
        .setPassword(password)
        .catch((error: unknown) =>
          platform.logger.warn('password not set', { error: error instanceof ClientError ? error.code : 'unknown' }),
        );
    return account;
  });
}

/**
 * Opens the core on this browser, lets `create` make or join the account, and returns the ready messenger; a
 * refusal is the `errors` entry for its code ('other' for anything else), logged as `failure` when given.
 */
async function openAccount<E extends string>(
  platform: Platform,
  onVisible: Capabilities['onVisible'],
  serverUrl: string,
  username: string,
  errors: Partial<Record<ClientErrorCode, E>>,
  create: (messenger: Messenger) => Promise<{ username?: string | null; deviceId: number }>,
  failure?: string,
): Promise<MessengerPort | E | 'other'> {
  try {
    const messenger = await Messenger.open(platform, { serverUrl });
    const account = await create(messenger);
    return new MessengerAdapter(messenger, platform, onVisible, account.username ?? username, account.deviceId);
  } catch (error) {
    if (failure) platform.logger.warn(failure, { error: error instanceof ClientError ? error.code : 'unknown' });
    return error instanceof ClientError ? (errors[error.code] ?? 'other') : 'other';
  }
}

/** How a refused single sign-on registration is shown. */
const SSO_REGISTRATION_ERRORS: Partial<Record<ClientErrorCode, SsoFailure>> = {
  [ClientErrorCode.SsoRequired]: 'used',
  [ClientErrorCode.SsoAccountExists]: 'exists',
  [ClientErrorCode.ServerUnreachable]: 'network',
  [ClientErrorCode.RateLimited]: 'network',
};

/**
 * Registers this browser with the single-use token of a finished single sign-on (`REGISTRATION=sso`): its own fresh
 * keys, under the username the organization gave (`username`, as the server's callback named it).
 */
export async function registerSsoMessenger(
  platform: Platform,
  onVisible: Capabilities['onVisible'],
  serverUrl: string,
  username: string,
  ssoToken: string,
  deviceName?: string,
): Promise<MessengerPort | SsoFailure> {
  return openAccount(
    platform,
    onVisible,
    serverUrl,
    username,
    SSO_REGISTRATION_ERRORS,
    (messenger) => messenger.register({ serverUrl, username, ssoToken, ...(deviceName ? { deviceName } : {}) }),
    'sso registration failed',
  );
}

/** How password login failures are shown. */
const LOGIN_ERRORS: Partial<Record<ClientErrorCode, LoginError>> = {
  [ClientErrorCode.WrongPassword]: 'wrong',
  [ClientErrorCode.RateLimited]: 'throttled',
  [ClientErrorCode.InvalidInput]: 'invalid',
  [ClientErrorCode.ServerUnreachable]: 'network',
};

/**
 * Logs this browser in as a new device of an account by username and password, and returns the ready messenger;
 * `deviceName` names this browser in the device list (encrypted).
 */
export async function loginMessenger(
  platform: Platform,
  onVisible: Capabilities['onVisible'],
  serverUrl: string,
  username: string,
  password: string,
  deviceName?: string,
): Promise<MessengerPort | LoginError> {
  return openAccount(platform, onVisible, serverUrl, username, LOGIN_ERRORS, (messenger) =>
    messenger.loginWithPassword({ serverUrl, username, password, ...(deviceName ? { deviceName } : {}) }),
  );
}

/**
 * Links this (empty) browser as a new device of an existing account: waits on the provisioning channel (reporting
 * the link URI), then registers with what the existing device sent; the messenger is ready once it resolves.
 */
export async function linkMessenger(
  platform: Platform,
  onVisible: Capabilities['onVisible'],
  serverUrl: string,
  options: {
    deviceName: () => string | undefined;
    onUri: (uri: string) => void;
    signal: AbortSignal;
    onHistoryProgress?: (progress: HistoryProgressView) => void;
    /** Under single sign-on: the owner's fresh sign-on, which the server requires to link. */
    ssoToken?: string;
  },
): Promise<MessengerPort | Extract<LinkResult, { ok: false }>['error']> {
  try {
    const messenger = await Messenger.open(platform, { serverUrl });
    const account = await messenger.linkNewDevice({
      serverUrl,
      ...(options.ssoToken === undefined ? {} : { ssoToken: options.ssoToken }),
      onLinkUri: options.onUri,
      ...(options.onHistoryProgress ? { onHistoryProgress: historyView(options.onHistoryProgress) } : {}),
      deviceName: options.deviceName,
      signal: options.signal,
    });
    return new MessengerAdapter(
      messenger,
      platform,
      onVisible,
      account.username ?? account.accountId.slice(0, 8),
      account.deviceId,
    );
  } catch (error) {
    platform.logger.warn('link failed', { error: error instanceof ClientError ? error.code : 'unknown' });
    return linkError(error, options.signal.aborted);
  }
}
