/**
 * Unit tests of the app layer's view models and shell over the real encrypted-at-rest storage (fake-indexeddb) and
 * the real history reader, with a recording fake of the messenger port and an in-memory fake of the app-level
 * platform: the list's summaries and order, starting a chat, the chat's pages, sending, the typing throttle, the
 * peer-typing state and the shell's first screens. Nothing here loads the messenger core or touches a browser API.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from '@jest/globals';
import type {
  GroupEntry,
  ConversationEntry,
  HttpRequest,
  HttpResponse,
  IdentityEntry,
  MessageEntry,
  OutgoingAttachment,
  Platform,
  SearchResult,
} from '@cove/client';
import type { AppPlatform, Capabilities, Vault } from '../src/app/app-platform.js';
import type { AppSession } from '../src/app/app-session.js';
import { CoveAppShell } from '../src/app/app-shell.js';
import { AppStateStore } from '../src/app/app-state-store.js';
import { HistoryReader } from '../src/app/history-reader.js';
import type { AdminPort, LookupResult, MessengerPort, SafetyNumber } from '../src/app/messenger-port.js';
import type { AppState, AttachmentFailure, DirectoryMatch } from '../src/app/model.js';
import { PeerTyping, TYPING_EXPIRY_MS } from '../src/app/peer-typing.js';
import { ChatViewModel, TYPING_REFRESH_MS } from '../src/app/view-models/chat-view-model.js';
import { GroupViewModel } from '../src/app/view-models/group-view-model.js';
import { ListViewModel } from '../src/app/view-models/list-view-model.js';
import { openCoveDatabase } from '../src/platform/idb/database.js';
import { AtRestStorage } from '../src/platform/at-rest-storage.js';
import { EncryptedRowStore } from '../src/platform/encrypted-row-store.js';
import { loadVaultKeys } from '../src/platform/vault.js';

const NOW = Date.UTC(2026, 11, 6, 12);
let counter = 0;
const opened: { close(): unknown }[] = [];
afterEach(async () => {
  for (const handle of opened.splice(0)) await handle.close();
});

async function openStorage(): Promise<AtRestStorage> {
  const db = await openCoveDatabase(`view-models-${Date.now()}-${counter++}`);
  opened.push(db);
  const keys = await loadVaultKeys(db);
  if (keys === 'locked') throw new Error('unexpected lock');
  const storage = new AtRestStorage(new EncryptedRowStore(db, keys), 'test');
  // Its commit channel would keep the test process alive.
  opened.push(storage);
  return storage;
}

const initialState = (): AppState => ({
  phase: { kind: 'ready', username: 'me' },
  online: true,
  server: 'online',
  connection: null,
  updateReady: false,
  revision: 0,
  typing: new Set(),
  settings: { language: null, previews: true },
  theme: 'system',
  passphraseSet: false,
  notifications: 'default',
  push: 'supported',
  persisted: null,
  progress: new Map(),
});

/** A messenger port that records every call and answers from a script. */
class RecordingMessenger implements MessengerPort {
  /** The admin console's calls are not scripted here (admin-view-model.test.ts has its own port). */
  readonly admin = {} as AdminPort;
  readonly username = 'me';
  readonly deviceId = 1;
  readonly calls: string[] = [];
  lookup: LookupResult = { ok: false, error: 'unknown' };
  attachmentFailure: AttachmentFailure | null = null;
  subscribe(): () => void {
    return () => undefined;
  }
  start(): void {
    this.calls.push('start');
  }
  stop(): Promise<void> {
    this.calls.push('stop');
    return Promise.resolve();
  }
  holdsConnection(): boolean {
    return true;
  }
  reconnectNow(): void {
    this.calls.push('reconnectNow');
  }
  startChat(username: string): Promise<LookupResult> {
    this.calls.push(`startChat ${username}`);
    return Promise.resolve(this.lookup);
  }
  directoryMatches: DirectoryMatch[] | null = [];
  directory(query: string): Promise<DirectoryMatch[] | null> {
    this.calls.push(`directory ${query}`);
    return Promise.resolve(this.directoryMatches);
  }
  sendText(conversationId: string, text: string): Promise<void> {
    this.calls.push(`send ${conversationId} ${text}`);
    return Promise.resolve();
  }
  retry(messageId: string): Promise<void> {
    this.calls.push(`retry ${messageId}`);
    return Promise.resolve();
  }
  sendAttachment(conversationId: string, attachment: OutgoingAttachment): Promise<AttachmentFailure | null> {
    this.calls.push(`sendAttachment ${conversationId} ${attachment.contentType} ${attachment.fileName ?? ''}`);
    return Promise.resolve(this.attachmentFailure);
  }
  downloadAttachment(messageId: string, index: number): Promise<AttachmentFailure | null> {
    this.calls.push(`download ${messageId} ${index}`);
    return Promise.resolve(null);
  }
  openAttachment(messageId: string, index: number, type: string): Promise<Blob | AttachmentFailure> {
    this.calls.push(`open ${messageId} ${index} ${type}`);
    return Promise.resolve(new Blob([], { type }));
  }
  markRead(conversationId: string): Promise<void> {
    this.calls.push(`markRead ${conversationId}`);
    return Promise.resolve();
  }
  setExpireTimer(conversationId: string, seconds: number | null): Promise<void> {
    this.calls.push(`setExpireTimer ${conversationId} ${seconds ?? 'off'}`);
    return Promise.resolve();
  }
  setDraft(conversationId: string, text: string): Promise<void> {
    this.calls.push(`setDraft ${conversationId} ${text}`);
    return Promise.resolve();
  }
  typing(conversationId: string, started: boolean): Promise<void> {
    this.calls.push(`typing ${conversationId} ${started ? 'started' : 'stopped'}`);
    return Promise.resolve();
  }
  safetyNumber(): Promise<SafetyNumber> {
    return Promise.reject(new Error('not scripted'));
  }
  verify(): Promise<'verified' | 'changed'> {
    return Promise.reject(new Error('not scripted'));
  }
  profile(): Promise<{ name: string; about: string; avatar: Uint8Array | null }> {
    return Promise.resolve({ name: '', about: '', avatar: null });
  }
  setProfile(input: { name?: string }): Promise<'saved' | 'invalid' | 'network'> {
    this.calls.push(`profile ${input.name ?? ''}`);
    return Promise.resolve('saved');
  }
  sealedSenderSetting(): Promise<'anyone' | 'contacts'> {
    return Promise.resolve('contacts');
  }
  setSealedSenderSetting(setting: 'anyone' | 'contacts'): Promise<'saved' | 'network'> {
    this.calls.push(`sealed ${setting}`);
    return Promise.resolve('saved');
  }
  nickname(): Promise<string | null> {
    return Promise.resolve(null);
  }
  setNickname(conversationId: string, nickname: string | null): Promise<'saved' | 'invalid'> {
    this.calls.push(`nickname ${conversationId} ${nickname ?? ''}`);
    return Promise.resolve('saved');
  }
  setPushSubscription(): Promise<void> {
    return Promise.resolve();
  }
  logout(): Promise<void> {
    this.calls.push('logout');
    return Promise.resolve();
  }
  deleteAccount(): Promise<void> {
    this.calls.push('deleteAccount');
    return Promise.resolve();
  }
  devices(): ReturnType<MessengerPort['devices']> {
    return Promise.resolve([]);
  }
  addDevice(uri: string): ReturnType<MessengerPort['addDevice']> {
    this.calls.push(`addDevice ${uri}`);
    return Promise.resolve({ ok: true });
  }
  removeDevice(deviceId: number): ReturnType<MessengerPort['removeDevice']> {
    this.calls.push(`removeDevice ${deviceId}`);
    return Promise.resolve({ ok: true });
  }
  lookupMember(username: string): ReturnType<MessengerPort['lookupMember']> {
    this.calls.push(`lookupMember ${username}`);
    return Promise.resolve(
      username === 'ghost'
        ? { ok: false, error: 'unknown' }
        : { ok: true, value: { accountId: `id-${username}`, username } },
    );
  }
  createGroup(title: string, members: string[]): ReturnType<MessengerPort['createGroup']> {
    this.calls.push(`createGroup ${title} ${members.join(',')}`);
    return Promise.resolve({ ok: true, value: `group:${'ab'.repeat(32)}` });
  }
  changeGroup(
    groupId: string,
    change: Parameters<MessengerPort['changeGroup']>[1],
  ): ReturnType<MessengerPort['changeGroup']> {
    this.calls.push(`changeGroup ${groupId} ${JSON.stringify(change)}`);
    return Promise.resolve(
      change.kind === 'rename' ? { ok: false, error: 'forbidden' } : { ok: true, value: undefined },
    );
  }
  accept(conversationId: string): Promise<void> {
    this.calls.push(`accept ${conversationId}`);
    return Promise.resolve();
  }
  block(conversationId: string): Promise<void> {
    this.calls.push(`block ${conversationId}`);
    return Promise.resolve();
  }
  unblock(accountId: string): Promise<void> {
    this.calls.push(`unblock ${accountId}`);
    return Promise.resolve();
  }
  blocked(): Promise<{ accountId: string; username: string | null }[]> {
    return Promise.resolve([]);
  }
  organization(): Promise<null> {
    return Promise.resolve(null);
  }
  passwordSet = false;
  hasPassword(): Promise<boolean> {
    return Promise.resolve(this.passwordSet);
  }
  setPassword(password: string): Promise<'saved' | 'invalid' | 'network'> {
    if (password.length < 8) return Promise.resolve('invalid');
    this.calls.push('setPassword');
    this.passwordSet = true;
    return Promise.resolve('saved');
  }
  removePassword(): Promise<'saved' | 'invalid' | 'network'> {
    this.calls.push('removePassword');
    this.passwordSet = false;
    return Promise.resolve('saved');
  }
  deleteConversation(conversationId: string): Promise<void> {
    this.calls.push(`deleteConversation ${conversationId}`);
    return Promise.resolve();
  }
  searchResults: SearchResult[] = [];
  syncConversationSettings(conversationId: string): Promise<void> {
    this.calls.push(`syncSettings ${conversationId}`);
    return Promise.resolve();
  }
  search(query: string): Promise<SearchResult[]> {
    this.calls.push(`search ${query}`);
    return Promise.resolve(this.searchResults);
  }
  react(messageId: string, emoji: string, remove: boolean): Promise<void> {
    this.calls.push(`react ${messageId} ${emoji}${remove ? ' remove' : ''}`);
    return Promise.resolve();
  }
  edit(messageId: string, text: string): Promise<void> {
    this.calls.push(`edit ${messageId} ${text}`);
    return Promise.resolve();
  }
  deleteForMe(messageId: string): Promise<void> {
    this.calls.push(`deleteForMe ${messageId}`);
    return Promise.resolve();
  }
  deleteForEveryone(messageId: string): Promise<void> {
    this.calls.push(`deleteForEveryone ${messageId}`);
    return Promise.resolve();
  }
  forward(messageId: string, to: string): Promise<void> {
    this.calls.push(`forward ${messageId} ${to}`);
    return Promise.resolve();
  }
  messageInfo(): Promise<null> {
    return Promise.resolve(null);
  }
}

