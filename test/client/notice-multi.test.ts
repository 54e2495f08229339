/**
 * Organization notices as ONE multi-recipient send (issue 15), with the real server (PostgreSQL, `REGISTRATION=invite`,
 * its Prometheus listener), real `cove` CLI processes and hand-driven devices (test/support/raw-device.ts) that play a
 * member, an administrator and an attacker: an admin's notice reaches members' CLIs and a raw member device as one
 * sender-key envelope after the organization-notice sender key went to them pairwise, and the server counts one
 * multi-recipient notice per notice (no 1:1 notice sends); a disabled member makes the next notice go under a new
 * sender key that the member's old key cannot decrypt; receivers refuse a notice under a group's sender key (even
 * from a genuine admin) and a notice under a notice key that a non-admin distributed; and members who joined since the
 * last notice get the admin's notice key before the next one.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import type { AccountRecord } from '@cove/client';
import { FileStorage } from '@cove/client/node';
import {
  ProtocolAddress,
  SenderKeyMessage,
  generateOrganizationKey,
  groupDecrypt,
  signRoleCertificate,
} from '@cove/crypto';
import { encodeContent, fromBase64 } from '@cove/protocol';

import { adminCommand, cove, ensureCliBuilt, jsonLines } from '../support/cli.js';
import { RawDevice } from '../support/raw-device.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Several CLI processes on a shared 2-core machine: a generous limit (never a timing assertion). */
jest.setTimeout(400_000);

/** A free loopback port for the server's metrics listener (the test reads the notice counter there). */
const freePort = (): Promise<number> =>
  new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => done(port));
    });
  });

