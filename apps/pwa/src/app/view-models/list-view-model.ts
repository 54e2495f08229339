/**
 * The conversation list's view model: the summaries, most recent first (read straight from storage, so the list
 * shows before the core has loaded), starting a chat by username and searching (both need the core). It renders
 * nothing.
 */
import type { AppSession } from '../app-session.js';
import { summarizeConversations } from '../conversation-summaries.js';
import type { ConversationSummary, ListScreen, SearchHit, StartChatResult } from '../model.js';
import { timeOrNull } from '../view-data.js';

/** Hits shown for one query: a screenful several times over (refining the query is the way to the rest). */
const SEARCH_LIMIT = 100;
/** Longest title shown for a hit (a username is at most 32 characters, a group title at most 128). */
const MAX_TITLE_CHARS = 128;

export class ListViewModel implements ListScreen {
  constructor(private readonly session: AppSession) {}

  async conversations(): Promise<ConversationSummary[]> {
    const reader = this.session.reader();
    return reader ? summarizeConversations(reader) : [];
  }

  /**
   * Searches through the core (in memory over decrypted rows: no index is kept at rest). A conversation hit is named
   * as the list names it; results of blocked peers are left out by the core.
   */
  async search(query: string): Promise<SearchHit[]> {
    if (query.trim() === '') return [];
    const messenger = await this.session.requireMessenger();
    const results = await messenger.search(query, SEARCH_LIMIT);
    return results.map((r): SearchHit => {
      const title = (r.title ?? r.conversationId.replace(/^direct:/, '').slice(0, 8)).slice(0, MAX_TITLE_CHARS);
      if (r.kind === 'conversation') {
        const parts: SearchHit['titleParts'] = [];
        let at = 0;
        for (const range of r.ranges) {
          if (range.start > at) parts.push({ text: title.slice(at, range.start), match: false });
          parts.push({ text: title.slice(range.start, range.end), match: true });
          at = range.end;
        }
        if (at < title.length) parts.push({ text: title.slice(at), match: false });
        return {
          kind: 'conversation',
          conversationId: r.conversationId,
          title,
          titleParts: parts,
          snippet: [],
          at: timeOrNull(r.at),
          outgoing: false,
        };
      }
      return {
        kind: 'message',
        conversationId: r.conversationId,
        messageId: r.messageId,
        title,
        titleParts: [{ text: title, match: false }],
        snippet: r.snippet,
        at: timeOrNull(r.at),
        outgoing: r.outgoing,
      };
    });
  }

  async startChat(username: string): Promise<StartChatResult> {
    const result = await (await this.session.requireMessenger()).startChat(username);
    if (!result.ok) return result;
    this.session.store.bump();
    return { ok: true, conversationId: result.conversation.id };
  }
}