function session(reader: HistoryReader | null, messenger: MessengerPort | null): AppSession {
  return {
    store: new AppStateStore(initialState()),
    platform: {} as AppPlatform,
    vault: () => null,
    profile: () => null,
    reader: () => reader,
    messenger: () => messenger,
    requireMessenger: () => (messenger ? Promise.resolve(messenger) : Promise.reject(new Error('not registered'))),

    firstScreenShown: () => undefined,
  };
}

/** A direct conversation with `peer` as the core stores it (`direct:<account id>`). */
const conversation = (peer: string, username: string, patch: Partial<ConversationEntry> = {}): ConversationEntry => ({
  id: `direct:${peer}`,
  peerAccountId: peer,
  peerUsername: username,
  createdAt: NOW - 3_600_000,
  lastMessageAt: NOW - 3_600_000,
  lastMessageKey: null,
  unreadCount: 0,
  ...patch,
});

const message = (peer: string, seq: number, patch: Partial<MessageEntry> = {}): MessageEntry => ({
  id: `direct:${peer}/${String(seq).padStart(23, '0')}`,
  conversationId: `direct:${peer}`,
  direction: 'incoming',
  authorAccountId: peer,
  authorDeviceId: 1,
  timestamp: NOW - 60_000 + seq,
  serverTimestamp: null,
  storedAt: NOW - 60_000,
  text: `message ${seq}`,
  quote: null,
  expireTimerSeconds: null,
  status: 'received',
  read: true,
  error: null,
  ...patch,
});

