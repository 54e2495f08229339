/**
 * Sealed sender end to end: Node clients running the messenger core on a real server process (PostgreSQL). Two
 * clients that know each other's access keys chat sealed — every send, receipts included, leaves without credentials
 * (recorded on the wire), and while the recipient is offline every column of its stored envelopes holds no trace of
 * the sender's account id — and the recipient sees the right author; a wrong access key is refused by the server, the
 * client falls back to an identified send at once and remembers; a group message goes sealed (v2) to 50 members in
 * one request; two clients that only exchanged messages (so each holds the other's profile key) go sealed with no
 * access key set by hand; on a server signing certificates that live 3 seconds, a message sealed under an expired
 * certificate (its sender's clock runs late) is refused by the receiver; and a blocked sender's sealed message is
 * dropped once opened (the block list applies to the sender inside the seal), with no receipt, until unblocked.
 */
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import type { Clock, HttpRequest, HttpTransport, MessageEntry } from '@cove/client';
import { deriveAccessKey } from '@cove/crypto';
import { fetchTransport } from '@cove/client/node';

import { destroyClient, newClient, texts, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(600_000);

const MEMBERS = 50;

/** An HTTP transport that records every send (`PUT /v1/messages/...`) with the headers it carried. */
const recording = (): { http: HttpTransport; sends: HttpRequest[] } => {
  const sends: HttpRequest[] = [];
  return {
    sends,
    http: {
      request: (request) => {
        if (request.method === 'PUT' && new URL(request.url).pathname.startsWith('/v1/messages/')) sends.push(request);
        return fetchTransport.request(request);
      },
    },
  };
};
const sealedSends = (sends: HttpRequest[]): HttpRequest[] =>
  sends.filter((r) => r.headers['unidentified-access-key'] !== undefined && r.headers.authorization === undefined);
const identifiedSends = (sends: HttpRequest[]): HttpRequest[] => sends.filter((r) => r.headers.authorization);

/** Gives each client a fresh access key, published to the server and known to the others. */
const exchangeKeys = async (owner: TestClient, ...contacts: TestClient[]): Promise<Uint8Array> => {
  const key = new Uint8Array(randomBytes(16));
  await owner.messenger.setOwnUnidentifiedAccess(key);
  for (const contact of contacts) await contact.messenger.setAccessKey(owner.accountId, key);
  return key;
};

describe('sealed sender between clients', () => {
  let server: TestServer;
  let ann: TestClient;
  let ben: TestClient;
  let cat: TestClient;
  const annWire = recording();
  const benWire = recording();

  beforeAll(async () => {
    server = await startTestServer();
    ann = await newClient(server.url, 'sealed_ann', { oneTimePreKeys: 5, http: annWire.http });
    ben = await newClient(server.url, 'sealed_ben', { oneTimePreKeys: 5, http: benWire.http });
    cat = await newClient(server.url, 'sealed_cat', { oneTimePreKeys: 5 });
    await exchangeKeys(ann, ben, cat);
    await exchangeKeys(ben, ann);
    await exchangeKeys(cat);
  }, 300_000);

  afterAll(async () => {
    for (const client of [ann, ben, cat]) if (client) await destroyClient(client);
    await server?.close();
  });

  /** Every stored envelope row of an account, every column as text, and its source columns. */
  const storedFor = (accountId: string) =>
    server.query<{ row: string; source_account_id: string | null; source_device_id: number | null; type: string }>(
      `SELECT row_to_json(e)::text AS row, source_account_id, source_device_id, type FROM envelopes e
       WHERE account_id = $1::uuid ORDER BY id`,
      [accountId],
    );
  const mentions = (text: string, accountId: string): boolean =>
    text.toLowerCase().includes(accountId) || text.toLowerCase().includes(accountId.replace(/-/g, ''));

  it('should chat sealed, leaving no trace of the sender in the stored envelopes', async () => {
    await ann.messenger.sendText('sealed_ben', 'hello under the seal');
    await ann.messenger.sendText('sealed_ben', 'and a second one');
    await ann.messenger.flushOutbox();
    const toBen = sealedSends(annWire.sends).filter((r) => r.url.endsWith(`/v1/messages/${ben.accountId}`));
    expect(toBen).toHaveLength(2);
    expect(identifiedSends(annWire.sends)).toEqual([]);
    for (const request of toBen) {
      const body = JSON.parse(request.body ?? '{}') as { messages: Array<{ type: string }> };
      expect(body.messages.map((m) => m.type)).toEqual(['unidentified-sender']);
    }

    /** Ben is offline: his queue on the server, every column of it. */
    const stored = await storedFor(ben.accountId);
    expect(stored).toHaveLength(2);
    for (const row of stored) {
      expect(row).toMatchObject({ source_account_id: null, source_device_id: null, type: 'unidentified-sender' });
      expect(mentions(row.row, ann.accountId)).toBe(false);
    }

    expect(await ben.messenger.fetchPending()).toEqual(['stored', 'stored']);
    expect(await texts(ben, ann.accountId, 'incoming')).toEqual(['hello under the seal', 'and a second one']);
    const incoming = (await ben.messenger.messages(ann.accountId)).messages;
    expect(incoming.every((m: MessageEntry) => m.authorAccountId === ann.accountId && m.authorDeviceId === 1)).toBe(
      true,
    );

    /** Ben's delivery receipts go sealed too, and reach Ann with no sender on the server either. */
    await ben.messenger.flushOutbox();
    expect(sealedSends(benWire.sends).some((r) => r.url.endsWith(`/v1/messages/${ann.accountId}`))).toBe(true);
    expect(identifiedSends(benWire.sends)).toEqual([]);
    const receipts = await storedFor(ann.accountId);
    expect(receipts.length).toBeGreaterThan(0);
    expect(receipts.every((r) => r.source_account_id === null && !mentions(r.row, ben.accountId))).toBe(true);
    await ann.messenger.fetchPending();
    await until('delivered', async () =>
      (await ann.messenger.messages(ben.accountId)).messages.every((m: MessageEntry) => m.status === 'delivered'),
    );

    /** A reply the other way, sealed as well. */
    await ben.messenger.sendText('sealed_ann', 'sealed reply');
    await ben.messenger.flushOutbox();
    await ann.messenger.fetchPending();
    expect(await texts(ann, ben.accountId, 'incoming')).toEqual(['sealed reply']);
    expect(server.logs.join('\n')).not.toContain('hello under the seal');
  });

  it('should fall back to an identified send when the access key is refused, and remember', async () => {
    // Ann holds a wrong key for Cat (Cat published another one).
    await ann.messenger.setAccessKey(cat.accountId, new Uint8Array(randomBytes(16)));
    const before = annWire.sends.length;
    await ann.messenger.sendText('sealed_cat', 'first try');
    await ann.messenger.flushOutbox();
    const attempts = annWire.sends.slice(before).filter((r) => r.url.endsWith(`/v1/messages/${cat.accountId}`));
    expect(attempts.map((r) => (r.headers.authorization ? 'identified' : 'sealed'))).toEqual(['sealed', 'identified']);
    await cat.messenger.fetchPending();
    expect(await texts(cat, ann.accountId, 'incoming')).toEqual(['first try']);
    const stored = await storedFor(cat.accountId);
    expect(stored).toEqual([]);

    const next = annWire.sends.length;
    await ann.messenger.sendText('sealed_cat', 'second try');
    await ann.messenger.flushOutbox();
    const later = annWire.sends.slice(next).filter((r) => r.url.endsWith(`/v1/messages/${cat.accountId}`));
    expect(later.map((r) => (r.headers.authorization ? 'identified' : 'sealed'))).toEqual(['identified']);
    await cat.messenger.fetchPending();
    expect(await texts(cat, ann.accountId, 'incoming')).toEqual(['first try', 'second try']);
  });

  it('should drop a blocked sender’s sealed message once opened, unseen and unanswered, and resume on unblock', async () => {
    // Ben's queue emptied first (Ann's last receipts); then the block list names Ann, whose envelope names no one
    // until Ben opens it.
    await ben.messenger.fetchPending();
    expect(await storedFor(ben.accountId)).toEqual([]);
    expect(await ben.messenger.block(ann.accountId)).toBe(true);
    const before = annWire.sends.length;
    const eventsBefore = ben.events.length;
    const benSendsBefore = benWire.sends.length;
    const dropped = await ann.messenger.sendText('sealed_ben', 'sealed spam');
    await ann.messenger.flushOutbox();
    const toBen = annWire.sends.slice(before).filter((r) => r.url.endsWith(`/v1/messages/${ben.accountId}`));
    expect(toBen.length).toBeGreaterThan(0);
    expect(sealedSends(toBen)).toHaveLength(toBen.length);
    const stored = await storedFor(ben.accountId);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ source_account_id: null, type: 'unidentified-sender' });

    expect(await ben.messenger.fetchPending()).toEqual(['ignored']);
    expect(await texts(ben, ann.accountId, 'incoming')).not.toContain('sealed spam');
    expect(
      ben.events
        .slice(eventsBefore)
        .some((e) => e.type === 'message-added' || e.type === 'typing' || e.type === 'message-rejected'),
    ).toBe(false);
    // No delivery receipt goes back: Ann's message stays "sent".
    await ben.messenger.flushOutbox();
    expect(benWire.sends.slice(benSendsBefore).filter((r) => r.url.endsWith(`/v1/messages/${ann.accountId}`))).toEqual(
      [],
    );
    await ann.messenger.fetchPending();
    expect((await ann.messenger.message(dropped.id))?.status).toBe('sent');

    // Unblocked: the session stayed in step, the next sealed message arrives; the dropped one stays dropped.
    expect(await ben.messenger.unblock(ann.accountId)).toBe(true);
    await ann.messenger.sendText('sealed_ben', 'after unblock');
    await ann.messenger.flushOutbox();
    expect(await ben.messenger.fetchPending()).toEqual(['stored']);
    const received = await texts(ben, ann.accountId, 'incoming');
    expect(received).toContain('after unblock');
    expect(received).not.toContain('sealed spam');
  });

  it('should go sealed between clients that exchanged profile keys, with no access key set by hand', async () => {
    const dotWire = recording();
    const fayWire = recording();
    const dot = await newClient(server.url, 'sealed_dot', { oneTimePreKeys: 2, http: dotWire.http });
    const fay = await newClient(server.url, 'sealed_fay', { oneTimePreKeys: 2, http: fayWire.http });
    try {
      const toFay = (): HttpRequest[] => dotWire.sends.filter((r) => r.url.endsWith(`/v1/messages/${fay.accountId}`));
      const toDot = (): HttpRequest[] => fayWire.sends.filter((r) => r.url.endsWith(`/v1/messages/${dot.accountId}`));
      // Strangers: Dot's sealed try without Fay's key is refused (she takes sealed messages from contacts only), so
      // the first message goes identified, and carries Dot's profile key.
      expect(await dot.messenger.accessKeyFor(fay.accountId)).toBeUndefined();
      await dot.messenger.sendText('sealed_fay', 'hi, here is my profile key');
      await dot.messenger.flushOutbox();
      expect(toFay().map((r) => (r.headers.authorization ? 'identified' : 'sealed'))).toEqual(['sealed', 'identified']);

      // Fay takes it: her key for Dot is the one derived from it, and everything she sends him goes sealed.
      await fay.messenger.fetchPending();
      const dotsKey = (await fay.platform.storage.get('contacts', dot.accountId))?.profileKey;
      expect(dotsKey).toBeInstanceOf(Uint8Array);
      expect(await fay.messenger.accessKeyFor(dot.accountId)).toEqual(deriveAccessKey(dotsKey!));
      const [published] = await server.query<{ unidentified_access_key: Uint8Array | null }>(
        'SELECT unidentified_access_key FROM accounts WHERE id = $1::uuid',
        [dot.accountId],
      );
      expect(Buffer.from(published?.unidentified_access_key ?? []).toString('hex')).toBe(
        Buffer.from(deriveAccessKey(dotsKey!)).toString('hex'),
      );
      await fay.messenger.sendText('sealed_dot', 'sealed back, with my key');
      await fay.messenger.flushOutbox();
      expect(toDot().length).toBeGreaterThanOrEqual(2); // the delivery receipt and the reply
      expect(identifiedSends(toDot())).toEqual([]);
      expect(sealedSends(toDot())).toHaveLength(toDot().length);
      const queued = await storedFor(dot.accountId);
      expect(queued.length).toBeGreaterThan(0);
      expect(queued.every((r) => r.source_account_id === null && !mentions(r.row, fay.accountId))).toBe(true);

      // Dot now holds Fay's key too: his next message is sealed, and she sees it from him.
      await dot.messenger.fetchPending();
      expect(await texts(dot, fay.accountId, 'incoming')).toEqual(['sealed back, with my key']);
      const before = toFay().length;
      await dot.messenger.sendText('sealed_fay', 'now sealed both ways');
      await dot.messenger.flushOutbox();
      const after = toFay().slice(before);
      expect(after.length).toBeGreaterThan(0);
      expect(identifiedSends(after)).toEqual([]);
      await fay.messenger.fetchPending();
      expect(await texts(fay, dot.accountId, 'incoming')).toEqual([
        'hi, here is my profile key',
        'now sealed both ways',
      ]);
      const fromDot = (await fay.messenger.messages(dot.accountId)).messages.filter((m) => m.direction === 'incoming');
      expect(fromDot.every((m: MessageEntry) => m.authorAccountId === dot.accountId)).toBe(true);
    } finally {
      await destroyClient(dot);
      await destroyClient(fay);
    }
  });
});

