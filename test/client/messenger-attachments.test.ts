/**
 * Attachments between in-process Node messengers on the real server: upload progress, automatic download of a small
 * attachment and on-demand download of a large one (with progress), metadata kept, local blobs deleted with a
 * deleted or expired message, an upload resumed after its connection dropped and the app restarted, and a blob
 * altered in transit marked as failing verification with nothing released.
 */
import { randomBytes } from 'node:crypto';
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { ClientErrorCode } from '@cove/client';
import type { BinaryHttpTransport, MessageEntry } from '@cove/client';
import { BLOB_DIRECTORY, fetchBinaryTransport, systemClock } from '@cove/client/node';

import { destroyClient, newClient, restartClient, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

jest.setTimeout(120_000);

const MIB = 1024 * 1024;
/** A disappearing timer no loaded machine outlasts between receipt and the test's first look (the test moves time). */
const TIMER_SECONDS = 3600;

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

const blobPath = (client: TestClient, message: MessageEntry): string =>
  join(client.dataDir, BLOB_DIRECTORY, message.attachments![0]!.blobId);

/** The newest incoming message from `from` carrying an attachment, once it is there. */
const incomingAttachment = (client: TestClient, from: TestClient, after = 0): Promise<MessageEntry> =>
  until('attachment message', async () => {
    const page = await client.messenger.messages(from.accountId, { limit: 5 });
    return page.messages.find((m) => m.direction === 'incoming' && m.attachments && m.timestamp > after);
  });

describe('Messenger attachments', () => {
  let server: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  /** How far Bob's clock runs ahead: moved past a disappearing timer instead of waiting it out. */
  let bobAhead = 0;
  const bobClock = { ...systemClock, now: () => Date.now() + bobAhead };

  beforeAll(async () => {
    server = await startTestServer();
    alice = await newClient(server.url, 'att_m_alice');
    bob = await newClient(server.url, 'att_m_bob', { clock: bobClock });
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
  }, 120_000);

  afterAll(async () => {
    for (const client of [alice, bob]) if (client) await destroyClient(client);
    await server?.close();
  });

  it('should upload with progress and download a small attachment by itself, metadata intact', async () => {
    const bytes = randomBytes(200_000);
    const sent = await alice.messenger.sendAttachment('att_m_bob', {
      source: bytes,
      contentType: 'image/png',
      fileName: 'dot.png',
      width: 640,
      height: 480,
      caption: 'a dot',
    });
    await until('sent', async () => (await alice.messenger.message(sent.id))?.status !== 'sending');
    expect((await alice.messenger.message(sent.id))?.status).not.toBe('failed');
    const uploads = alice.events.flatMap((e) =>
      e.type === 'attachment-progress' && e.messageId === sent.id && e.direction === 'upload' ? [e] : [],
    );
    expect(uploads.at(-1)?.sent).toBe(uploads.at(-1)?.total);

    const received = await incomingAttachment(bob, alice);
    const done = await until('auto-downloaded', async () => {
      const m = await bob.messenger.message(received.id);
      return m?.attachments?.[0]?.state === 'local' ? m : undefined;
    });
    expect(done.text).toBe('a dot');
    expect(done.attachments![0]).toMatchObject({
      contentType: 'image/png',
      fileName: 'dot.png',
      width: 640,
      height: 480,
      caption: 'a dot',
      plainSize: bytes.length,
      voiceNote: false,
    });
    expect(Buffer.compare(await collect(bob.messenger.readAttachment(received.id, 0)), bytes)).toBe(0);
    expect(bob.events.some((e) => e.type === 'attachment-progress' && e.direction === 'download')).toBe(true);
  });

  it('should download a large attachment only when asked, with progress, and delete blobs with the message', async () => {
    const bytes = randomBytes(3 * MIB);
    const sent = await alice.messenger.sendAttachment('att_m_bob', {
      source: (function* () {
        for (let at = 0; at < bytes.length; at += 100_000) yield bytes.subarray(at, at + 100_000);
      })(),
      contentType: 'application/pdf',
      fileName: 'big.pdf',
    });
    const received = await incomingAttachment(bob, alice, (await alice.messenger.message(sent.id))!.timestamp - 1);
    expect(received.attachments![0]!.state).toBe('remote');
    await expect(collect(bob.messenger.readAttachment(received.id, 0))).rejects.toMatchObject({
      code: ClientErrorCode.AttachmentUnavailable,
    });
    await bob.messenger.downloadAttachment(received.id, 0);
    const progress = bob.events.flatMap((e) =>
      e.type === 'attachment-progress' && e.messageId === received.id ? [e] : [],
    );
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.sent).toBe(progress.at(-1)!.total);
    expect(Buffer.compare(await collect(bob.messenger.readAttachment(received.id, 0)), bytes)).toBe(0);

    const local = (await bob.messenger.message(received.id))!;
    expect(await exists(blobPath(bob, local))).toBe(true);
    expect(await bob.messenger.deleteMessage(received.id)).toBe(true);
    expect(await exists(blobPath(bob, local))).toBe(false);
    expect(await bob.messenger.message(received.id)).toBeUndefined();
    const mine = (await alice.messenger.message(sent.id))!;
    expect(await exists(blobPath(alice, mine))).toBe(true);
    await alice.messenger.deleteMessage(sent.id);
    expect(await exists(blobPath(alice, mine))).toBe(false);
  });

  it('should delete the local blob of a disappearing message when it expires', async () => {
    const sent = await alice.messenger.sendAttachment('att_m_bob', {
      source: randomBytes(10_000),
      contentType: 'application/octet-stream',
      expireTimerSeconds: TIMER_SECONDS,
    });
    const received = await incomingAttachment(bob, alice, (await alice.messenger.message(sent.id))!.timestamp - 1);
    const local = await until('auto-downloaded', async () => {
      const m = await bob.messenger.message(received.id);
      return m?.attachments?.[0]?.state === 'local' ? m : undefined;
    });
    expect(await exists(blobPath(bob, local))).toBe(true);
    // With a 1-second timer the message could expire (and be hidden) before a loaded machine first looked for it.
    bobAhead = (TIMER_SECONDS + 1) * 1000;
    try {
      await until('expired', async () => (await bob.messenger.sweepExpired()) > 0);
      expect(await exists(blobPath(bob, local))).toBe(false);
      expect(await bob.messenger.message(received.id)).toBeUndefined();
    } finally {
      bobAhead = 0;
    }
  });

  it('should resume an upload after the connection dropped and the app restarted', async () => {
    let patches = 0;
    const dropping: BinaryHttpTransport = {
      request: (request) => {
        if (request.method === 'PATCH' && ++patches >= 2) return Promise.reject(new Error('connection reset'));
        return fetchBinaryTransport.request(request);
      },
    };
    alice = await restartClient(alice, { binaryHttp: dropping });
    const bytes = randomBytes(5 * MIB);
    const sent = await alice.messenger.sendAttachment('att_m_bob', { source: bytes, contentType: 'video/mp4' });
    await alice.messenger.flushOutbox();
    expect((await alice.messenger.message(sent.id))?.status).toBe('sending');
    const [entry] = (await alice.platform.storage.list('outbox')).filter((e) => e.value.messageKey === sent.id);
    const offset = entry!.value.uploads![0]!.offset;
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(entry!.value.uploads![0]!.blobSize);

    alice = await restartClient(alice);
    await alice.messenger.connect();
    await until('sent after restart', async () => (await alice.messenger.message(sent.id))?.status !== 'sending');
    const resumed = alice.events.flatMap((e) =>
      e.type === 'attachment-progress' && e.messageId === sent.id ? [e] : [],
    );
    // The restarted app sent only what the server lacked: its first progress is past the saved offset.
    expect(resumed[0]!.sent).toBeGreaterThan(offset);
    const received = await incomingAttachment(bob, alice, (await alice.messenger.message(sent.id))!.timestamp - 1);
    await bob.messenger.downloadAttachment(received.id, 0);
    expect(Buffer.compare(await collect(bob.messenger.readAttachment(received.id, 0)), bytes)).toBe(0);
  });

  it('should upload again from where the server stands when a failed attachment message is retried', async () => {
    const refusing: BinaryHttpTransport = {
      request: (request) =>
        request.method === 'PATCH'
          ? Promise.resolve({ status: 404, headers: {}, body: new TextEncoder().encode('{"error":"not_found"}') })
          : fetchBinaryTransport.request(request),
    };
    alice = await restartClient(alice, { binaryHttp: refusing });
    await alice.messenger.connect();
    const bytes = randomBytes(300_000);
    const sent = await alice.messenger.sendAttachment('att_m_bob', { source: bytes, contentType: 'text/plain' });
    await alice.messenger.flushOutbox();
    expect(await alice.messenger.message(sent.id)).toMatchObject({
      status: 'failed',
      error: ClientErrorCode.AttachmentUnavailable,
    });

    alice = await restartClient(alice);
    await alice.messenger.connect();
    await alice.messenger.retrySend(sent.id);
    await until('sent on retry', async () => (await alice.messenger.message(sent.id))?.status !== 'sending');
    expect((await alice.messenger.message(sent.id))?.status).not.toBe('failed');
    const received = await incomingAttachment(bob, alice, (await alice.messenger.message(sent.id))!.timestamp - 1);
    await bob.messenger.downloadAttachment(received.id, 0);
    expect(Buffer.compare(await collect(bob.messenger.readAttachment(received.id, 0)), bytes)).toBe(0);
  });

  it('should refuse a caption out of bounds and keep neither the blob nor the upload', async () => {
    const blobs = async (): Promise<number> => (await readdir(join(alice.dataDir, BLOB_DIRECTORY))).length;
    const before = await blobs();
    const uploads = async (): Promise<string | undefined> =>
      (await server.query<{ count: string }>('SELECT count(*) FROM attachments'))[0]?.count;
    const uploadsBefore = await uploads();
    await expect(
      alice.messenger.sendAttachment('att_m_bob', {
        source: randomBytes(1000),
        contentType: 'text/plain',
        caption: 'x'.repeat(5000),
      }),
    ).rejects.toMatchObject({ code: ClientErrorCode.InvalidInput });
    expect(await blobs()).toBe(before);
    expect(await uploads()).toBe(uploadsBefore);
  });

  it('should mark a blob altered in transit as failing verification and release nothing', async () => {
    const altering: BinaryHttpTransport = {
      request: async (request) => {
        const response = await fetchBinaryTransport.request(request);
        if (request.method === 'GET' && response.body.length > 100) response.body[100]! ^= 0x80;
        return response;
      },
    };
    bob = await restartClient(bob, { binaryHttp: altering });
    await bob.messenger.connect();
    const sent = await alice.messenger.sendAttachment('att_m_bob', {
      source: randomBytes(3 * MIB),
      contentType: 'application/zip',
    });
    const received = await incomingAttachment(bob, alice, (await alice.messenger.message(sent.id))!.timestamp - 1);
    await expect(bob.messenger.downloadAttachment(received.id, 0)).rejects.toMatchObject({
      code: ClientErrorCode.AttachmentUnverified,
    });
    const failed = (await bob.messenger.message(received.id))!;
    expect(failed.attachments![0]).toMatchObject({ state: 'failed', error: ClientErrorCode.AttachmentUnverified });
    expect(await exists(blobPath(bob, failed))).toBe(false);
    await expect(collect(bob.messenger.readAttachment(received.id, 0))).rejects.toMatchObject({
      code: ClientErrorCode.AttachmentUnverified,
    });
  });
});