/** Two conversations: bob (older, verified, read) and carol (newer, two unread, her key changed). */
async function seededReader(extra: Parameters<AtRestStorage['commit']>[0] = []): Promise<HistoryReader> {
  const storage = await openStorage();
  const bobLast = message('bob', 1, { text: 'hi from bob' });
  const carolMessages = [message('carol', 1), message('carol', 2, { text: 'latest from carol', read: false })];
  const identity = (trust: IdentityEntry['trust'], changedAt: number | null): IdentityEntry => ({
    publicKey: new Uint8Array(33),
    trust,
    firstSeenAt: NOW - 7_200_000,
    changedAt,
    blocked: false,
  });
  await storage.commit([
    ...[bobLast, ...carolMessages].map((m) => ({
      op: 'put' as const,
      table: 'messages' as const,
      key: m.id,
      value: m,
    })),
    {
      op: 'put',
      table: 'conversations',
      key: 'direct:bob',
      value: conversation('bob', 'bob', { lastMessageKey: bobLast.id, lastMessageAt: NOW - 120_000 }),
    },
    {
      op: 'put',
      table: 'conversations',
      key: 'direct:carol',
      value: conversation('carol', 'carol', {
        lastMessageKey: carolMessages[1]!.id,
        lastMessageAt: NOW - 30_000,
        unreadCount: 2,
      }),
    },
    { op: 'put', table: 'identities', key: 'bob', value: identity('verified', null) },
    { op: 'put', table: 'identities', key: 'carol', value: identity('unverified', NOW - 60_000) },
    ...extra,
  ]);
  return new HistoryReader(storage, () => NOW);
}

