/**
 * The history archive's shapes and bounds (history-archive.ts): a well-formed archive and pointer parse, the notices
 * conversation with a notice among them; extra fields, conversation ids that are neither direct, group nor `notices`
 * (a path, another spelling), non-base64 keys, notice certificates of the wrong size, sizes past the bound and too
 * many messages are refused before any client logic sees them. (Where a notice may sit is the client's check.)
 */
import { describe, expect, it } from '@jest/globals';

import {
  HistoryArchive,
  HistoryArchivePointer,
  MAX_HISTORY_ARCHIVE_BYTES,
  MAX_HISTORY_MESSAGES_PER_CONVERSATION,
  ProvisioningPayload,
} from '../src/index.js';

const peer = '6f1c2d3e-4a5b-4c6d-8e7f-901234567890';
const me = '0a1b2c3d-4e5f-4a6b-8c7d-8e9f0a1b2c3d';
const conversationId = `direct:${peer}`;
const key = Buffer.alloc(32, 7).toString('base64');

const message = {
  conversationId,
  direction: 'incoming',
  authorAccountId: peer,
  authorDeviceId: 1,
  timestamp: 1_700_000_000_000,
  serverTimestamp: null,
  storedAt: 1_700_000_000_500,
  text: 'hello',
  quote: null,
  expireTimerSeconds: null,
  status: 'received',
  read: true,
  reactions: [{ authorAccountId: me, emoji: '👍', timestamp: 1_700_000_001_000 }],
};
const archive = {
  version: 1,
  accountId: me,
  createdAt: 1_700_000_002_000,
  conversations: [{ id: conversationId, peerUsername: 'bob', title: null, messages: [message] }],
};
const notice = {
  ...message,
  conversationId: 'notices',
  reactions: undefined,
  notice: {
    senderUsername: 'admin',
    roleCertificate: Buffer.alloc(34, 1).toString('base64'),
    roleCertificateSignature: Buffer.alloc(64, 2).toString('base64'),
  },
};
const pointer = {
  storageId: 'AbC_123-xyz',
  key,
  digest: key,
  paddedSize: 1024,
  plainSize: 900,
  messages: 1,
  conversations: 1,
};

describe('HistoryArchive', () => {
  it('should parse a well-formed archive and pointer, also inside a provisioning message', () => {
    expect(HistoryArchive.safeParse(archive).success).toBe(true);
    const { reactions: _none, ...plain } = notice;
    const notices = { id: 'notices', peerUsername: null, title: null, messages: [plain] };
    expect(HistoryArchive.safeParse({ ...archive, conversations: [notices] }).success).toBe(true);
    expect(HistoryArchivePointer.safeParse(pointer).success).toBe(true);
    const payload = {
      version: 1,
      createdAt: 1,
      accountId: me,
      username: 'alice',
      identityKeyPair: 'AAAA',
      provisioningCode: 'code',
      contacts: [],
      history: pointer,
    };
    expect(ProvisioningPayload.safeParse(payload).success).toBe(true);
    expect(ProvisioningPayload.safeParse({ ...payload, history: { ...pointer, extra: 1 } }).success).toBe(false);
  });

  it('should refuse unknown fields, foreign conversation ids, bad keys, oversize and too many messages', () => {
    const withConversation = (changes: Record<string, unknown>) => ({
      ...archive,
      conversations: [{ ...archive.conversations[0], ...changes }],
    });
    expect(HistoryArchive.safeParse({ ...archive, extra: true }).success).toBe(false);
    for (const id of ['Notices', 'notices/x', `direct:${peer}/../x`, 'group:XYZ', `direct:${peer.toUpperCase()}`])
      expect(HistoryArchive.safeParse(withConversation({ id })).success).toBe(false);
    expect(
      HistoryArchive.safeParse(withConversation({ messages: [{ ...message, conversationId: 'system' }] })).success,
    ).toBe(false);
    // A notice's certificate and signature fit their sizes (exact sizes are the client's check); nothing else rides.
    const { reactions: _none, ...plain } = notice;
    const withNotice = (changes: Record<string, unknown>) =>
      withConversation({
        id: 'notices',
        peerUsername: null,
        messages: [{ ...plain, notice: { ...plain.notice, ...changes } }],
      });
    expect(HistoryArchive.safeParse(withNotice({})).success).toBe(true);
    expect(HistoryArchive.safeParse(withNotice({ roleCertificate: Buffer.alloc(40).toString('base64') })).success).toBe(
      false,
    );
    expect(HistoryArchive.safeParse(withNotice({ roleCertificateSignature: 'not base64!' })).success).toBe(false);
    expect(HistoryArchive.safeParse(withNotice({ role: 'owner' })).success).toBe(false);
    expect(HistoryArchive.safeParse(withNotice({ senderUsername: 'a b' })).success).toBe(false);
    expect(
      HistoryArchive.safeParse(
        withConversation({ messages: Array(MAX_HISTORY_MESSAGES_PER_CONVERSATION + 1).fill(message) }),
      ).success,
    ).toBe(false);
    expect(HistoryArchivePointer.safeParse({ ...pointer, key: 'not base64!' }).success).toBe(false);
    expect(HistoryArchivePointer.safeParse({ ...pointer, paddedSize: MAX_HISTORY_ARCHIVE_BYTES + 1 }).success).toBe(
      false,
    );
    expect(HistoryArchivePointer.safeParse({ ...pointer, storageId: '../etc/passwd' }).success).toBe(false);
  });
});