/** A random distribution id (a version-4 UUID). */
const distributionId = (): string => {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

describe('Organization notices as one multi-recipient send', () => {
  let server: TestServer;
  let root: string;
  let socket: string;
  let metricsUrl: string;
  const s = Math.random().toString(36).slice(2, 6);
  const ALICE = `nm_alice_${s}`;
  const BOB = `nm_bob_${s}`;
  const dir = (name: string): string => join(root, name);
  const idOf = async (name: string): Promise<string> =>
    (JSON.parse((await cove(dir(name), ['whoami'], { json: true })).lines[0]!) as { accountId: string }).accountId;
  const inviteCode = async (): Promise<string> => {
    const created = await cove(dir('owner'), ['admin', 'invite', 'create'], { json: true });
    expect(created.code).toBe(0);
    return (JSON.parse(created.lines[0]!) as { code: string }).code;
  };
  /** The server's count of accepted notice sends by path (`multi` or `direct`). */
  const noticesAccepted = async (path: 'multi' | 'direct'): Promise<number> => {
    const text = await (await fetch(metricsUrl)).text();
    const line = text.split('\n').find((l) => l.startsWith(`cove_notices_accepted_total{path="${path}"}`));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  /** A notice's content: the text under the given certificate. */
  const noticeContent = (certificate: Uint8Array, signature: Uint8Array, text: string, senderUsername?: string) =>
    encodeContent({
      kind: 'data',
      data: {
        text,
        timestamp: Date.now(),
        ...(senderUsername ? { senderUsername } : {}),
        notice: { roleCertificate: certificate, roleCertificateSignature: signature },
      },
    });
  const certificateOf = async (
    device: RawDevice,
    accountId: string,
  ): Promise<{ certificate: Uint8Array; signature: Uint8Array }> => {
    const body = (await (
      await fetch(`${server.url}/v1/org/certificates/${accountId}`, {
        headers: { authorization: RawDevice.basic(device.accountId, device.deviceId, device.secret) },
      })
    ).json()) as { certificate: string; signature: string };
    return { certificate: fromBase64(body.certificate), signature: fromBase64(body.signature) };
  };
  /** Alice's current organization-notice sender key distribution id, from her device's storage. */
  const alicesNoticeKey = async (): Promise<string | undefined> => {
    const storage = await FileStorage.open(dir('alice'));
    try {
      return (await storage.get<{ distributionId: string }>('senderKeys', 'o/notices'))?.distributionId;
    } finally {
      await storage.close();
    }
  };
  let eve: RawDevice;
  /** Members who joined after Alice's notices so far (registered in the forgery test). */
  const newcomers: RawDevice[] = [];

  beforeAll(async () => {
    await ensureCliBuilt();
    root = await mkdtemp(join(tmpdir(), 'cove-notice-multi-'));
    socket = join(root, 'admin.sock');
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    server = await startTestServer({
      env: { REGISTRATION: 'invite', ADMIN_SOCKET: socket, METRICS_PORT: String(metricsPort) },
    });
    const bootstrap = await adminCommand(socket, 'owner-invite');
    expect(bootstrap.code).toBe(0);
    const ownerCode = bootstrap.stdout.trim().split('\n').at(-1)!;
    const register = (name: string, username: string, code: string) =>
      cove(dir(name), ['register', '--server', server.url, '--username', username, '--invite', code]);
    expect((await register('owner', `nm_owner_${s}`, ownerCode)).code).toBe(0);
    expect((await register('alice', ALICE, await inviteCode())).code).toBe(0);
    expect((await register('bob', BOB, await inviteCode())).code).toBe(0);
    eve = await RawDevice.register(server.url, `nm_eve_${s}`, await inviteCode());
    expect((await cove(dir('owner'), ['admin', 'grant', ALICE, 'admin'])).code).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it("should send an admin's notice as one multi-recipient request under the notice sender key", async () => {
    const aliceId = await idOf('alice');
    for (const [round, text] of [
      [1, `Fire drill at three ${s}`],
      [2, `Fire drill moved to four ${s}`],
    ] as const) {
      const [multi, direct] = [await noticesAccepted('multi'), await noticesAccepted('direct')];
      const sent = await cove(dir('alice'), ['admin', 'notice', text], { json: true });
      expect(sent.code).toBe(0);
      expect(JSON.parse(sent.lines[0]!)).toMatchObject({ type: 'notice-sent', notice: true, recipients: 3 });
      // One notice request for the three members' devices, none 1:1.
      expect(await noticesAccepted('multi')).toBe(multi + 1);
      expect(await noticesAccepted('direct')).toBe(direct);

      for (const name of ['bob', 'owner']) {
        const run = await cove(dir(name), ['listen', '--exit-when-idle'], { json: true });
        expect(run.code).toBe(0);
        expect(jsonLines(run.stdout).filter((e) => e.notice === true)).toEqual([
          expect.objectContaining({ type: 'message', notice: true, sender: ALICE, senderRole: 'admin', text }),
        ]);
      }
      // Eve's device saw it as what it is: the notice key pairwise (first notice only), then one sender-key envelope.
      const fromAlice = (await eve.receive()).filter((r) => r.source?.accountId === aliceId);
      expect(fromAlice.filter((r) => r.envelope.type === 'senderkey').map((r) => r.content?.kind)).toEqual(['data']);
      const keys = fromAlice.filter((r) => r.content?.kind === 'sender-key');
      expect(keys.map((r) => r.content?.kind === 'sender-key' && r.content.senderKey.notice)).toEqual(
        round === 1 ? [true] : [],
      );
      const notice = fromAlice.find((r) => r.envelope.type === 'senderkey');
      expect(notice?.content?.kind === 'data' && notice.content.data).toMatchObject({
        text,
        notice: expect.anything(),
      });
    }
  });

  it('should give the next notice a new sender key once a member is disabled, which their old key cannot open', async () => {
    const before = await alicesNoticeKey();
    expect(before).toMatch(/^[0-9a-f-]{36}$/);
    expect((await cove(dir('owner'), ['admin', 'disable', `nm_eve_${s}`])).code).toBe(0);
    const text = `Eve no longer works here ${s}`;
    const sent = await cove(dir('alice'), ['admin', 'notice', text], { json: true });
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.lines[0]!)).toMatchObject({ recipients: 2 });
    const after = await alicesNoticeKey();
    expect(after).toMatch(/^[0-9a-f-]{36}$/);
    expect(after).not.toBe(before);

    // The ciphertext the server holds for Bob is on the new chain: Eve's copy of Alice's old key cannot open it.
    const bobId = await idOf('bob');
    const [row] = await server.query<{ content: Buffer }>(
      `SELECT p.content FROM envelopes e JOIN shared_payloads p ON p.id = e.payload_id
       WHERE e.account_id = $1 AND e.type = 'senderkey' ORDER BY e.id DESC LIMIT 1`,
      [bobId],
    );
    const ciphertext = new Uint8Array(row!.content);
    expect(SenderKeyMessage.deserialize(ciphertext).distributionId()).toBe(after);
    const storage = await FileStorage.open(dir('alice'));
    const alice = (await storage.get<AccountRecord>('meta', 'account'))!;
    await storage.close();
    const sender = ProtocolAddress.new(alice.accountId, alice.deviceId);
    expect(await eve.senderKeys.getSenderKey(sender, before!)).not.toBeNull();
    await expect(groupDecrypt(sender, eve.senderKeys, ciphertext)).rejects.toThrow();

    const run = await cove(dir('bob'), ['listen', '--exit-when-idle'], { json: true });
    expect(jsonLines(run.stdout).filter((e) => e.notice === true && e.text === text)).toHaveLength(1);
  });

  it("should refuse a notice under a group's sender key, and under a notice key a non-admin distributed", async () => {
    const bobId = await idOf('bob');
    // Dave: an admin by a genuine certificate the owner signs, driving his device by hand.
    const dave = await RawDevice.register(server.url, `nm_dave_${s}`, await inviteCode());
    expect((await cove(dir('owner'), ['admin', 'grant', `nm_dave_${s}`, 'admin'])).code).toBe(0);
    const daves = await certificateOf(dave, dave.accountId);
    // 1. A notice on the chain Dave gave Bob for a group: refused, though the certificate is genuine.
    const groupChain = distributionId();
    expect((await dave.distributeSenderKey(bobId, groupChain, { groupId: randomBytes(32) })).status).toBe(200);
    const onGroup = noticeContent(daves.certificate, daves.signature, 'dave forged on a group key');
    expect((await dave.sendSenderKey([bobId], groupChain, onGroup, { notice: true })).status).toBe(200);
    // 2. The same admin on his notice chain: shown (what makes the refusal above about the chain alone).
    const noticeChain = distributionId();
    expect((await dave.distributeSenderKey(bobId, noticeChain, { notice: true })).status).toBe(200);
    const genuine = `Dave's genuine notice ${s}`;
    const onNotice = noticeContent(daves.certificate, daves.signature, genuine, `nm_dave_${s}`);
    expect((await dave.sendSenderKey([bobId], noticeChain, onNotice, { notice: true })).status).toBe(200);

    // 3. Mallory, a member, distributes a notice key of her own: the server refuses her marked notice (403); sent
    //    unmarked (ordinary ciphertext to the server) with a self-made certificate or Dave's, Bob's client refuses it.
    const mallory = await RawDevice.register(server.url, `nm_mallory_${s}`, await inviteCode());
    const malloryChain = distributionId();
    expect((await mallory.distributeSenderKey(bobId, malloryChain, { notice: true })).status).toBe(200);
    const now = Date.now();
    const selfMade = signRoleCertificate(generateOrganizationKey(), {
      accountId: mallory.accountId,
      role: 'admin',
      issuedAt: now - 1000,
      expiresAt: now + 3600_000,
    });
    const marked = await mallory.sendSenderKey(
      [bobId],
      malloryChain,
      noticeContent(selfMade.body, selfMade.signature, 'mallory forged one'),
      { notice: true },
    );
    expect(marked.status).toBe(403);
    expect(marked.body).toMatchObject({ error: 'admin_required' });
    for (const [certificate, signature, text] of [
      [selfMade.body, selfMade.signature, 'mallory forged two'],
      [daves.certificate, daves.signature, 'mallory forged three'],
    ] as const) {
      expect(
        (await mallory.sendSenderKey([bobId], malloryChain, noticeContent(certificate, signature, text))).status,
      ).toBe(200);
    }

    const run = await cove(dir('bob'), ['listen', '--exit-when-idle'], { json: true });
    expect(run.code).toBe(0);
    const events = jsonLines(run.stdout);
    expect(events.filter((e) => e.notice === true).map((e) => [e.text, e.sender])).toEqual([[genuine, `nm_dave_${s}`]]);
    expect(
      // Senders are applied in parallel: their refusals come in any order.
      events
        .filter((e) => e.type === 'message-rejected')
        .map((e) => [e.reason, e.accountId === dave.accountId])
        .sort(),
    ).toEqual([
      ['notice_misplaced', true],
      ['notice_not_admin', false],
      ['notice_not_admin', false],
    ]);
    const history = jsonLines((await cove(dir('bob'), ['history', 'notices'], { json: true })).stdout);
    expect(history.some((m) => /forged/.test(String(m.text)))).toBe(false);
    newcomers.push(dave, mallory);
  });

  it("should hand members who joined since the last notice the admin's notice key before the next notice", async () => {
    const aliceId = await idOf('alice');
    const text = `Welcome to the new people ${s}`;
    const multi = await noticesAccepted('multi');
    const sent = await cove(dir('alice'), ['admin', 'notice', text], { json: true });
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.lines[0]!)).toMatchObject({ recipients: 4 });
    expect(await noticesAccepted('multi')).toBe(multi + 1);
    expect(newcomers).toHaveLength(2);
    for (const device of newcomers) {
      const fromAlice = (await device.receive()).filter((r) => r.source?.accountId === aliceId);
      // The key first (over the 1:1 session), then the notice under it, which the newcomer's copy of the key opens.
      expect(fromAlice.map((r) => [r.envelope.type === 'senderkey', r.content?.kind])).toEqual([
        [false, 'sender-key'],
        [true, 'data'],
      ]);
      const [key, notice] = fromAlice;
      expect(key?.content?.kind === 'sender-key' && key.content.senderKey.notice).toBe(true);
      expect(notice?.content?.kind === 'data' && notice.content.data.text).toBe(text);
    }
  });
});