describe(ListViewModel.name, () => {
  it('should list conversations most recent first, with their last message, unread count and trust', async () => {
    const list = new ListViewModel(session(await seededReader(), null));
    const summaries = await list.conversations();
    expect(summaries.map((s) => s.title)).toEqual(['carol', 'bob']);
    expect(summaries[0]).toMatchObject({
      id: 'direct:carol',
      unread: 2,
      identityChanged: true,
      verified: false,
      lastMessage: { text: 'latest from carol', outgoing: false },
    });
    expect(summaries[1]).toMatchObject({ id: 'direct:bob', unread: 0, identityChanged: false, verified: true });
    expect(summaries[1]?.lastMessage?.text).toBe('hi from bob');
  });

  it('should list nothing before a profile is open, and start no chat without the core', async () => {
    const list = new ListViewModel(session(null, null));
    expect(await list.conversations()).toEqual([]);
    await expect(list.startChat('dave')).rejects.toThrow('not registered');
  });

  it('should open a looked-up chat and refresh the views, and pass a failed lookup through', async () => {
    const messenger = new RecordingMessenger();
    const app = session(await seededReader(), messenger);
    const list = new ListViewModel(app);
    expect(await list.startChat('nobody')).toEqual({ ok: false, error: 'unknown' });
    await Promise.resolve();
    expect(app.store.get().revision).toBe(0);

    messenger.lookup = { ok: true, conversation: conversation('dave', 'dave') };
    expect(await list.startChat('dave')).toEqual({ ok: true, conversationId: 'direct:dave' });
    await Promise.resolve();
    expect(app.store.get().revision).toBe(1);
    expect(messenger.calls).toEqual(['startChat nobody', 'startChat dave']);
  });

  it("should pass directory matches through, and null when the server's directory is off", async () => {
    const messenger = new RecordingMessenger();
    const list = new ListViewModel(session(await seededReader(), messenger));
    messenger.directoryMatches = [{ accountId: 'dave-id', username: 'dave' }];
    expect(await list.searchDirectory('da')).toEqual([{ accountId: 'dave-id', username: 'dave' }]);
    messenger.directoryMatches = null;
    expect(await list.searchDirectory('da')).toBeNull();
    expect(messenger.calls).toEqual(['directory da', 'directory da']);
  });

  it('should list the notices conversation (stored under its own id, not as a direct chat)', async () => {
    const reader = await seededReader([
      {
        op: 'put',
        table: 'conversations',
        key: 'notices',
        value: {
          id: 'notices',
          kind: 'notices',
          title: 'Notices',
          peerAccountId: '',
          peerUsername: null,
          createdAt: NOW - 10_000,
          lastMessageAt: NOW - 10_000,
          lastMessageKey: null,
          unreadCount: 0,
        },
      },
    ]);
    const summaries = await new ListViewModel(session(reader, null)).conversations();
    expect(summaries[0]).toMatchObject({ id: 'notices', notices: true, title: 'Notices' });
    expect(summaries.map((s) => s.id)).toEqual(['notices', 'direct:carol', 'direct:bob']);
  });
});