describe(`a sealed group message to ${MEMBERS} members`, () => {
  let server: TestServer;
  let clients: TestClient[] = [];
  const wire = recording();

  beforeAll(async () => {
    server = await startTestServer();
    clients.push(await newClient(server.url, 'sg_admin', { oneTimePreKeys: 2, http: wire.http }));
    for (let i = 0; i < MEMBERS; i += 1) clients.push(await newClient(server.url, `sg_m${i}`, { oneTimePreKeys: 2 }));
    const [admin, ...members] = clients as [TestClient, ...TestClient[]];
    for (const member of members) await exchangeKeys(member, admin);
  }, 600_000);

  afterAll(async () => {
    for (const client of clients) await destroyClient(client);
    clients = [];
    await server?.close();
  });

  it('should go in one request without credentials, and reach every member from the right sender', async () => {
    const [admin, ...members] = clients as [TestClient, ...TestClient[]];
    const group = await admin.messenger.createGroup(
      'Sealed fifty',
      members.map((c) => c.name),
    );
    await admin.messenger.flushOutbox();
    const before = admin.messenger.multiRecipientRequests;
    const sentBefore = wire.sends.length;
    await admin.messenger.sendGroupText(group.id, 'sealed to fifty');
    await admin.messenger.flushOutbox();
    expect(admin.messenger.multiRecipientRequests - before).toBe(1);
    const multi = wire.sends.slice(sentBefore).filter((r) => r.url.endsWith('/v1/messages/multi'));
    expect(multi).toHaveLength(1);
    expect(sealedSends(multi)).toHaveLength(1);
    expect(JSON.parse(multi[0]?.body ?? '{}')).toMatchObject({ type: 'unidentified-sender' });

    const rows = await server.query<{ n: number; sourced: number; payloads: number }>(
      `SELECT count(*)::int AS n, count(source_account_id)::int AS sourced, count(DISTINCT payload_id)::int AS payloads
       FROM envelopes WHERE type = 'unidentified-sender' AND payload_id IS NOT NULL`,
    );
    expect(rows[0]).toEqual({ n: MEMBERS, sourced: 0, payloads: 1 });

    for (const member of [members[0]!, members[24]!, members[MEMBERS - 1]!]) {
      await member.messenger.fetchPending();
      await until(`${member.name} has it`, async () => {
        const messages = (await member.messenger.messages(`group:${group.id}`)).messages.filter((m) => !m.system);
        return messages.length === 1 && messages[0]?.text === 'sealed to fifty'
          ? messages[0].authorAccountId === admin.accountId
          : false;
      });
    }
  });
});

