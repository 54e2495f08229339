/**
 * Reads the account, conversations and messages straight from the messenger core's tables (layout documented in
 * `@cove/client` records), so the chat list and history render before the core itself (and libsodium) has
 * loaded: the app shows what it has at once and becomes able to send a moment later. Disappearing messages whose
 * timer ran out are hidden here at once (the core's rule: the timer runs from when the message was stored), even
 * when no sweep has deleted them yet, offline or in a tab that holds no connection. Read-only; it never writes.
 */
import type {
  AccountRecord,
  ContactEntry,
  ConversationEntry,
  Entry,
  GroupEntry,
  IdentityEntry,
  KeyValueStorage,
  MessageEntry,
  ProfileRecord,
  TrustLevel,
} from '@cove/client';
import { readChatPreferences, type ChatPreferencesRecord } from '@cove/client/chat-preferences';
import { DRAFT_PREFIX, NOTICES_CONVERSATION_ID } from '@cove/client';

/** When a stored message disappears (ms since the epoch), or null if it does not; any stored shape is accepted. */
export function messageExpiry(message: unknown): number | null {
  if (message === null || typeof message !== 'object') return null;
  const { storedAt, expireTimerSeconds } = message as Partial<Record<keyof MessageEntry, unknown>>;
  if (typeof expireTimerSeconds !== 'number' || !(expireTimerSeconds > 0)) return null;
  // A timer without a valid store time cannot be placed in time: treat the message as already expired.
  if (typeof storedAt !== 'number' || !Number.isFinite(storedAt)) return -Infinity;
  return storedAt + expireTimerSeconds * 1000;
}

/**
 * The core's conversation id for a route id: `group:<id>` and `direct:<account id>` as they are, a bare account id
 * as its direct conversation.
 */
/** A conversation's storage key: direct and group ids as they are, the notices conversation's own id, else a peer. */
const conversationKey = (id: string): string =>
  id.startsWith('direct:') || id.startsWith(GROUP_PREFIX) || id === NOTICES_CONVERSATION_ID ? id : `direct:${id}`;
const peerOf = (id: string): string => (id.startsWith('direct:') ? id.slice('direct:'.length) : id);
const GROUP_PREFIX = 'group:';

/** The group id of a group conversation id, or null. */
export const groupIdOf = (id: string): string | null =>
  id.startsWith(GROUP_PREFIX) ? id.slice(GROUP_PREFIX.length) : null;

export class HistoryReader {
  constructor(
    private readonly storage: KeyValueStorage,
    private readonly now: () => number = () => Date.now(),
  ) {}

  private visible(message: unknown): boolean {
    const expiry = messageExpiry(message);
    return expiry === null || expiry > this.now();
  }

  async account(): Promise<{ accountId: string; username: string | null } | undefined> {
    // Both at once: one storage round trip (on a browser, one IndexedDB transaction) instead of two in a row.
    const [account, profile] = await Promise.all([
      this.storage.get<AccountRecord>('meta', 'account'),
      this.storage.get<ProfileRecord>('meta', 'profile'),
    ]);
    if (!account) return undefined;
    return { accountId: account.accountId, username: profile?.username ?? null };
  }

  /** Conversation ids (storage keys), most recent activity first; a value that is not a date sorts last. */
  async conversations(): Promise<string[]> {
    const entries = await this.storage.list<ConversationEntry>('conversations');
    const at = (e: Entry<ConversationEntry>): number => {
      const value = (e.value as Partial<ConversationEntry> | null)?.lastMessageAt;
      return typeof value === 'number' && Number.isFinite(value) ? value : -Infinity;
    };
    return entries.sort((a, b) => at(b) - at(a) || (a.key < b.key ? -1 : 1)).map((e) => e.key);
  }

  /** The conversation's unsent text ('' when none, or when the stored value is not text). */
  async draft(id: string): Promise<string> {
    const key = id.includes(':') ? id : conversationKey(id);
    const value: unknown = await this.storage.get<string>('meta', `${DRAFT_PREFIX}${key}`);
    return typeof value === 'string' ? value : '';
  }