describe(GroupViewModel.name, () => {
  const groupId = 'cd'.repeat(32);
  const groupConversation = `group:${groupId}`;

  /** The seeded profile plus a group of three (the user is `me`, a member; ann is the admin) and its messages. */
  async function groupReader(active = true): Promise<HistoryReader> {
    const storage = await openStorage();
    const group: GroupEntry = {
      id: groupId,
      masterKey: new Uint8Array(32),
      revision: 3,
      title: 'Hikers',
      description: null,
      avatar: null,
      members: [
        { accountId: 'me', role: 'member', username: 'me' },
        { accountId: 'ann', role: 'admin', username: 'ann' },
        { accountId: 'bob', role: 'member', username: null },
      ],
      expireTimerSeconds: null,
      active,
      createdAt: NOW,
      updatedAt: NOW,
    };
    const fromCat = message('x', 1, {
      id: `${groupConversation}/1`,
      conversationId: groupConversation,
      authorAccountId: 'cat',
      text: 'cat was here',
    });
    const removal = message('x', 2, {
      id: `${groupConversation}/2`,
      conversationId: groupConversation,
      authorAccountId: 'ann',
      text: 'ann removed cat',
      system: {
        kind: 'removed',
        revision: 3,
        members: [{ accountId: 'cat', role: 'member', username: 'cat' }],
        title: null,
        expireTimerSeconds: null,
      },
    });
    await storage.commit([
      { op: 'put', table: 'meta', key: 'account', value: { accountId: 'me' } as never },
      { op: 'put', table: 'groups', key: groupId, value: group },
      {
        op: 'put',
        table: 'contacts',
        key: 'bob',
        value: { accountId: 'bob', username: 'bob', devices: null, updatedAt: NOW },
      },
      ...[fromCat, removal].map((m) => ({ op: 'put' as const, table: 'messages' as const, key: m.id, value: m })),
      {
        op: 'put',
        table: 'conversations',
        key: groupConversation,
        value: {
          ...conversation('', ''),
          id: groupConversation,
          kind: 'group',
          groupId,
          title: 'Hikers',
          lastMessageKey: removal.id,
        },
      },
    ]);
    return new HistoryReader(storage, () => NOW);
  }

  it('should show a member the group with roles and no admin rights, and names from contacts or the state', async () => {
    const groups = new GroupViewModel(session(await groupReader(), null));
    const info = await groups.info(groupConversation);
    expect(info).toMatchObject({ title: 'Hikers', admin: false, active: true });
    expect(info?.members.map((m) => [m.name, m.role, m.me])).toEqual([
      ['ann', 'admin', false],
      ['me', 'member', true],
      ['bob', 'member', false],
    ]);
    expect(await groups.info('direct:bob')).toBeUndefined();
  });

  it('should list the group with its title and render former members by name in its history', async () => {
    const reader = await groupReader(false);
    const [summary] = await new ListViewModel(session(reader, null)).conversations();
    expect(summary).toMatchObject({ id: groupConversation, title: 'Hikers', group: true, inactive: true });
    expect(summary?.lastMessage?.system).toMatchObject({ kind: 'removed', actor: 'ann', members: ['cat'] });
    const page = await new ChatViewModel(session(reader, null)).messages(groupConversation, { limit: 10 });
    expect(page.find((m) => m.text === 'cat was here')?.sender).toEqual({ accountId: 'cat', name: 'cat' });
    expect((await new GroupViewModel(session(reader, null)).info(groupConversation))?.admin).toBe(false);
  });

  it('should pass changes to the core by group id and report its refusals', async () => {
    const messenger = new RecordingMessenger();
    const app = session(await groupReader(), messenger);
    const groups = new GroupViewModel(app);
    expect(await groups.checkMember('ghost')).toEqual({ ok: false, error: 'unknown' });
    expect(await groups.checkMember('dave')).toEqual({ ok: true, username: 'dave' });
    expect(await groups.create('  Team ', ['dave'])).toEqual({ ok: true, conversationId: `group:${'ab'.repeat(32)}` });
    expect(await groups.remove(groupConversation, 'bob')).toEqual({ ok: true });
    expect(await groups.rename(groupConversation, 'New')).toEqual({ ok: false, error: 'forbidden' });
    expect(await groups.leave('direct:bob')).toEqual({ ok: false, error: 'invalid' });
    expect(messenger.calls).toEqual([
      'lookupMember ghost',
      'lookupMember dave',
      'createGroup Team dave',
      `changeGroup ${groupId} {"kind":"remove","members":["bob"]}`,
      `changeGroup ${groupId} {"kind":"rename","title":"New"}`,
    ]);
  });
});