describe('an expired sender certificate', () => {
  let server: TestServer;
  let dan: TestClient;
  let eve: TestClient;
  /** Dan's clock runs 13 hours late: he takes an expired certificate for a fresh one. */
  const lateClock: Clock = {
    now: () => Date.now() - 13 * 3600_000,
    setTimeout: (fn, ms) => ({ id: setTimeout(fn, ms) }),
    clearTimeout: (handle) => clearTimeout(handle.id as NodeJS.Timeout),
  };

  beforeAll(async () => {
    server = await startTestServer({ env: { SEALED_SENDER_CERTIFICATE_LIFETIME: '3s' } });
    dan = await newClient(server.url, 'late_dan', { oneTimePreKeys: 2, clock: lateClock });
    eve = await newClient(server.url, 'late_eve', { oneTimePreKeys: 2 });
    await exchangeKeys(eve, dan);
  }, 300_000);

  afterAll(async () => {
    for (const client of [dan, eve]) if (client) await destroyClient(client);
    await server?.close();
  });

  it('should be refused by the receiver', async () => {
    await dan.messenger.sendText('late_eve', 'within the lifetime');
    await dan.messenger.flushOutbox();
    expect(await eve.messenger.fetchPending()).toEqual(['stored']);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    await dan.messenger.sendText('late_eve', 'after it expired');
    await dan.messenger.flushOutbox();
    const [stored] = await server.query<{ type: string; source_account_id: string | null }>(
      `SELECT type, source_account_id FROM envelopes WHERE account_id = $1::uuid`,
      [eve.accountId],
    );
    expect(stored).toEqual({ type: 'unidentified-sender', source_account_id: null });
    expect(await eve.messenger.fetchPending()).toEqual(['ignored']);
    expect(await texts(eve, dan.accountId, 'incoming')).toEqual(['within the lifetime']);
  });
});
