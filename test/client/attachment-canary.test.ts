/**
 * The attachment canary with the real client core, on both storage backends: a file full of a marker (with the
 * marker in its name and caption) goes from one Node messenger to another — and a second one is cut off mid-upload,
 * so that a partial upload stays in the server's staging area — then every file under the server's DATA_DIR, every
 * object s3rver keeps (S3 backend), every database row and every server log line is searched for the marker (raw,
 * hex, base64), and so is the blob store of both devices. The receiver still gets identical bytes.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import S3rver from 's3rver';

import type { BinaryHttpTransport } from '@cove/client';
import { BLOB_DIRECTORY, fetchBinaryTransport } from '@cove/client/node';

import { findOnServer } from '../support/canary.js';
import { destroyClient, newClient, restartClient, transcript, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

jest.setTimeout(180_000);

const MIB = 1024 * 1024;
const BUCKET = 'cove-canary';

const walk = async (dir: string): Promise<string[]> => {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
};

/** The marker as raw bytes, hex and base64 (standard and url-safe), as a file could hold it. */
const forms = (marker: string): Buffer[] => {
  const bytes = Buffer.from(marker, 'utf8');
  return [bytes, bytes.toString('hex'), bytes.toString('base64').replace(/=+$/, ''), bytes.toString('base64url')].map(
    (f) => (typeof f === 'string' ? Buffer.from(f) : f),
  );
};

/** The files under `dirs` holding the marker in any form. */
const filesWith = async (dirs: string[], marker: string): Promise<string[]> => {
  const hits: string[] = [];
  for (const dir of dirs)
    for (const path of await walk(dir)) {
      const bytes = await readFile(path);
      if (forms(marker).some((form) => bytes.includes(form))) hits.push(path);
    }
  return hits;
};

const collect = async (pieces: AsyncIterable<Uint8Array>): Promise<Buffer> => {
  const parts: Uint8Array[] = [];
  for await (const piece of pieces) parts.push(piece);
  return Buffer.concat(parts);
};

describe.each(['disk', 's3'] as const)('attachment canary with the client core, %s store', (store) => {
  const marker = `CANARY-CLIENT-${randomBytes(8).toString('hex')}`;
  let server: TestServer;
  let s3: S3rver | null = null;
  let dataDir: string;
  let s3Dir: string | null = null;
  let alice: TestClient;
  let bob: TestClient;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'cove-canary-data-'));
    const env: Record<string, string> = { DATA_DIR: dataDir, ATTACHMENT_STORE: store };
    if (store === 's3') {
      s3Dir = await mkdtemp(join(tmpdir(), 'cove-canary-s3-'));
      s3 = new S3rver({
        port: 0,
        address: '127.0.0.1',
        silent: true,
        directory: s3Dir,
        configureBuckets: [{ name: BUCKET }],
      });
      const { port } = await s3.run();
      Object.assign(env, {
        S3_ENDPOINT: `http://127.0.0.1:${port}`,
        S3_BUCKET: BUCKET,
        S3_ACCESS_KEY_ID: 'S3RVER',
        S3_SECRET_ACCESS_KEY: 'S3RVER',
      });
    }
    server = await startTestServer({ env });
    alice = await newClient(server.url, `canary_${store}_alice`);
    bob = await newClient(server.url, `canary_${store}_bob`);
    await Promise.all([alice.messenger.connect(), bob.messenger.connect()]);
  }, 180_000);

  afterAll(async () => {
    for (const client of [alice, bob]) if (client) await destroyClient(client);
    await server?.close();
    await s3?.close();
    for (const dir of [dataDir, s3Dir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('should keep no plaintext, file name or caption on disk, in S3, in the database or in logs', async () => {
    // Mostly the marker, so that any plaintext copy of any piece of it would be found.
    const bytes = Buffer.from(`${marker}\n`.repeat(Math.ceil((5 * MIB) / (marker.length + 1))));
    const fileName = `${marker}.txt`;
    const caption = `caption ${marker}`;
    const sent = await alice.messenger.sendAttachment(bob.accountId, {
      source: bytes,
      contentType: 'text/plain',
      fileName,
      caption,
    });
    await alice.messenger.flushOutbox();
    const incoming = await until('received', async () =>
      (await transcript(bob, alice.accountId)).find((m) => m.timestamp === sent.timestamp),
    );
    await bob.messenger.downloadAttachment(incoming.id, 0);
    expect(Buffer.compare(await collect(bob.messenger.readAttachment(incoming.id, 0)), bytes)).toBe(0);

    // A second upload cut off after its first piece: its part stays in the server's staging area (or disk store).
    let patches = 0;
    const cutting: BinaryHttpTransport = {
      request: (request) =>
        request.method === 'PATCH' && ++patches >= 2
          ? Promise.reject(new Error('connection reset'))
          : fetchBinaryTransport.request(request),
    };
    alice = await restartClient(alice, { binaryHttp: cutting });
    const partial = await alice.messenger.sendAttachment(bob.accountId, { source: bytes, contentType: 'text/plain' });
    await alice.messenger.flushOutbox();
    expect((await alice.messenger.message(partial.id))?.status).toBe('sending');
    expect(patches).toBeGreaterThanOrEqual(2);

    // The search itself finds the marker where it is in plain (so an empty result below means something).
    const control = await mkdtemp(join(tmpdir(), 'cove-canary-control-'));
    await writeFile(join(control, 'plain'), bytes.subarray(1000, 1100));
    expect(await filesWith([control], marker)).toHaveLength(1);
    await rm(control, { recursive: true, force: true });

    const serverFiles = await walk(dataDir);
    expect(serverFiles.length).toBeGreaterThan(0);
    if (s3Dir) expect((await walk(s3Dir)).length).toBeGreaterThan(0);
    expect(await filesWith([dataDir, ...(s3Dir ? [s3Dir] : [])], marker)).toEqual([]);
    expect(await findOnServer(server, [marker, fileName, caption])).toEqual([]);
    // The devices keep attachments as ciphertext too.
    expect(await filesWith([join(alice.dataDir, BLOB_DIRECTORY), join(bob.dataDir, BLOB_DIRECTORY)], marker)).toEqual(
      [],
    );
  });
});
