/**
 * Who is who in a group conversation, read from storage: the user's account id and a display name for every member
 * the group lists (the username the core learned from the server or from the member's own messages first, then the
 * one the group state names, never longer than a name may be). Read only; it does not load the core or the network.
 */
import type { GroupEntry } from '@cove/client';
import type { HistoryReader } from './history-reader.js';
import { safeName, type GroupNames } from './view-data.js';

/** The names for a group conversation, or undefined for a direct one (or before an account exists). */
export async function groupNames(reader: HistoryReader, conversationId: string): Promise<GroupNames | undefined> {
  const group = await reader.group(conversationId);
  const account = await reader.account();
  if (!group || !account) return undefined;
  return namesOf(reader, group, account.accountId);
}

export async function namesOf(reader: HistoryReader, group: GroupEntry, me: string): Promise<GroupNames> {
  const names = new Map<string, string>();
  const members = Array.isArray(group.members) ? group.members : [];
  await Promise.all(
    members.map(async (member) => {
      if (typeof member.accountId !== 'string') return;
      const name = safeName(await reader.username(member.accountId)) ?? safeName(member.username);
      if (name) names.set(member.accountId, name);
    }),
  );
  return { me, names };
}
