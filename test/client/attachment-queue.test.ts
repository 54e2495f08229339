/**
 * Attachment uploads beside the outbox, between in-process Node messengers on the real server: texts written after a
 * file (to the same contact and to another) go out while its upload is held, and the file follows once uploaded,
 * staying where it was written in the sender's history; a file sent while the server is down is queued (its upload
 * created later), retried with backoff and delivered with identical bytes when the server is back; a download cut
 * off mid-way resumes from what the device holds; a message deleted mid-upload is never sent and its upload is
 * deleted on the server.
 */
import { randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import type { BinaryHttpTransport, MessageEntry } from '@cove/client';
import { BLOB_DIRECTORY, fetchBinaryTransport } from '@cove/client/node';

import { destroyClient, newClient, restartClient, transcript, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

jest.setTimeout(180_000);

const MIB = 1024 * 1024;

const collect = async (pieces: AsyncIterable<Uint8Array>): Promise<Buffer> => {
  const parts: Uint8Array[] = [];
  for await (const piece of pieces) parts.push(piece);
  return Buffer.concat(parts);
};

const exists = (path: string): Promise<boolean> =>
  access(path).then(
    () => true,
    () => false,
  );

/**
 * The real transport, except that while `hold` is on, every PATCH after the first waits until `release()`: an
 * upload in progress that the test controls (no timing involved).
 */
type HeldUploads = BinaryHttpTransport & { hold: boolean; patches: number; release(): void };

const heldUploads = (): HeldUploads => {
  let open: () => void = () => undefined;
  let gate = new Promise<void>((resolve) => (open = resolve));
  const transport: HeldUploads = {
    hold: false,
    patches: 0,
    release: () => {
      open();
      gate = new Promise<void>((resolve) => (open = resolve));
    },
    request: async (request) => {
      if (request.method === 'PATCH') {
        transport.patches += 1;
        if (transport.hold && transport.patches > 1) await gate;
      }
      return fetchBinaryTransport.request(request);
    },
  };
  return transport;
};

const statusOf = async (client: TestClient, id: string): Promise<string | undefined> =>
  (await client.messenger.message(id))?.status;

const isOut = (status: string | undefined): boolean => status === 'sent' || status === 'delivered' || status === 'read';

/** The incoming message from `from` with this sender timestamp, once it is there. */
const received = (client: TestClient, from: TestClient, timestamp: number): Promise<MessageEntry> =>
  until('message received', async () =>
    (await transcript(client, from.accountId)).find((m) => m.timestamp === timestamp),
  );

describe('attachment uploads beside the outbox', () => {
  let server: TestServer;
  let uploads: HeldUploads;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;

  beforeAll(async () => {
    server = await startTestServer();
    uploads = heldUploads();
    alice = await newClient(server.url, 'attq_alice', { binaryHttp: uploads });
    bob = await newClient(server.url, 'attq_bob');
    carol = await newClient(server.url, 'attq_carol');
    await Promise.all([alice.messenger.connect(), bob.messenger.connect(), carol.messenger.connect()]);
    // Sessions first, so that what follows is about uploads only.
    await alice.messenger.sendText('attq_bob', 'hello bob');
    await alice.messenger.sendText('attq_carol', 'hello carol');
    await alice.messenger.flushOutbox();
  }, 180_000);

  afterAll(async () => {
    for (const client of [alice, bob, carol]) if (client) await destroyClient(client);
    await server?.close();
  });

  it('should send texts written after a file while its upload runs, and the file where it was written once up', async () => {
    const bytes = randomBytes(9 * MIB);
    uploads.hold = true;
    uploads.patches = 0;
    const file = await alice.messenger.sendAttachment('attq_bob', { source: bytes, contentType: 'video/mp4' });
    // The upload is under way: its first piece is on the server, the next one held.
    await until('first piece up', () =>
      alice.events.some((e) => e.type === 'attachment-progress' && e.messageId === file.id && e.sent > 0),
    );
    const toBob = await alice.messenger.sendText('attq_bob', 'written after the file');
    const toCarol = await alice.messenger.sendText('attq_carol', 'to carol meanwhile');
    await until(
      'texts sent',
      async () => isOut(await statusOf(alice, toBob.id)) && isOut(await statusOf(alice, toCarol.id)),
    );
    expect((await received(bob, alice, toBob.timestamp)).text).toBe('written after the file');
    expect((await received(carol, alice, toCarol.timestamp)).text).toBe('to carol meanwhile');
    // The file is still uploading: not sent, and not with bob.
    expect(await statusOf(alice, file.id)).toBe('sending');
    expect((await transcript(bob, alice.accountId)).some((m) => m.timestamp === file.timestamp)).toBe(false);

    uploads.hold = false;
    uploads.release();
    await until('file sent', async () => isOut(await statusOf(alice, file.id)), 60_000);
    const incoming = await received(bob, alice, file.timestamp);
    await bob.messenger.downloadAttachment(incoming.id, 0);
    expect(Buffer.compare(await collect(bob.messenger.readAttachment(incoming.id, 0)), bytes)).toBe(0);
    // In alice's history the file stays where she wrote it: before the text written after it.
    const mine = (await transcript(alice, bob.accountId)).filter((m) => m.direction === 'outgoing').map((m) => m.id);
    expect(mine.indexOf(file.id)).toBeLessThan(mine.indexOf(toBob.id));
  });

  it('should queue a file sent while the server is down, retry with backoff, and deliver it once the server is back', async () => {
    const bytes = randomBytes(300_000);
    await server.stop();
    const file = await alice.messenger.sendAttachment(bob.accountId, {
      source: bytes,
      contentType: 'application/pdf',
      fileName: 'offline.pdf',
      caption: 'written offline',
    });
    expect(file.status).toBe('sending');
    expect(file.attachments![0]!.storageId).toBe('');
    await alice.messenger.flushOutbox();
    const [entry] = (await alice.platform.storage.list('outbox')).filter((e) => e.value.messageKey === file.id);
    expect(entry!.value.uploads![0]).toMatchObject({ uploadUrl: null, done: false });
    expect(entry!.value.content.length).toBe(0);
    expect(entry!.value.attempts).toBeGreaterThanOrEqual(1);
    expect(entry!.value.lastError).toBe('server_unreachable');
    expect(entry!.value.nextAttemptAt).toBeGreaterThan(Date.now());
    expect(await statusOf(alice, file.id)).toBe('sending');
    // Not due yet: another pass leaves it alone (backoff), it does not fail it.
    const attempts = entry!.value.attempts;
    await alice.messenger.flushOutbox();
    const [again] = (await alice.platform.storage.list('outbox')).filter((e) => e.value.messageKey === file.id);
    expect(again!.value.attempts).toBe(attempts);

    await server.start();
    await until('sent after the server came back', async () => isOut(await statusOf(alice, file.id)), 60_000);
    const sent = (await alice.messenger.message(file.id))!;
    expect(sent.attachments![0]!.storageId).not.toBe('');
    const incoming = await received(bob, alice, file.timestamp);
    expect(incoming.text).toBe('written offline');
    expect(incoming.attachments![0]).toMatchObject({
      storageId: sent.attachments![0]!.storageId,
      fileName: 'offline.pdf',
      caption: 'written offline',
      plainSize: bytes.length,
    });
    await until(
      'auto-downloaded',
      async () => (await bob.messenger.message(incoming.id))?.attachments?.[0]?.state === 'local',
    );
    expect(Buffer.compare(await collect(bob.messenger.readAttachment(incoming.id, 0)), bytes)).toBe(0);
  });

  it('should resume a download cut off mid-way from what the device holds, verifying it as it arrives', async () => {
    const bytes = randomBytes(9 * MIB);
    const file = await alice.messenger.sendAttachment('attq_bob', { source: bytes, contentType: 'application/zip' });
    await alice.messenger.flushOutbox();
    const incoming = await received(bob, alice, file.timestamp);
    const ranges: string[] = [];
    let gets = 0;
    const cutting: BinaryHttpTransport = {
      request: (request) => {
        if (request.method !== 'GET') return fetchBinaryTransport.request(request);
        ranges.push(request.headers.range ?? '');
        return ++gets === 2 ? Promise.reject(new Error('connection reset')) : fetchBinaryTransport.request(request);
      },
    };
    bob = await restartClient(bob, { binaryHttp: cutting });
    await expect(bob.messenger.downloadAttachment(incoming.id, 0)).rejects.toMatchObject({
      code: 'server_unreachable',
    });
    const partial = (await bob.messenger.message(incoming.id))!;
    expect(partial.attachments![0]!.state).toBe('remote');
    const held = (await bob.platform.attachments!.size(partial.attachments![0]!.blobId))!;
    expect(held).toBeGreaterThan(0);

    await bob.messenger.downloadAttachment(incoming.id, 0);
    // The second attempt asked only for what the device did not hold.
    expect(ranges[2]).toBe(`bytes=${held}-${held + 4 * MIB - 1}`);
    expect((await bob.messenger.message(incoming.id))!.attachments![0]!.state).toBe('local');
    expect(Buffer.compare(await collect(bob.messenger.readAttachment(incoming.id, 0)), bytes)).toBe(0);
    await bob.messenger.connect();
  });

  it('should never send a message deleted mid-upload, and delete its upload on the server', async () => {
    uploads.hold = true;
    uploads.patches = 0;
    const file = await alice.messenger.sendAttachment('attq_bob', {
      source: randomBytes(9 * MIB),
      contentType: 'video/mp4',
    });
    const storageId = file.attachments![0]!.storageId;
    const blob = join(alice.dataDir, BLOB_DIRECTORY, file.attachments![0]!.blobId);
    await until('first piece up', () =>
      alice.events.some((e) => e.type === 'attachment-progress' && e.messageId === file.id && e.sent > 0),
    );
    expect(await server.query('SELECT id FROM attachments WHERE id = $1', [storageId])).toHaveLength(1);

    expect(await alice.messenger.deleteMessage(file.id)).toBe(true);
    expect((await alice.platform.storage.list('outbox')).some((e) => e.value.messageKey === file.id)).toBe(false);
    expect(await exists(blob)).toBe(false);
    expect(await server.query('SELECT id FROM attachments WHERE id = $1', [storageId])).toHaveLength(0);
    // The piece that was held now meets a deleted upload; nothing of it is sent.
    uploads.hold = false;
    uploads.release();
    await alice.messenger.flushOutbox();
    const after = await alice.messenger.sendText('attq_bob', 'after the deleted file');
    await alice.messenger.flushOutbox();
    await received(bob, alice, after.timestamp);
    expect((await transcript(bob, alice.accountId)).some((m) => m.timestamp === file.timestamp)).toBe(false);
    expect(await alice.platform.storage.count('outbox')).toBe(0);
  });
});
