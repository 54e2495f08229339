/**
 * The conversation list's view model: the summaries, pinned first then most recent (read straight from storage, so
 * the list shows before the core has loaded), starting a chat by username and searching (both need the core), and
 * each conversation's mute, pin and archive state (stored sealed with the core's rows, so every tab and the service
 * worker see a change as soon as it is committed). An archived conversation that a new message brought back is
 * written back as unarchived when the list sees it, so muting it later does not hide it again. It renders nothing.
 */
import { changeChatPreferences, MUTED_FOREVER, type ChatPreferencesChange } from '@cove/client/chat-preferences';
import type { AppSession } from '../app-session.js';
import { summarizeConversations } from '../conversation-summaries.js';
import type {
  ConversationSummary,
  DirectoryMatch,
  ListScreen,
  MuteDuration,
  SearchHit,
  StartChatResult,
} from '../model.js';
import { timeOrNull } from '../view-data.js';

const HOUR_MS = 3_600_000;
/** How long each mute choice lasts. */
const MUTE_MS: Record<Exclude<MuteDuration, 'always'>, number> = {
  '1h': HOUR_MS,
  '8h': 8 * HOUR_MS,
  '1w': 168 * HOUR_MS,
};

/** Hits shown for one query: a screenful several times over (refining the query is the way to the rest). */
const SEARCH_LIMIT = 100;
/** Longest title shown for a hit (a username is at most 32 characters, a group title at most 128). */
const MAX_TITLE_CHARS = 128;

export class ListViewModel implements ListScreen {
  constructor(private readonly session: AppSession) {}

  async conversations(): Promise<ConversationSummary[]> {
    const reader = this.session.reader();
    if (!reader) return [];
    const now = Date.now();
    const [summaries, preferences] = await Promise.all([summarizeConversations(reader, now), reader.chatPreferences()]);
    for (const s of summaries) {
      if (!s.archived && preferences.get(s.id)?.archivedAfter != null)
        // Each device brings a conversation back by itself on a new message: this write-back is not synced.
        void this.change(s.id, { kind: 'archive', archived: false, lastMessageKey: null }, false).catch(
          () => undefined,
        );
    }
    // The list has what it shows: the core may load once it is painted.
    this.session.firstScreenShown();
    return summaries;
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

  async searchDirectory(query: string): Promise<DirectoryMatch[] | null> {
    return (await this.session.requireMessenger()).directory(query);
  }

  async startChat(username: string): Promise<StartChatResult> {
    const result = await (await this.session.requireMessenger()).startChat(username);
    if (!result.ok) return result;
    this.session.store.bump();
    return { ok: true, conversationId: result.conversation.id };
  }

  async mute(conversationId: string, duration: MuteDuration | null): Promise<void> {
    const until = duration === null ? null : duration === 'always' ? MUTED_FOREVER : Date.now() + MUTE_MS[duration];
    await this.change(conversationId, { kind: 'mute', until });
  }

  async pin(conversationId: string, pinned: boolean): Promise<'ok' | 'limit'> {
    return this.change(conversationId, { kind: 'pin', pinned });
  }

  async archive(conversationId: string, archived: boolean): Promise<void> {
    const conversation = await this.session.reader()?.conversation(conversationId);
    const last = conversation?.lastMessageKey;
    await this.change(conversationId, {
      kind: 'archive',
      archived,
      lastMessageKey: typeof last === 'string' ? last : null,
    });
  }

  /** Applies a change to the stored conversation (a route id is resolved to it) and redraws. */
  private async change(conversationId: string, change: ChatPreferencesChange, sync = true): Promise<'ok' | 'limit'> {
    const profile = this.session.profile();
    const reader = this.session.reader();
    if (!profile || !reader) return 'ok';
    const id = (await reader.conversation(conversationId))?.id ?? conversationId;
    const result = await changeChatPreferences(profile.storage, profile.locks, id, change, Date.now());
    this.session.store.bump();
    // The account's other devices take the same settings (the core queues a sync to them).
    if (result === 'ok' && sync)
      void this.session
        .requireMessenger()
        .then((messenger) => messenger.syncConversationSettings(id))
        .catch(() => undefined);
    return result;
  }
}
