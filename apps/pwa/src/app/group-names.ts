/**
 * Who is who in a group conversation, read from storage: the user's account id and a display name for every member
 * the group lists (the nickname set here, else the member's profile name, else the username the core learned from
 * the server or from the member's own messages, then the one the group state names; never longer than a name may
 * be). Read only; it does not load the core or the network.
 */
import type { GroupEntry } from '@cove/client';
import type { HistoryReader } from './history-reader.js';
import { safeName, type GroupNames } from './view-data.js';

/** The names for a group conversation, or undefined for a direct one (or before an account exists). */
export async function groupNames(reader: HistoryReader, conversationId: string): Promise<GroupNames | undefined> {
  // A direct chat has no group: nothing more to read (the chat's page waits for this on every reload).
  const group = await reader.group(conversationId);
  if (!group) return undefined;
  const account = await reader.account();
  if (!account) return undefined;
  return namesOf(reader, group, account.accountId);
}

/**
 * The names with those of people who are no longer members added (authors of older messages): from the contacts
 * the core knows, else from the system lines among `messages` (each names its members as known then).
 */
export async function withFormerMembers(
  reader: HistoryReader,
  names: GroupNames,
  messages: readonly unknown[],
): Promise<GroupNames> {
  const known = new Map(names.names);
  const missing = new Set<string>();
  for (const message of messages) {
    const m = (message ?? {}) as { authorAccountId?: unknown; system?: { members?: unknown } };
    if (typeof m.authorAccountId === 'string' && !known.has(m.authorAccountId)) missing.add(m.authorAccountId);
    const members = Array.isArray(m.system?.members) ? (m.system.members as unknown[]) : [];
    for (const member of members) {
      const { accountId, username } = (member ?? {}) as { accountId?: unknown; username?: unknown };
      const name = safeName(username);
      if (typeof accountId === 'string' && name && !known.has(accountId)) known.set(accountId, name);
    }
  }
  await Promise.all(
    [...missing].map(async (accountId) => {
      const name = safeName(await reader.displayName(accountId));
      if (name) known.set(accountId, name);
    }),
  );
  return { me: names.me, names: known };
}

export async function namesOf(reader: HistoryReader, group: GroupEntry, me: string): Promise<GroupNames> {
  const names = new Map<string, string>();
  const members = Array.isArray(group.members) ? group.members : [];
  await Promise.all(
    members.map(async (member) => {
      if (typeof member.accountId !== 'string') return;
      const name = safeName(await reader.displayName(member.accountId)) ?? safeName(member.username);
      if (name) names.set(member.accountId, name);
    }),
  );
  return { me, names };
}
