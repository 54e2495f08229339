/**
 * Builds the conversation summaries the list and the chat header show, from the history reader: the stored
 * conversation, its last visible message, its draft, the contact's trust (for a group: its members' names and
 * whether the user is still in it) and the conversation's mute, pin and archive state, through the total view-data
 * conversions. The list comes pinned first (at most `MAX_PINNED`, in the order pinned), then by recent activity.
 * Read only; it does not load the messenger core.
 */
import {
  isArchived,
  isMuted,
  MAX_PINNED,
  toChatPreferences,
  type ChatPreferencesRecord,
} from '@cove/client/chat-preferences';

import { groupNames } from './group-names.js';
import type { HistoryReader } from './history-reader.js';
import type { ConversationSummary } from './model.js';
import { toChatMessage, toSummary } from './view-data.js';

/** The summary's mute, pin and archive marks (absent when not set). */
function withPreferences(
  summary: ConversationSummary,
  preferences: ChatPreferencesRecord,
  lastMessageKey: unknown,
  pinned: boolean,
  now: number,
): ConversationSummary {
  const archived = isArchived(
    preferences,
    { lastMessageKey: typeof lastMessageKey === 'string' ? lastMessageKey : null },
    now,
  );
  return {
    ...summary,
    ...(isMuted(preferences, now) && preferences.mutedUntil !== null ? { mutedUntil: preferences.mutedUntil } : {}),
    ...(pinned && !archived ? { pinned: true as const } : {}),
    ...(archived ? { archived: true as const } : {}),
  };
}

export async function summarizeConversation(
  reader: HistoryReader,
  id: string,
  now: number = Date.now(),
  preferences?: ChatPreferencesRecord,
  pinned?: boolean,
): Promise<ConversationSummary | undefined> {
  const c = await reader.conversation(id);
  if (!c) return undefined;
  const lastKey: unknown = c.lastMessageKey;
  const [last, trust, draft, stored, names, group, blocked, contact] = await Promise.all([
    reader.message(lastKey),
    reader.trust(id),
    reader.draft(id),
    preferences ? Promise.resolve(undefined) : reader.chatPreferences(),
    groupNames(reader, id),
    reader.group(id),
    reader.blocked(id),
    reader.contactNames(id),
  ]);
  const view = last && typeof lastKey === 'string' ? toChatMessage(lastKey, last, id, names) : undefined;
  const own = preferences ?? toChatPreferences(stored?.get(c.id));
  const summary = toSummary(id, c, view, trust, contact, draft, blocked);
  return withPreferences(
    group && group.active === false ? { ...summary, inactive: true } : summary,
    own,
    lastKey,
    pinned ?? pinnedIds(stored).includes(c.id),
    now,
  );
}

/** The pinned conversation ids in the order pinned, at most `MAX_PINNED` (more can only come from a damaged store). */
function pinnedIds(preferences: Map<string, ChatPreferencesRecord> | undefined): string[] {
  return [...(preferences ?? new Map<string, ChatPreferencesRecord>()).entries()]
    .filter(([, p]) => p.pinnedAt !== null)
    .sort(([a, pa], [b, pb]) => (pa.pinnedAt ?? 0) - (pb.pinnedAt ?? 0) || (a < b ? -1 : 1))
    .slice(0, MAX_PINNED)
    .map(([id]) => id);
}

/** Every conversation, pinned first, then most recent activity first; one that cannot be read is left out. */
export async function summarizeConversations(
  reader: HistoryReader,
  now: number = Date.now(),
): Promise<ConversationSummary[]> {
  const [ids, preferences] = await Promise.all([reader.conversations(), reader.chatPreferences()]);
  const pinned = pinnedIds(preferences);
  const summaries = await Promise.all(
    ids.map((id) =>
      summarizeConversation(reader, id, now, toChatPreferences(preferences.get(id)), pinned.includes(id)),
    ),
  );
  const shown = summaries.filter((s): s is ConversationSummary => s !== undefined);
  // The organization's notices stay above everything, pinned or not.
  const rank = (s: ConversationSummary): number => (s.notices ? -1 : s.pinned ? pinned.indexOf(s.id) : pinned.length);
  // Stable sort: within the unpinned ones the reader's order (most recent first) stays.
  return shown.sort((a, b) => rank(a) - rank(b));
}