  /** A conversation, or a fresh one for a contact looked up but not written to yet. */
  async conversation(id: string): Promise<ConversationEntry | undefined> {
    const stored = await this.storage.get<ConversationEntry>('conversations', conversationKey(id));
    if (stored) return stored;
    if (groupIdOf(id) !== null) return undefined;
    const contact = await this.storage.get<ContactEntry>('contacts', peerOf(id));
    if (!contact) return undefined;
    return {
      id: conversationKey(id),
      peerAccountId: peerOf(id),
      peerUsername: contact.username,
      createdAt: contact.updatedAt,
      lastMessageAt: contact.updatedAt,
      lastMessageKey: null,
      unreadCount: 0,
    };
  }

  /**
   * Newest first, older than `before` (a message key) when given; each with its storage key. Expired messages are
   * skipped and the page is filled from older ones, so a short page still means "no more history".
   */
  async messages(conversationId: string, options: { limit: number; before?: string }): Promise<Entry<MessageEntry>[]> {
    const page: Entry<MessageEntry>[] = [];
    let after = options.before;
    for (;;) {
      const want = options.limit - page.length;
      const batch = await this.storage.list<MessageEntry>('messages', {
        prefix: `${conversationKey(conversationId)}/`,
        reverse: true,
        limit: want,
        ...(after === undefined ? {} : { after }),
      });
      page.push(...batch.filter((e) => this.visible(e.value)));
      if (batch.length < want || page.length >= options.limit) return page;
      after = batch[batch.length - 1]?.key;
    }
  }

  /** One message by its key, unless it expired. */
  async message(id: unknown): Promise<MessageEntry | undefined> {
    if (typeof id !== 'string') return undefined;
    const message = await this.storage.get<MessageEntry>('messages', id);
    return message !== undefined && this.visible(message) ? message : undefined;
  }

  /**
   * What the contact is called and shown with (docs/profiles.md): the nickname set here, their profile name and
   * avatar (as last fetched with their profile key), for a direct conversation; undefined for others.
   */
  async contactNames(
    conversationId: string,
  ): Promise<{ nickname: unknown; profileName: unknown; avatar: unknown } | undefined> {
    if (!conversationId.startsWith('direct:')) return undefined;
    const contact = await this.storage.get<ContactEntry>('contacts', peerOf(conversationId));
    if (!contact) return undefined;
    return { nickname: contact.nickname, profileName: contact.profile?.name, avatar: contact.profile?.avatar };
  }

  /** Every conversation's mute, pin and archive state, by conversation id. */
  chatPreferences(): Promise<Map<string, ChatPreferencesRecord>> {
    return readChatPreferences(this.storage);
  }

  /** A group's state as this member's client holds it, for a group conversation id. */
  async group(conversationId: string): Promise<GroupEntry | undefined> {
    const groupId = groupIdOf(conversationId);
    return groupId === null ? undefined : this.storage.get<GroupEntry>('groups', groupId);
  }

  /**
   * What to call an account (a group member): the nickname set here, else their profile name (fetched with the
   * profile key their messages carry), else the username the core learned; null when none is known.
   */
  async displayName(accountId: string): Promise<string | null> {
    const contact = await this.storage.get<ContactEntry>('contacts', accountId);
    for (const name of [contact?.nickname, contact?.profile?.name, contact?.username])
      if (typeof name === 'string' && name.trim() !== '') return name;
    return null;
  }

  /** The username the core learned for an account (from a lookup or a message), or null. */
  async username(accountId: string): Promise<string | null> {
    const contact = await this.storage.get<ContactEntry>('contacts', accountId);
    return typeof contact?.username === 'string' ? contact.username : null;
  }

  /** Whether the peer of a direct conversation is on the block list (requests.ts in the core). */
  async blocked(conversationId: string): Promise<boolean> {
    if (conversationId.startsWith('group:')) return false;
    const contact = await this.storage.get<ContactEntry>('contacts', peerOf(conversationId));
    return typeof contact?.blockedAt === 'number';
  }

  /** The contact's identity trust, without computing the safety number. */
  async trust(conversationId: string): Promise<{ trust: TrustLevel; changedAt: number | null } | undefined> {
    if (groupIdOf(conversationId) !== null) return undefined;
    const identity = await this.storage.get<IdentityEntry>('identities', peerOf(conversationId));
    return identity ? { trust: identity.trust, changedAt: identity.changedAt } : undefined;
  }
}
