/**
 * Builds the conversation summaries the list and the chat header show, from the history reader: the stored
 * conversation, its last visible message and the contact's trust (for a group: its members' names and whether the
 * user is still in it), through the total view-data conversions. Read only; it does not load the messenger core.
 */
import { groupNames } from './group-names.js';
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
  const [last, trust, names, group, draft] = await Promise.all([
    reader.message(lastKey),
    reader.trust(id),
    groupNames(reader, id),
    reader.group(id),
    reader.draft(id),
  ]);
  const view = last && typeof lastKey === 'string' ? toChatMessage(lastKey, last, id, names) : undefined;
  const summary = toSummary(id, c, view, trust, draft);
  return group && group.active === false ? { ...summary, inactive: true } : summary;
}

/** Every conversation, most recent activity first; one that cannot be read is left out. */
export async function summarizeConversations(reader: HistoryReader): Promise<ConversationSummary[]> {
  const ids = await reader.conversations();
  const summaries = await Promise.all(ids.map((id) => summarizeConversation(reader, id)));
  return summaries.filter((s): s is ConversationSummary => s !== undefined);
}