describe('search and message requests in the view models', () => {
  it('should map search hits with highlighted title parts and skip empty queries', async () => {
    const messenger = new RecordingMessenger();
    const list = new ListViewModel(session(null, messenger));
    expect(await list.search('   ')).toEqual([]);
    messenger.searchResults = [
      { kind: 'conversation', conversationId: 'direct:x', title: 'carol', ranges: [{ start: 0, end: 3 }], at: NOW },
      {
        kind: 'message',
        conversationId: 'direct:y',
        title: null,
        messageId: 'direct:y/7',
        outgoing: true,
        at: Number.MAX_VALUE,
        snippet: [
          { text: '今天', match: false },
          { text: '开会', match: true },
        ],
      },
    ];
    const hits = await list.search('car');
    expect(hits[0]).toMatchObject({
      kind: 'conversation',
      title: 'carol',
      titleParts: [
        { text: 'car', match: true },
        { text: 'ol', match: false },
      ],
    });
    // No title: the account id's start; a time no date can hold: none.
    expect(hits[1]).toMatchObject({ kind: 'message', title: 'y', messageId: 'direct:y/7', at: null, outgoing: true });
    expect(messenger.calls).toEqual(['search car']);
  });

  it('should accept, block and delete through the messenger and refresh the views', async () => {
    const messenger = new RecordingMessenger();
    const app = session(null, messenger);
    const chat = new ChatViewModel(app);
    await chat.accept('direct:x');
    await chat.block('direct:y');
    await chat.deleteConversation('direct:z');
    expect(messenger.calls).toEqual(['accept direct:x', 'block direct:y', 'deleteConversation direct:z']);
    await Promise.resolve();
    expect(app.store.get().revision).toBe(3);
  });
});

describe(ChatViewModel.name, () => {
  it('should read the header summary and pages of history, newest first', async () => {
    const chat = new ChatViewModel(session(await seededReader(), null));
    expect(await chat.conversation('carol')).toMatchObject({ title: 'carol', unread: 2, identityChanged: true });
    expect(await chat.conversation('nobody')).toBeUndefined();
    const page = await chat.messages('carol', { limit: 1 });
    expect(page.map((m) => m.text)).toEqual(['latest from carol']);
    const older = await chat.messages('carol', { limit: 5, before: page[0]!.id });
    expect(older.map((m) => [m.text, m.conversationId, m.outgoing])).toEqual([['message 1', 'carol', false]]);
  });

  it('should send, retry and mark read through the messenger', async () => {
    const messenger = new RecordingMessenger();
    const chat = new ChatViewModel(session(await seededReader(), messenger));
    await chat.send('carol', 'hello');
    await chat.retry('carol', 'carol/1');
    await chat.markRead('carol');
    expect(messenger.calls).toEqual(['send carol hello', 'retry carol/1', 'markRead carol']);
  });

  it('should announce typing once per refresh interval, stop only after a start, and start again after a send', async () => {
    const messenger = new RecordingMessenger();
    let now = NOW;
    const chat = new ChatViewModel(session(null, messenger), () => now);
    chat.setTyping('carol', false); // nothing started: nothing to stop
    chat.setTyping('carol', true);
    now += TYPING_REFRESH_MS - 1;
    chat.setTyping('carol', true); // within the interval: no new notice
    now += 1;
    chat.setTyping('carol', true); // the interval passed: refresh
    chat.setTyping('carol', false);
    chat.setTyping('carol', false); // already stopped
    chat.setTyping('carol', true);
    await chat.send('carol', 'done'); // the message ends the indicator on the other side
    chat.setTyping('carol', true);
    expect(messenger.calls).toEqual([
      'typing carol started',
      'typing carol started',
      'typing carol stopped',
      'typing carol started',
      'send carol done',
      'typing carol started',
    ]);
  });

  it('should pass message actions to the messenger, and offer edit and delete for everyone only within 24 hours', async () => {
    const messenger = new RecordingMessenger();
    const chat = new ChatViewModel(session(null, messenger), () => NOW);
    await chat.reply('carol', 'carol/1', 'a reply');
    await chat.react('carol/1', '👍', false);
    await chat.react('carol/1', '👍', true);
    await chat.edit('carol/2', 'new text');
    await chat.deleteForMe('carol/3');
    await chat.deleteForEveryone('carol/2');
    await chat.forward('carol/1', 'dave');
    expect(messenger.calls).toEqual([
      'send carol a reply',
      'react carol/1 👍',
      'react carol/1 👍 remove',
      'edit carol/2 new text',
      'deleteForMe carol/3',
      'deleteForEveryone carol/2',
      'forward carol/1 dave',
    ]);
    const own = {
      id: 'x',
      conversationId: 'carol',
      outgoing: true,
      text: 'mine',
      status: 'read' as const,
      kind: 'text' as const,
    };
    expect(chat.canModify({ ...own, sentAt: NOW - 1000 })).toBe(true);
    expect(chat.canModify({ ...own, sentAt: NOW - 24 * 3600 * 1000 })).toBe(false);
    expect(chat.canModify({ ...own, sentAt: null })).toBe(false);
    expect(chat.canModify({ ...own, sentAt: NOW, deleted: true })).toBe(false);
    expect(chat.canModify({ ...own, sentAt: NOW, status: 'failed' })).toBe(false);
    expect(chat.canModify({ ...own, sentAt: NOW, outgoing: false })).toBe(false);
  });

  it('should send no typing notice before the core has loaded', () => {
    const chat = new ChatViewModel(session(null, null));
    expect(() => chat.setTyping('carol', true)).not.toThrow();
  });
});

