/**
 * Per-device queue caps (`MAX_QUEUED_ENVELOPES`, `MAX_QUEUED_BYTES`), enforced in the group-commit statement that
 * stores a send: a send that would overfill any destination device's queue answers `507 queue_full` naming the
 * recipient and its full devices, over HTTP and in a WebSocket `result` frame, and stores nothing (a send to several
 * devices is all or nothing). Each refusal is checked against a byte-for-byte snapshot of the envelopes table, and
 * concurrent senders (several sends in one group-commit batch) never push a queue past its cap on one instance.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MAX_ENVELOPE_CONTENT_BYTES } from '@cove/protocol';

import { EnvelopeRepository, type CheckedEnvelopeRow } from '../../src/repositories/envelope.repository.js';
import {
  link,
  messagesFor,
  register,
  startServer,
  type Backend,
  type TestDevice,
  type TestServer,
} from '../support/harness.js';
import { queueCounterDrift } from '../support/queue-counters.js';

/** Small caps so a test fills a queue quickly: 5 envelopes, or 4 maximum-size ones (256 KiB) per device. */
const CAP_ENVELOPES = 5;
const CAP_BYTES = 4 * MAX_ENVELOPE_CONTENT_BYTES;

const content = (bytes: number): string => randomBytes(bytes).toString('base64');

