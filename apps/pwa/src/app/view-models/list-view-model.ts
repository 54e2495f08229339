/**
 * The conversation list's view model: the summaries, most recent first (read straight from storage, so the list
 * shows before the core has loaded), and starting a chat by username (which needs the core). It renders nothing.
 */
import type { AppSession } from '../app-session.js';
import { summarizeConversations } from '../conversation-summaries.js';
import type { ConversationSummary, ListScreen, StartChatResult } from '../model.js';

export class ListViewModel implements ListScreen {
  constructor(private readonly session: AppSession) {}

  async conversations(): Promise<ConversationSummary[]> {
    const reader = this.session.reader();
    return reader ? summarizeConversations(reader) : [];
  }

  async startChat(username: string): Promise<StartChatResult> {
    const result = await (await this.session.requireMessenger()).startChat(username);
    if (!result.ok) return result;
    this.session.store.bump();
    return { ok: true, conversationId: result.conversation.id };
  }
}
