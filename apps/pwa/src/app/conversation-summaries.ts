/**
 * Builds the conversation summaries the list and the chat header show, from the history reader: the stored
 * conversation, its last visible message and the contact's trust, through the total view-data conversions. Read
 * only; it does not load the messenger core.
 */
import type { HistoryReader } from './history-reader.js';
import type { ConversationSummary } from './model.js';
import { toChatMessage, toSummary } from './view-data.js';

export async function summarizeConversation(
  reader: HistoryReader,
  id: string,
): Promise<ConversationSummary | undefined> {
  const c = await reader.conversation(id);
  if (!c) return undefined;
  const lastKey: unknown = c.lastMessageKey;
  const [last, trust, names, draft] = await Promise.all([
    reader.message(lastKey),
    reader.trust(id),
    reader.contactNames(id),
    reader.draft(id),
  ]);
  const view = last && typeof lastKey === 'string' ? toChatMessage(lastKey, last, id) : undefined;
  return toSummary(id, c, view, trust, names, draft);
}

/** Every conversation, most recent activity first; one that cannot be read is left out. */
export async function summarizeConversations(reader: HistoryReader): Promise<ConversationSummary[]> {
  const ids = await reader.conversations();
  const summaries = await Promise.all(ids.map((id) => summarizeConversation(reader, id)));
  return summaries.filter((s): s is ConversationSummary => s !== undefined);
}
