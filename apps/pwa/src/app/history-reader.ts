/**
 * Reads the account, conversations and messages straight from the messenger core's tables (layout documented in
 * `@cove/client` records), so the chat list and history render before the core itself (and libsodium) has
 * loaded: the app shows what it has at once and becomes able to send a moment later. Read-only; it never writes.
 */
import type {
  AccountRecord,
  ContactEntry,
  ConversationEntry,
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

  /** Most recent activity first. */
  async conversations(): Promise<ConversationEntry[]> {
    const entries = await this.storage.list<ConversationEntry>('conversations');
    return entries.map((e) => e.value).sort((a, b) => b.lastMessageAt - a.lastMessageAt || (a.id < b.id ? -1 : 1));
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

  /** Newest first, older than `before` (a message id) when given. */
  async messages(conversationId: string, options: { limit: number; before?: string }): Promise<MessageEntry[]> {
    const entries = await this.storage.list<MessageEntry>('messages', {
      prefix: `${conversationId}/`,
      reverse: true,
      limit: options.limit,
      ...(options.before === undefined ? {} : { after: options.before }),
    });
    return entries.map((e) => e.value);
  }

  message(id: string): Promise<MessageEntry | undefined> {
    return this.storage.get<MessageEntry>('messages', id);
  }

  /** The contact's identity trust, without computing the safety number. */
  async trust(conversationId: string): Promise<{ trust: TrustLevel; changedAt: number | null } | undefined> {
    const identity = await this.storage.get<IdentityEntry>('identities', conversationId);
    return identity ? { trust: identity.trust, changedAt: identity.changedAt } : undefined;
  }
}
