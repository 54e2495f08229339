/**
 * The groups' view model: checking usernames for the new-group dialog, creating a group, its info (members with
 * roles, read from storage) and the changes (add, remove, make admin, rename, leave) through the core, which
 * refuses whatever the user may not do whatever the UI offered. It renders nothing.
 */
import type { AppSession } from '../app-session.js';
import { namesOf } from '../group-names.js';
import { groupIdOf } from '../history-reader.js';
import type { MessengerPort } from '../messenger-port.js';
import type { GroupActionResult, GroupFailure, GroupInfoView, GroupScreen } from '../model.js';
import { nameIn, safeName } from '../view-data.js';

export class GroupViewModel implements GroupScreen {
  constructor(private readonly session: AppSession) {}

  async checkMember(username: string): Promise<{ ok: true; username: string } | { ok: false; error: GroupFailure }> {
    const result = await (await this.session.requireMessenger()).lookupMember(username);
    return result.ok ? { ok: true, username: result.value.username } : result;
  }

  async create(
    title: string,
    usernames: string[],
  ): Promise<{ ok: true; conversationId: string } | { ok: false; error: GroupFailure }> {
    const result = await (await this.session.requireMessenger()).createGroup(title.trim(), usernames);
    if (!result.ok) return result;
    this.session.store.bump();
    return { ok: true, conversationId: result.value };
  }

  async info(conversationId: string): Promise<GroupInfoView | undefined> {
    const reader = this.session.reader();
    const group = await reader?.group(conversationId);
    const account = await reader?.account();
    if (!reader || !group || !account) return undefined;
    const names = await namesOf(reader, group, account.accountId);
    const members = (Array.isArray(group.members) ? group.members : []).map((m) => ({
      accountId: m.accountId,
      name: nameIn(names, m.accountId),
      role: m.role === 'admin' ? ('admin' as const) : ('member' as const),
      me: m.accountId === account.accountId,
    }));
    // Admins first, then by name; the user first among equals.
    members.sort(
      (a, b) =>
        Number(b.role === 'admin') - Number(a.role === 'admin') ||
        Number(b.me) - Number(a.me) ||
        a.name.localeCompare(b.name),
    );
    const active = group.active !== false;
    return {
      conversationId,
      title: safeName(group.title) ?? '…',
      members,
      admin: active && members.some((m) => m.me && m.role === 'admin'),
      active,
    };
  }

  add(conversationId: string, usernames: string[]): Promise<GroupActionResult> {
    return this.change(conversationId, (m, id) => m.changeGroup(id, { kind: 'add', members: usernames }));
  }

  remove(conversationId: string, accountId: string): Promise<GroupActionResult> {
    return this.change(conversationId, (m, id) => m.changeGroup(id, { kind: 'remove', members: [accountId] }));
  }

  makeAdmin(conversationId: string, accountId: string): Promise<GroupActionResult> {
    return this.change(conversationId, (m, id) => m.changeGroup(id, { kind: 'admin', member: accountId }));
  }

  rename(conversationId: string, title: string): Promise<GroupActionResult> {
    return this.change(conversationId, (m, id) => m.changeGroup(id, { kind: 'rename', title: title.trim() }));
  }

  leave(conversationId: string): Promise<GroupActionResult> {
    return this.change(conversationId, (m, id) => m.changeGroup(id, { kind: 'leave' }));
  }

  private async change(
    conversationId: string,
    run: (messenger: MessengerPort, groupId: string) => ReturnType<MessengerPort['changeGroup']>,
  ): Promise<GroupActionResult> {
    const groupId = groupIdOf(conversationId);
    if (groupId === null) return { ok: false, error: 'invalid' };
    const result = await run(await this.session.requireMessenger(), groupId);
    if (!result.ok) return result;
    this.session.store.bump();
    return { ok: true };
  }
}
