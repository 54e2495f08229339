/**
 * The syncs between one account's devices beyond transcripts of messages and read positions (content.proto
 * SyncMessage fields 3 to 7): each round-trips exactly, and hostile values — a record naming two conversations or
 * none, a wrong-sized key, an unknown trust, too many records, an action outside its window, a bad group state — are
 * refused with a ContentError on encode and on decode.
 */
import { describe, expect, it } from '@jest/globals';

import { ContentError, MAX_SYNC_RECORDS, decodeContent, encodeContent } from '../../src/content/index.js';
import type { Content, ContactRecord, ConversationRecord } from '../../src/content/index.js';

const PEER = '2f1c7b8e-9d3a-4c1e-8f5a-0b6d7e8f9a0b';
const ME = '7a0d3c1e-5b2f-4e6a-9c8d-1f2e3d4c5b6a';
const NOW = 1_764_000_000_000;

const contact: ContactRecord = {
  accountId: PEER,
  username: 'bob_b',
  nickname: 'Bobby 🐝',
  identityKey: new Uint8Array(33).fill(5),
  trust: 'verified',
  blocked: true,
  profileKey: new Uint8Array(32).fill(9),
  updatedAt: NOW,
};

const conversation: ConversationRecord = {
  peerAccountId: PEER,
  deleted: false,
  request: false,
  mutedUntil: NOW + 3_600_000,
  mutedForever: false,
  pinnedAt: NOW - 5,
  archived: true,
  expireTimerSeconds: 3600,
  updatedAt: NOW,
};

const sync = (body: Extract<Content, { kind: 'sync' }>['sync']): Content => ({ kind: 'sync', sync: body });

const refused = (content: Content): void => {
  expect(() => encodeContent(content)).toThrow(ContentError);
};

describe('device sync content', () => {
  it("should carry an organization notice's transcript with no destination, and refuse one that names a destination", () => {
    const notice = {
      text: 'Office closed on Friday',
      timestamp: NOW,
      notice: { roleCertificate: new Uint8Array(34).fill(1), roleCertificateSignature: new Uint8Array(64).fill(2) },
    };
    const content = sync({ type: 'sent', message: notice });
    expect(decodeContent(encodeContent(content))).toEqual(content);
    refused(sync({ type: 'sent', destinationAccountId: PEER, message: notice }));
    // Without the notice, a transcript still has to name where it went.
    refused(sync({ type: 'sent', message: { text: 'hello', timestamp: NOW } }));
  });

  it('should round-trip action transcripts, contacts, conversations, profile keys and group states', () => {
    const contents: Content[] = [
      sync({
        type: 'action',
        destinationAccountId: PEER,
        action: {
          kind: 'reaction',
          reaction: { timestamp: NOW, emoji: '👍', targetAuthorAccountId: PEER, targetTimestamp: NOW - 1 },
        },
      }),
      sync({
        type: 'action',
        destinationAccountId: PEER,
        action: { kind: 'edit', edit: { timestamp: NOW, targetTimestamp: NOW - 1, text: 'new' } },
      }),
      sync({
        type: 'action',
        destinationAccountId: PEER,
        action: { kind: 'delete', delete: { timestamp: NOW, targetTimestamp: NOW - 1 } },
      }),
      sync({
        type: 'contacts',
        contacts: [contact, { accountId: ME, trust: 'trusted-first-use', blocked: false, updatedAt: 0 }],
      }),
      sync({
        type: 'conversations',
        conversations: [
          conversation,
          {
            groupId: new Uint8Array(32).fill(1),
            deleted: false,
            request: true,
            mutedForever: true,
            archived: false,
            updatedAt: 0,
          },
          { peerAccountId: ME, deleted: true, request: false, mutedForever: false, archived: false, updatedAt: NOW },
        ],
      }),
      sync({ type: 'profile', profileKey: new Uint8Array(32).fill(3) }),
      sync({ type: 'request' }),
      sync({
        type: 'group-state',
        groupUpdate: {
          id: new Uint8Array(32).fill(2),
          masterKey: new Uint8Array(32).fill(4),
          revision: 3,
          title: 'Team',
          members: [
            { accountId: ME, role: 'admin', username: 'alice' },
            { accountId: PEER, role: 'member' },
          ],
          timestamp: NOW,
        },
      }),
    ];
    for (const content of contents)
      expect(decodeContent(encodeContent(content), { serverTimestamp: NOW })).toEqual(content);
  });

  it('should refuse hostile contact and conversation records', () => {
    refused(sync({ type: 'contacts', contacts: [] }));
    refused(sync({ type: 'contacts', contacts: [{ ...contact, accountId: 'not-a-uuid' }] }));
    refused(sync({ type: 'contacts', contacts: [{ ...contact, identityKey: new Uint8Array(32) }] }));
    refused(sync({ type: 'contacts', contacts: [{ ...contact, profileKey: new Uint8Array(31) }] }));
    refused(sync({ type: 'contacts', contacts: [{ ...contact, username: 'no spaces allowed' }] }));
    refused(sync({ type: 'contacts', contacts: [{ ...contact, nickname: 'x'.repeat(1025) }] }));
    refused(sync({ type: 'contacts', contacts: [{ ...contact, trust: 'trusted' as ContactRecord['trust'] }] }));
    refused(sync({ type: 'contacts', contacts: Array.from({ length: MAX_SYNC_RECORDS + 1 }, () => contact) }));
    refused(sync({ type: 'conversations', conversations: [{ ...conversation, groupId: new Uint8Array(32) }] }));
    const { peerAccountId: _peer, ...neither } = conversation;
    refused(sync({ type: 'conversations', conversations: [neither] }));
    refused(sync({ type: 'conversations', conversations: [{ ...conversation, expireTimerSeconds: -1 }] }));
    refused(sync({ type: 'profile', profileKey: new Uint8Array(16) }));
  });

  it('should hold synced actions and group states to the bounds of the same content received directly', () => {
    const late = encodeContent(
      sync({
        type: 'action',
        destinationAccountId: PEER,
        action: { kind: 'delete', delete: { timestamp: NOW, targetTimestamp: NOW - 1 } },
      }),
    );
    // A send time four days before the envelope's server time is refused, as for a delete received directly.
    expect(() => decodeContent(late, { serverTimestamp: NOW + 4 * 24 * 3600 * 1000 })).toThrow(ContentError);
    refused(
      sync({
        type: 'action',
        destinationAccountId: PEER,
        action: {
          kind: 'reaction',
          reaction: { timestamp: NOW, emoji: 'not an emoji', targetAuthorAccountId: PEER, targetTimestamp: 1 },
        },
      }),
    );
    refused(
      sync({
        type: 'group-state',
        groupUpdate: {
          id: new Uint8Array(31),
          masterKey: new Uint8Array(32),
          revision: 1,
          title: 't',
          members: [{ accountId: ME, role: 'admin' }],
          timestamp: NOW,
        },
      }),
    );
    // Updated-at times are bounded like any referenced time: not more than a day after the envelope.
    const future = encodeContent(
      sync({ type: 'contacts', contacts: [{ ...contact, updatedAt: NOW + 2 * 24 * 3600 * 1000 }] }),
    );
    expect(() => decodeContent(future, { serverTimestamp: NOW })).toThrow(ContentError);
  });
});
