/**
 * Local search over this device's conversations and messages, run in memory over the rows as the platform decrypts
 * them: nothing is indexed or written, so a copy of the stored data reveals no more with search than without it
 * (docs/threat-model.md, "Search"). Conversations match by name or username; messages by their current text (an
 * edited message by what it says now, a deleted or expired one not at all); system lines, undecryptable
 * placeholders and the conversations of blocked peers are left out. Matching is search.ts's. It sends nothing.
 */
import type { MessengerContext } from './context.js';
import { isExpired } from './history.js';
import type { ConversationEntry, MessageEntry } from './tables.js';
import { matchText, matchesQuery, parseQuery, snippetParts } from './search.js';
import type { MatchRange, SnippetPart } from './search.js';

/** Most results returned when the caller names no limit. */
const DEFAULT_LIMIT = 50;
/** Most results ever returned (a list the user scrolls, not an export). */
const MAX_LIMIT = 500;

export type SearchResult =
  | {
      kind: 'conversation';
      conversationId: string;
      /** The conversation's name as the core knows it (group title, else the peer's username, else null). */
      title: string | null;
      ranges: MatchRange[];
      at: number;
    }
  | {
      kind: 'message';
      conversationId: string;
      title: string | null;
      messageId: string;
      outgoing: boolean;
      /** The sender's timestamp of the message. */
      at: number;
      /** An excerpt around the first match, matched parts marked. */
      snippet: SnippetPart[];
    };

const titleOf = (conversation: ConversationEntry): string | null =>
  conversation.kind === 'group' ? (conversation.title ?? null) : conversation.peerUsername;

/** Conversations first (most recent first), then messages (newest first), `limit` in all. */
export const searchLocal = async (
  ctx: MessengerContext,
  query: string,
  options: { limit?: number } = {},
): Promise<SearchResult[]> => {
  const terms = parseQuery(typeof query === 'string' ? query : '');
  if (terms.length === 0) return [];
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? DEFAULT_LIMIT), 1), MAX_LIMIT);
  const { storage, clock } = ctx.platform;
  const blocked = new Set(
    (await storage.list('contacts')).filter(({ value }) => value.blockedAt !== undefined).map(({ key }) => key),
  );
  const conversations = (await ctx.history.conversations()).filter(
    (c) => c.kind === 'group' || !blocked.has(c.peerAccountId),
  );
  const byId = new Map(conversations.map((c) => [c.id, c]));
  const results: SearchResult[] = [];
  for (const conversation of conversations) {
    const title = titleOf(conversation);
    const ranges = title === null ? null : matchText(title, terms);
    if (ranges)
      results.push({
        kind: 'conversation',
        conversationId: conversation.id,
        title,
        ranges,
        at: conversation.lastMessageAt,
      });
  }
  const now = clock.now();
  // First which messages match (a cheap test per row), then ranges and snippets for the ones returned only.
  const found: { message: MessageEntry; text: string }[] = [];
  for (const { value: message } of await storage.list('messages')) {
    if (!byId.has(message.conversationId)) continue;
    if (message.system || message.deletedAt !== undefined || message.status === 'undecryptable') continue;
    if (isExpired(message, now)) continue;
    // The text (a caption included), else the names of its files.
    if (matchesQuery(message.text, terms)) found.push({ message, text: message.text });
    else {
      const names = (message.attachments ?? []).map((a) => a.fileName ?? '').join(' ');
      if (matchesQuery(names, terms)) found.push({ message, text: names });
    }
  }
  found.sort((a, b) => b.message.timestamp - a.message.timestamp);
  const messages = found.slice(0, Math.max(0, limit - results.length)).map(({ message, text }): SearchResult => {
    const conversation = byId.get(message.conversationId);
    return {
      kind: 'message',
      conversationId: message.conversationId,
      title: conversation ? titleOf(conversation) : null,
      messageId: message.id,
      outgoing: message.direction === 'outgoing',
      at: message.timestamp,
      snippet: snippetParts(text, matchText(text, terms) ?? []),
    };
  });
  return [...results, ...messages].slice(0, limit);
};
