/**
 * One conversation's view model: its summary and pages of history (read from storage), sending, retrying and
 * marking read (through the core), and the user's own typing notices, throttled so a long burst of keystrokes
 * sends "started" once per refresh interval and "stopped" only after a "started". It renders nothing and keeps no
 * timers of its own; the view decides when the user stopped typing.
 */
import type { AppSession } from '../app-session.js';
import { summarizeConversation } from '../conversation-summaries.js';
import type { ChatMessage, ChatScreen, ConversationSummary } from '../model.js';
import { toChatMessage } from '../view-data.js';

/** Re-send "typing started" at most this often while the user keeps typing. */
export const TYPING_REFRESH_MS = 10_000;

export class ChatViewModel implements ChatScreen {
  /** When "started" was last sent, per conversation; absent once "stopped" (or a message) was sent. */
  private readonly ownTyping = new Map<string, number>();

  constructor(
    private readonly session: AppSession,
    private readonly now: () => number = () => Date.now(),
  ) {}

  async conversation(id: string): Promise<ConversationSummary | undefined> {
    const reader = this.session.reader();
    return reader ? summarizeConversation(reader, id) : undefined;
  }

  async messages(conversationId: string, options: { before?: string; limit: number }): Promise<ChatMessage[]> {
    const reader = this.session.reader();
    if (!reader) return [];
    const entries = await reader.messages(conversationId, options);
    return entries.map((e) => toChatMessage(e.key, e.value, conversationId));
  }

  async send(conversationId: string, text: string): Promise<void> {
    // The message itself ends the indicator on the other side, so the next keystroke announces typing again.
    this.ownTyping.delete(conversationId);
    await (await this.session.requireMessenger()).sendText(conversationId, text);
  }

  async retry(_conversationId: string, messageId: string): Promise<void> {
    await (await this.session.requireMessenger()).retry(messageId);
  }

  async markRead(conversationId: string): Promise<void> {
    await (await this.session.requireMessenger()).markRead(conversationId);
  }

  setTyping(conversationId: string, typing: boolean): void {
    const messenger = this.session.messenger();
    if (!messenger) return;
    const last = this.ownTyping.get(conversationId);
    const now = this.now();
    if (typing) {
      if (last !== undefined && now - last < TYPING_REFRESH_MS) return;
      this.ownTyping.set(conversationId, now);
    } else {
      if (last === undefined) return;
      this.ownTyping.delete(conversationId);
    }
    void messenger.typing(conversationId, typing).catch(() => undefined);
  }
}
