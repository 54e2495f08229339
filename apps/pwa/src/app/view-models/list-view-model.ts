/**
 * The conversation list's view model: the summaries, pinned first then most recent (read straight from storage, so
 * the list shows before the core has loaded), starting a chat by username (which needs the core), and each
 * conversation's mute, pin and archive state (stored sealed with the core's rows, so every tab and the service
 * worker see a change as soon as it is committed). An archived conversation that a new message brought back is
 * written back as unarchived when the list sees it, so muting it later does not hide it again. It renders nothing.
 */
import { changeChatPreferences, MUTED_FOREVER, type ChatPreferencesChange } from '@cove/client/chat-preferences';
import type { AppSession } from '../app-session.js';
import { summarizeConversations } from '../conversation-summaries.js';
import type { ConversationSummary, ListScreen, MuteDuration, StartChatResult } from '../model.js';

const HOUR_MS = 3_600_000;
/** How long each mute choice lasts. */
const MUTE_MS: Record<Exclude<MuteDuration, 'always'>, number> = {
  '1h': HOUR_MS,
  '8h': 8 * HOUR_MS,
  '1w': 168 * HOUR_MS,
};

export class ListViewModel implements ListScreen {
  constructor(private readonly session: AppSession) {}

  async conversations(): Promise<ConversationSummary[]> {
    const reader = this.session.reader();
    if (!reader) return [];
    const now = Date.now();
    const [summaries, preferences] = await Promise.all([summarizeConversations(reader, now), reader.chatPreferences()]);
    for (const s of summaries) {
      if (!s.archived && preferences.get(s.id)?.archivedAfter != null)
        void this.change(s.id, { kind: 'archive', archived: false, lastMessageKey: null }).catch(() => undefined);
    }
    return summaries;
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
  private async change(conversationId: string, change: ChatPreferencesChange): Promise<'ok' | 'limit'> {
    const profile = this.session.profile();
    const reader = this.session.reader();
    if (!profile || !reader) return 'ok';
    const id = (await reader.conversation(conversationId))?.id ?? conversationId;
    const result = await changeChatPreferences(profile.storage, profile.locks, id, change, Date.now());
    this.session.store.bump();
    return result;
  }
}
