/**
 * The pipelined attachment paths between in-process Node messengers on the real server: a file of known size is
 * PATCHed while it is still being encrypted, and such an upload cut off mid-way resumes after a restart; a source
 * that yields another size than announced is refused with nothing kept; the one-pass download (download, verify and
 * decrypt at once, as `cove listen` saves) delivers identical bytes and refuses a chunk altered in transit before any
 * of its plaintext comes out; and the one-pass read of a stored blob (with the chunk hashes verified on download)
 * refuses a blob or a hash list changed on the device.
 */
import { randomBytes } from 'node:crypto';
import { access, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { ATTACHMENT_CHUNK_SIZE, ATTACHMENT_TAG_SIZE } from '@cove/crypto';
import { ClientErrorCode } from '@cove/client';
import type { BinaryHttpTransport, MessageEntry } from '@cove/client';
import { BLOB_DIRECTORY, fetchBinaryTransport } from '@cove/client/node';

import { destroyClient, newClient, restartClient, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

jest.setTimeout(180_000);

const MIB = 1024 * 1024;
const SEALED = ATTACHMENT_CHUNK_SIZE + ATTACHMENT_TAG_SIZE;

/** Every piece released until the end or the first error (returned, not thrown). */
const drain = async (pieces: AsyncIterable<Uint8Array>): Promise<{ bytes: Buffer; error: unknown }> => {
  const parts: Uint8Array[] = [];
  try {
    for await (const piece of pieces) parts.push(piece.slice());
    return { bytes: Buffer.concat(parts), error: null };
  } catch (error) {
    return { bytes: Buffer.concat(parts), error };
  }
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

const timestampOf = async (client: TestClient, id: string): Promise<number> =>
  (await client.messenger.message(id))!.timestamp;

describe('Pipelined attachment transfers', () => {
  let server: TestServer;
  let alice: TestClient;
  let bob: TestClient;

  beforeAll(async () => {
    server = await startTestServer();
    alice = await newClient(server.url, 'att_p_alice');
    bob = await newClient(server.url, 'att_p_bob');
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
  }, 120_000);

  afterAll(async () => {
    for (const client of [alice, bob]) if (client) await destroyClient(client);
    await server?.close();
  });

  const uploadCount = async (): Promise<string | undefined> =>
    (await server.query<{ count: string }>('SELECT count(*) FROM attachments'))[0]?.count;

  it('should upload a file of known size while encrypting it, and resume that upload cut off after a restart', async () => {
    const bytes = randomBytes(10 * MIB); // three 4 MiB pieces
    let patched = 0;
    let firstPatch: () => void = () => undefined;
    const firstPatchDone = new Promise<void>((resolve) => (firstPatch = resolve));
    const dropping: BinaryHttpTransport = {
      request: async (request) => {
        if (request.method !== 'PATCH') return fetchBinaryTransport.request(request);
        // The first PATCH goes through, every later one is cut off.
        if (patched >= 1) throw new Error('connection reset');
        const response = await fetchBinaryTransport.request(request);
        patched += 1;
        firstPatch();
        return response;
      },
    };
    alice = await restartClient(alice, { binaryHttp: dropping });
    // The source holds back its last piece until the server holds the first: only a pipelined upload gets there.
    async function* source(): AsyncIterable<Uint8Array> {
      yield bytes.subarray(0, 9 * MIB);
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          firstPatchDone,
          new Promise((_, reject) => {
            timer = setTimeout(() => reject(new Error('nothing uploaded during encryption')), 60_000);
          }),
        ]);
      } finally {
        clearTimeout(timer);
      }
      yield bytes.subarray(9 * MIB);
    }
    const sent = await alice.messenger.sendAttachment('att_p_bob', {
      source: source(),
      size: bytes.length,
      contentType: 'video/mp4',
    });
    await alice.messenger.flushOutbox();
    expect((await alice.messenger.message(sent.id))?.status).toBe('sending');
    const [entry] = (await alice.platform.storage.list('outbox')).filter((e) => e.value.messageKey === sent.id);
    const upload = entry!.value.uploads![0]!;
    expect(upload.offset).toBe(4 * MIB);
    expect(upload.done).toBe(false);

    alice = await restartClient(alice);
    await alice.messenger.connect();
    await until('sent after restart', async () => (await alice.messenger.message(sent.id))?.status !== 'sending');
    const progress = alice.events.flatMap((e) =>
      e.type === 'attachment-progress' && e.messageId === sent.id ? [e.sent] : [],
    );
    // The restarted uploader sent only what the server lacked.
    expect(progress[0]).toBe(8 * MIB);
    const received = await incomingAttachment(bob, alice, (await timestampOf(alice, sent.id)) - 1);
    const { bytes: got, error } = await drain(bob.messenger.downloadAndDecryptAttachment(received.id, 0));
    expect(error).toBeNull();
    expect(Buffer.compare(got, bytes)).toBe(0);
    const stored = (await bob.messenger.message(received.id))!.attachments![0]!;
    expect(stored.state).toBe('local');
    expect(stored.chunkHashes?.length).toBe(Math.ceil(stored.paddedSize / ATTACHMENT_CHUNK_SIZE) * 32);
    // Read again from the device: one pass with the hashes the download verified.
    expect(Buffer.compare((await drain(bob.messenger.readAttachment(received.id, 0))).bytes, bytes)).toBe(0);
  });

  it('should refuse a file whose bytes differ from its announced size, keeping neither the blob nor the upload', async () => {
    const blobs = async (): Promise<number> => (await readdir(join(alice.dataDir, BLOB_DIRECTORY))).length;
    const before = await blobs();
    const uploadsBefore = await uploadCount();
    for (const size of [5 * MIB - 1, 5 * MIB + 1, 0]) {
      await expect(
        alice.messenger.sendAttachment('att_p_bob', {
          source: randomBytes(5 * MIB),
          size,
          contentType: 'application/octet-stream',
        }),
      ).rejects.toMatchObject({ code: ClientErrorCode.InvalidInput });
    }
    for (const size of [-1, 1.5, Number.NaN])
      await expect(
        alice.messenger.sendAttachment('att_p_bob', { source: randomBytes(10), size, contentType: 'text/plain' }),
      ).rejects.toMatchObject({ code: ClientErrorCode.InvalidInput });
    expect(await blobs()).toBe(before);
    expect(await uploadCount()).toBe(uploadsBefore);
  });

  it('should refuse a chunk altered in transit before releasing any of its plaintext (one-pass download)', async () => {
    const bytes = randomBytes(6 * MIB);
    // A byte of the second ranged GET (blob offset 4 MiB + 100) is flipped: it lies in sealed chunk 15.
    const alteredChunk = Math.floor((4 * MIB + 100) / SEALED);
    const altering: BinaryHttpTransport = {
      request: async (request) => {
        const response = await fetchBinaryTransport.request(request);
        if (request.method === 'GET' && request.headers?.range?.startsWith(`bytes=${4 * MIB}-`))
          response.body[100]! ^= 0x80;
        return response;
      },
    };
    bob = await restartClient(bob, { binaryHttp: altering });
    await bob.messenger.connect();
    const sent = await alice.messenger.sendAttachment('att_p_bob', {
      source: bytes,
      size: bytes.length,
      contentType: 'application/zip',
    });
    const received = await incomingAttachment(bob, alice, (await timestampOf(alice, sent.id)) - 1);
    const { bytes: released, error } = await drain(bob.messenger.downloadAndDecryptAttachment(received.id, 0));
    expect(error).toMatchObject({ code: ClientErrorCode.AttachmentUnverified });
    // What came out is the sender's plaintext of the chunks before the altered one, and nothing of that one.
    expect(released.length).toBeLessThanOrEqual(alteredChunk * ATTACHMENT_CHUNK_SIZE);
    expect(Buffer.compare(released, bytes.subarray(0, released.length))).toBe(0);
    const failed = (await bob.messenger.message(received.id))!;
    expect(failed.attachments![0]).toMatchObject({ state: 'failed', error: ClientErrorCode.AttachmentUnverified });
    expect(await exists(blobPath(bob, failed))).toBe(false);
    bob = await restartClient(bob);
    await bob.messenger.connect();
  });

  it('should refuse a stored blob or hash list changed on the device after download (one-pass read)', async () => {
    const bytes = randomBytes(3 * MIB);
    const sent = await alice.messenger.sendAttachment('att_p_bob', {
      source: bytes,
      size: bytes.length,
      contentType: 'application/pdf',
    });
    const received = await incomingAttachment(bob, alice, (await timestampOf(alice, sent.id)) - 1);
    await bob.messenger.downloadAttachment(received.id, 0);
    expect(Buffer.compare((await drain(bob.messenger.readAttachment(received.id, 0))).bytes, bytes)).toBe(0);

    // A byte of sealed chunk 2 changes on disk: chunks 0 and 1 come out as sent, nothing of chunk 2 or later.
    const file = await open(blobPath(bob, received), 'r+');
    const at = 2 * SEALED + 7;
    const one = Buffer.alloc(1);
    await file.read(one, 0, 1, at);
    one[0]! ^= 0x01;
    await file.write(one, 0, 1, at);
    const changed = await drain(bob.messenger.readAttachment(received.id, 0));
    expect(changed.error).toMatchObject({ code: ClientErrorCode.AttachmentUnverified });
    expect(changed.bytes.length).toBeLessThanOrEqual(2 * ATTACHMENT_CHUNK_SIZE);
    expect(Buffer.compare(changed.bytes, bytes.subarray(0, changed.bytes.length))).toBe(0);
    one[0]! ^= 0x01;
    await file.write(one, 0, 1, at);
    await file.close();

    // A forged hash list in the stored row is refused against the digest before anything is read.
    const row = (await bob.platform.storage.get('messages', received.id))!;
    const forged = row.attachments![0]!.chunkHashes!.slice();
    forged[0]! ^= 0x01;
    await bob.platform.storage.commit([
      {
        op: 'put',
        table: 'messages',
        key: received.id,
        value: { ...row, attachments: [{ ...row.attachments![0]!, chunkHashes: forged }] },
      },
    ]);
    const refused = await drain(bob.messenger.readAttachment(received.id, 0));
    expect(refused.error).toMatchObject({ code: ClientErrorCode.AttachmentUnverified });
    expect(refused.bytes.length).toBe(0);
  });
});