describe(PeerTyping.name, () => {
  it('should mark a typing contact until stopped, and publish a state only on change', () => {
    const store = new AppStateStore(initialState());
    let published = 0;
    store.subscribe(() => published++);
    const typing = new PeerTyping(store);
    typing.set('carol', true);
    expect([...store.get().typing]).toEqual(['carol']);
    typing.set('bob', false);
    expect(published).toBe(1);
    typing.set('carol', false);
    expect(store.get().typing.size).toBe(0);
    expect(published).toBe(2);
    expect(TYPING_EXPIRY_MS).toBeGreaterThan(TYPING_REFRESH_MS);
  });
});

/** An in-memory app-level platform: capabilities answer from fields, the vault from a script. */
function fakePlatform(vault: Partial<Vault>): AppPlatform & { listeners: { online?: (online: boolean) => void } } {
  const listeners: { online?: (online: boolean) => void } = {};
  const capabilities: Capabilities = {
    isOnline: () => true,
    onConnectivityChange: (listener) => {
      listeners.online = listener;
      return () => undefined;
    },
    onVisible: () => () => undefined,
    showUnread: () => undefined,
    isPersisted: () => Promise.resolve(true),
    requestPersistence: () => Promise.resolve(true),
    notificationPermission: () => 'default',
    pushSupport: () => 'supported',
    requestNotificationPermission: () => Promise.resolve('denied'),
    canScan: () => false,
    scanQr: () => Promise.resolve(null),
    copyText: () => Promise.resolve(true),
    deviceLabel: () => 'Chrome on Linux',
    reload: () => undefined,
    afterPaint: (run) => run(),
  };
  const fullVault: Vault = {
    readSettings: () => Promise.resolve({ language: 'zh-CN', previews: false }),
    writeSettings: (patch) => Promise.resolve({ language: null, previews: true, ...patch }),
    hasPassphrase: () => Promise.resolve(false),
    open: () => Promise.resolve('locked'),
    unlock: () => Promise.resolve('wrong-passphrase'),
    setPassphrase: () => Promise.resolve(),
    removePassphrase: () => Promise.resolve(false),
    changePassphrase: () => Promise.resolve(false),
    wipe: () => Promise.resolve(),
    ...vault,
  };
  return {
    listeners,
    capabilities,
    voice: {
      canRecord: () => false,
      start: () => Promise.resolve('unsupported'),
      playable: () => ({ url: 'blob:test', revoke: () => undefined }),
    },
    emoji: () => Promise.resolve({ group: () => Promise.resolve([]), search: () => Promise.resolve([]) }),
    media: {
      isImageType: () => false,
      prepareImage: () => Promise.resolve(null),
      cropAvatar: () => Promise.resolve(null),
    },
    minPassphraseLength: 10,
    theme: { read: () => 'system', write: () => undefined, onChange: () => () => undefined },
    openVault: () => Promise.resolve(fullVault),
    registerServiceWorker: () => ({
      onUpdateReady: () => undefined,
      apply: () => undefined,
      ready: Promise.resolve(null),
    }),
    listenToOtherContexts: () => ({ announceVaultChange: () => undefined, announceServerLink: () => undefined }),
    refreshPushSubscription: () => Promise.resolve(null),
  };
}

