/**
 * Reads the account, conversations and messages straight from the messenger core's tables (layout documented in
 * `@cove/client` records), so the chat list and history render before the core itself (and libsodium) has
 * loaded: the app shows what it has at once and becomes able to send a moment later. Read-only; it never writes.
 */
import type {
  AccountRecord,
  ContactEntry,
  ConversationEntry,
  Entry,
  IdentityEntry,
  KeyValueStorage,
  MessageEntry,
  ProfileRecord,
  TrustLevel,
} from '@cove/client';

export class HistoryReader {
  constructor(private readonly storage: KeyValueStorage) {}

  async account(): Promise<{ accountId: string; username: string | null } | undefined> {
    const account = await this.storage.get<AccountRecord>('meta', 'account');
    if (!account) return undefined;
    const profile = await this.storage.get<ProfileRecord>('meta', 'profile');
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

  /** A conversation, or a fresh one for a contact looked up but not written to yet. */
  async conversation(id: string): Promise<ConversationEntry | undefined> {
    const stored = await this.storage.get<ConversationEntry>('conversations', id);
    if (stored) return stored;
    const contact = await this.storage.get<ContactEntry>('contacts', id);
    if (!contact) return undefined;
    return {
      id,
      peerAccountId: id,
      peerUsername: contact.username,
      createdAt: contact.updatedAt,
      lastMessageAt: contact.updatedAt,
      lastMessageKey: null,
      unreadCount: 0,
    };
  }

  /** Newest first, older than `before` (a message key) when given; each with its storage key. */
  messages(conversationId: string, options: { limit: number; before?: string }): Promise<Entry<MessageEntry>[]> {
    return this.storage.list<MessageEntry>('messages', {
      prefix: `${conversationId}/`,
      reverse: true,
      limit: options.limit,
      ...(options.before === undefined ? {} : { after: options.before }),
    });
  }

  message(id: unknown): Promise<MessageEntry | undefined> {
    if (typeof id !== 'string') return Promise.resolve(undefined);
    return this.storage.get<MessageEntry>('messages', id);
  }

  /** The contact's identity trust, without computing the safety number. */
  async trust(conversationId: string): Promise<{ trust: TrustLevel; changedAt: number | null } | undefined> {
    const identity = await this.storage.get<IdentityEntry>('identities', conversationId);
    return identity ? { trust: identity.trust, changedAt: identity.changedAt } : undefined;
  }
}