function defineQueueCaps(backend: Backend): void {
  describe(`queue caps on ${backend}`, () => {
    let server: TestServer;

    beforeAll(async () => {
      server = await startServer(backend, {
        MAX_QUEUED_ENVELOPES: String(CAP_ENVELOPES),
        MAX_QUEUED_BYTES: `${CAP_BYTES / 1024}KiB`,
      });
    }, 180_000);

    afterAll(async () => {
      await server?.close();
    }, 60_000);

    /** Every stored envelope, content included, in storage order: what a refused send must leave untouched. */
    const snapshot = async (): Promise<string> =>
      JSON.stringify(
        await server.query(
          `SELECT id::text, guid, account_id, device_id, source_account_id, source_device_id,
                  encode(content, 'hex') AS content
           FROM envelopes ORDER BY id`,
        ),
      );
    const queued = async (device: TestDevice): Promise<number> =>
      (
        await server.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM envelopes WHERE account_id = $1 AND device_id = $2',
          [device.accountId, device.deviceId],
        )
      )[0]!.n;
    const ackOne = async (device: TestDevice): Promise<void> => {
      const list = await device.request('GET', '/v1/messages?limit=1');
      expect((await device.request('DELETE', `/v1/messages/${list.body.envelopes[0].guid}`)).status).toBe(204);
    };

    it('should answer 507 queue_full when a device holds the most envelopes allowed, storing nothing', async () => {
      const alice = await register(server);
      const bob = await register(server);
      const bob2 = await link(bob);
      const send = () => alice.request('PUT', `/v1/messages/${bob.accountId}`, messagesFor([bob, bob2], content(100)));
      for (let i = 0; i < CAP_ENVELOPES; i++) expect((await send()).status).toBe(200);

      let before = await snapshot();
      const full = await send();
      expect(full.status).toBe(507);
      expect(full.body).toEqual({
        error: 'queue_full',
        message: expect.any(String),
        accountId: bob.accountId,
        fullDevices: [1, 2],
      });
      expect(await snapshot()).toBe(before);

      // Room on device 1 only: still refused as a whole, and device 1 gets nothing either.
      await ackOne(bob);
      before = await snapshot();
      const partly = await send();
      expect(partly.status).toBe(507);
      expect(partly.body.fullDevices).toEqual([2]);
      expect(await snapshot()).toBe(before);
      expect(await queued(bob)).toBe(CAP_ENVELOPES - 1);

      // Room on both: accepted again.
      await ackOne(bob2);
      expect((await send()).status).toBe(200);
      expect(await queued(bob)).toBe(CAP_ENVELOPES);
      expect(await queued(bob2)).toBe(CAP_ENVELOPES);
    });

    it('should answer 507 queue_full when a device holds the most content bytes allowed', async () => {
      const alice = await register(server);
      const bob = await register(server);
      const send = () =>
        alice.request('PUT', `/v1/messages/${bob.accountId}`, messagesFor([bob], content(MAX_ENVELOPE_CONTENT_BYTES)));
      for (let i = 0; i < CAP_BYTES / MAX_ENVELOPE_CONTENT_BYTES; i++) expect((await send()).status).toBe(200);
      expect(await queued(bob)).toBeLessThan(CAP_ENVELOPES);
      const before = await snapshot();
      const full = await send();
      expect(full.status).toBe(507);
      expect(full.body).toMatchObject({ error: 'queue_full', accountId: bob.accountId, fullDevices: [1] });
      expect(await snapshot()).toBe(before);
      // The queue holds exactly its byte cap: even a one-byte envelope is over it.
      const small = await alice.request('PUT', `/v1/messages/${bob.accountId}`, messagesFor([bob], content(1)));
      expect(small.status).toBe(507);
      expect(await snapshot()).toBe(before);
    });

    it('should answer a WebSocket send to a full queue with a result frame carrying 507 queue_full', async () => {
      const alice = await register(server);
      const bob = await register(server);
      for (let i = 0; i < CAP_ENVELOPES; i++) {
        const ok = await alice.request('PUT', `/v1/messages/${bob.accountId}`, messagesFor([bob], content(10)));
        expect(ok.status).toBe(200);
      }
      const socket = await alice.connect();
      expect(await socket.drain()).toEqual([]);
      const before = await snapshot();
      socket.sendJson({
        type: 'send',
        id: 'full',
        destination: bob.accountId,
        message: messagesFor([bob], content(10)),
      });
      expect(await socket.next()).toEqual({
        type: 'result',
        id: 'full',
        status: 507,
        body: { error: 'queue_full', message: expect.any(String), accountId: bob.accountId, fullDevices: [1] },
      });
      expect(await snapshot()).toBe(before);
      socket.close();
    });

    it('should never let concurrent senders push a queue past its cap', async () => {
      const bob = await register(server);
      const senders = await Promise.all(Array.from({ length: 6 }, () => register(server)));
      // 36 sends at once: several land in the same group-commit batch, each checked against the ones before it.
      const results = await Promise.all(
        Array.from({ length: 36 }, (_, i) =>
          senders[i % senders.length]!.request('PUT', `/v1/messages/${bob.accountId}`, messagesFor([bob], content(50))),
        ),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === 200)).toHaveLength(CAP_ENVELOPES);
      expect(statuses.filter((s) => s === 507)).toHaveLength(36 - CAP_ENVELOPES);
      expect(await queued(bob)).toBe(CAP_ENVELOPES);
    });

    it('should count the earlier sends of the same group-commit batch against the cap', async () => {
      const alice = await register(server);
      const bob = await register(server);
      for (let i = 0; i < CAP_ENVELOPES - 2; i++) {
        const ok = await alice.request('PUT', `/v1/messages/${bob.accountId}`, messagesFor([bob], content(10)));
        expect(ok.status).toBe(200);
      }
      // One statement with four sends to the same device: two fit, the two after them do not.
      const rows: CheckedEnvelopeRow[] = [0, 1, 2, 3].map((request) => ({
        request,
        registrationId: bob.registrationId,
        guid: randomUUID(),
        accountId: bob.accountId,
        deviceId: 1,
        type: 'whisper',
        sourceAccountId: alice.accountId,
        sourceDeviceId: 1,
        timestamp: Date.now(),
        serverTimestamp: Date.now(),
        urgent: true,
        content: new Uint8Array(randomBytes(10)),
      }));
      const envelopes = server.running.app.get(EnvelopeRepository);
      const skipped = await envelopes.insertChecked(rows, { envelopes: CAP_ENVELOPES, bytes: CAP_BYTES });
      expect(skipped.refused).toEqual(new Set());
      expect(skipped.full).toEqual(
        new Map([
          [2, [1]],
          [3, [1]],
        ]),
      );
      const stored = await server.query<{ guid: string }>(
        'SELECT guid FROM envelopes WHERE account_id = $1 ORDER BY id',
        [bob.accountId],
      );
      expect(stored.slice(-2).map((r) => r.guid)).toEqual([rows[0]!.guid, rows[1]!.guid]);
      expect(await queued(bob)).toBe(CAP_ENVELOPES);
    });

    it('should leave every queue counter equal to its queue after the sends, refusals and acknowledgements above', async () => {
      expect(await queueCounterDrift(server.query)).toEqual([]);
    });
  });
}

defineQueueCaps('postgres');
defineQueueCaps('pglite');