describe(CoveAppShell.name, () => {
  it('should show the lock screen with the saved settings, and stay locked on a wrong passphrase', async () => {
    const platform = fakePlatform({ hasPassphrase: () => Promise.resolve(true) });
    const app = new CoveAppShell(platform, { serverUrl: 'https://cove.test', onLanguage: () => Promise.resolve() });
    expect(app.getState().phase.kind).toBe('loading');
    await app.start();
    expect(app.getState()).toMatchObject({
      phase: { kind: 'locked' },
      passphraseSet: true,
      settings: { language: 'zh-CN', previews: false },
      persisted: true,
    });
    expect(await app.onboarding.unlock('not the passphrase')).toBe(false);
    expect(app.getState().phase.kind).toBe('locked');
    platform.listeners.online?.(false);
    expect(app.getState().online).toBe(false);
    expect(app.settings.minPassphraseLength).toBe(10);
  });

  it('should onboard a profile without an account, with the server info read over the core platform', async () => {
    const storage = await openStorage();
    const requests: string[] = [];
    const core = {
      storage,
      http: {
        request: (request: HttpRequest): Promise<HttpResponse> => {
          requests.push(`${request.method} ${request.url}`);
          const body = JSON.stringify({ name: 'Test Cove', registration: 'invite', vapidPublicKey: null });
          return Promise.resolve({ status: 200, headers: {}, body });
        },
      },
    } as unknown as Platform;
    const app = new CoveAppShell(fakePlatform({ open: () => Promise.resolve(core) }), {
      serverUrl: 'https://cove.test',
      onLanguage: () => Promise.resolve(),
    });
    await app.start();
    expect(app.getState().phase).toEqual({
      kind: 'onboarding',
      info: { name: 'Test Cove', registration: 'invite', ssoName: null, vapidPublicKey: null },
      offline: false,
    });
    expect(requests).toEqual(['GET https://cove.test/v1/info']);
    expect(await app.list.conversations()).toEqual([]);
  });

  it('should show single sign-on on onboarding: the provider’s name, a failure’s reason, or the link step', async () => {
    const storage = await openStorage();
    const core = {
      storage,
      http: {
        request: (): Promise<HttpResponse> => {
          const body = JSON.stringify({ name: 'Org', registration: 'sso', sso: { name: 'Example Org' } });
          return Promise.resolve({ status: 200, headers: {}, body });
        },
      },
    } as unknown as Platform;
    const info = { name: 'Org', registration: 'sso', ssoName: 'Example Org', vapidPublicKey: null };
    const open = async (ssoReturn: ConstructorParameters<typeof CoveAppShell>[1]['ssoReturn']) => {
      const app = new CoveAppShell(fakePlatform({ open: () => Promise.resolve(core) }), {
        serverUrl: 'https://cove.test',
        onLanguage: () => Promise.resolve(),
        ssoReturn,
      });
      await app.start();
      return app.getState().phase;
    };
    expect(await open(null)).toEqual({ kind: 'onboarding', info, offline: false });
    expect(await open({ kind: 'error', code: 'not-allowed' })).toMatchObject({
      sso: { state: 'error', reason: 'not-allowed' },
    });
    // A code the server does not send (a hand-made address) reads as a provider failure, not as text to show.
    expect(await open({ kind: 'error', code: 'pwned' })).toMatchObject({ sso: { state: 'error', reason: 'provider' } });
    const token = 'A'.repeat(43);
    expect(await open({ kind: 'token', token, username: 'ann.lee', existing: true })).toMatchObject({
      sso: { state: 'link', username: 'ann.lee' },
    });
  });

  it('should show the error screen when storage cannot be opened', async () => {
    const platform = fakePlatform({});
    platform.openVault = () => Promise.reject(new Error('blocked'));
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void errors.push(args);
    try {
      const app = new CoveAppShell(platform, { serverUrl: 'https://cove.test', onLanguage: () => Promise.resolve() });
      await app.start();
      expect(app.getState().phase.kind).toBe('failed');
      expect(errors).toEqual([['[cove:app] start failed', 'Error']]);
    } finally {
      console.error = original;
    }
  });
});
