/**
 * Attachment storage end to end, the same suite against both stores (disk under DATA_DIR, and S3 on an in-process
 * s3rver): tus creation, chunked and interrupted uploads resumed from HEAD's offset, whole and ranged downloads,
 * unfinished uploads not downloadable, size and quota limits with their codes, ownership of uploads, credentials
 * (none, removed device), the purge job for expired and abandoned uploads, and the canary: what the server keeps is
 * the client's ciphertext and nothing readable besides (no file names from tus metadata, no ids or markers in logs).
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

import { AttachmentService } from '../../src/services/attachment.service.js';
import { link, register, type TestDevice } from '../support/harness.js';
import {
  create,
  download,
  head,
  interruptedPatch,
  patch,
  randomFile,
  startAttachmentServer,
  TUS,
  upload,
  type AttachmentServer,
  type StoreKind,
} from './support.js';

const MAX = 4 * 1024 * 1024;
const QUOTA = 6 * 1024 * 1024;

describe.each<StoreKind>(['disk', 's3'])('attachments (%s store)', (store) => {
  let server: AttachmentServer;
  let alice: TestDevice;
  let bob: TestDevice;

  beforeAll(async () => {
    server = await startAttachmentServer(store, {
      ATTACHMENT_MAX_BYTES: String(MAX),
      ATTACHMENT_QUOTA_BYTES: String(QUOTA),
    });
    alice = await register(server);
    bob = await register(server);
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  it('should store an upload sent in chunks and give the same bytes back to another account', async () => {
    const bytes = randomFile(1024 * 1024 + 17);
    const id = await upload(alice, bytes, 300_000);
    expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const got = await download(bob, id);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('application/octet-stream');
    expect(got.headers.get('cache-control')).toBe('no-store');
    expect(got.headers.get('accept-ranges')).toBe('bytes');
    expect(got.headers.get('content-length')).toBe(String(bytes.length));
    expect(got.bytes.equals(bytes)).toBe(true);
  });

  it('should accept a creation that carries the whole file (creation-with-upload)', async () => {
    const bytes = randomFile(5000);
    const response = await fetch(`${server.url}${TUS}`, {
      method: 'POST',
      headers: {
        authorization: alice.authorization,
        'tus-resumable': '1.0.0',
        'upload-length': String(bytes.length),
        'content-type': 'application/offset+octet-stream',
      },
      body: new Uint8Array(bytes),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('upload-offset')).toBe(String(bytes.length));
    const id = response.headers.get('location')?.split('/').pop() ?? '';
    expect((await download(bob, id)).bytes.equals(bytes)).toBe(true);
  });

  it('should answer ranges with 206 and Content-Range, and an unsatisfiable range with 416', async () => {
    const bytes = randomFile(10_000);
    const id = await upload(alice, bytes);
    const middle = await download(bob, id, 'bytes=100-199');
    expect(middle.status).toBe(206);
    expect(middle.headers.get('content-range')).toBe('bytes 100-199/10000');
    expect(middle.bytes.equals(bytes.subarray(100, 200))).toBe(true);
    const open = await download(bob, id, 'bytes=9990-');
    expect(open.status).toBe(206);
    expect(open.bytes.equals(bytes.subarray(9990))).toBe(true);
    const suffix = await download(bob, id, 'bytes=-10');
    expect(suffix.headers.get('content-range')).toBe('bytes 9990-9999/10000');
    expect(suffix.bytes.equals(bytes.subarray(9990))).toBe(true);
    const past = await download(bob, id, 'bytes=20000-');
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe('bytes */10000');
    const several = await download(bob, id, 'bytes=0-1,5-6');
    expect(several.status).toBe(200);
    expect(several.bytes.equals(bytes)).toBe(true);
  });

  it('should resume an upload whose PATCH was cut off, from the offset HEAD reports', async () => {
    const bytes = randomFile(2 * 1024 * 1024);
    const created = await create(alice, bytes.length);
    expect(created.status).toBe(201);
    const id = created.id ?? '';
    await interruptedPatch(alice, id, 0, bytes.subarray(0, 1024 * 1024), bytes.length);
    const offsetResponse = await head(alice, id);
    expect(offsetResponse.status).toBe(200);
    expect(offsetResponse.headers.get('upload-length')).toBe(String(bytes.length));
    const offset = Number(offsetResponse.headers.get('upload-offset'));
    expect(offset).toBeGreaterThanOrEqual(0);
    expect(offset).toBeLessThanOrEqual(1024 * 1024);
    expect((await download(bob, id)).status).toBe(404);
    /** A PATCH at a wrong offset is refused and changes nothing. */
    expect((await patch(alice, id, offset + 1, bytes.subarray(offset + 1))).status).toBe(409);
    const rest = await patch(alice, id, offset, bytes.subarray(offset));
    expect(rest.status).toBe(204);
    expect(rest.headers.get('upload-offset')).toBe(String(bytes.length));
    expect((await download(bob, id)).bytes.equals(bytes)).toBe(true);
    const done = await head(alice, id);
    expect(done.headers.get('upload-offset')).toBe(String(bytes.length));
    expect((await patch(alice, id, bytes.length, new Uint8Array(1))).status).toBe(409);
  }, 60_000);

  (store === 's3' ? it : it.skip)(
    'should finish on HEAD an upload whose last PATCH was stored but could not reach S3, so it becomes downloadable',
    async () => {
      const bytes = randomFile(300_000);
      const created = await create(alice, bytes.length);
      const id = created.id ?? '';
      expect((await patch(alice, id, 0, bytes.subarray(0, 100_000))).status).toBe(204);
      await server.stopS3();
      try {
        const last = await patch(alice, id, 100_000, bytes.subarray(100_000));
        expect(last.status).toBe(500);
        expect(String(last.body)).not.toContain(id);
      } finally {
        await server.startS3();
      }
      expect((await download(bob, id)).status).toBe(404);
      const offset = await head(alice, id);
      expect(offset.status).toBe(200);
      expect(offset.headers.get('upload-offset')).toBe(String(bytes.length));
      const got = await download(bob, id);
      expect(got.status).toBe(200);
      expect(got.bytes.equals(bytes)).toBe(true);
    },
    60_000,
  );

  it('should not serve an unfinished upload, nor unknown or malformed ids', async () => {
    const created = await create(alice, 1000);
    const id = created.id ?? '';
    await patch(alice, id, 0, randomFile(500));
    expect((await download(bob, id)).status).toBe(404);
    expect((await download(alice, id)).status).toBe(404);
    expect((await download(bob, randomBytes(24).toString('base64url'))).body.error).toBe('not_found');
    expect((await download(bob, '..%2F..%2Fetc%2Fpasswd')).status).toBe(404);
  });

  it('should publish the size limit and the quota in /v1/info', async () => {
    const info = await alice.request('GET', '/v1/info');
    expect(info.body.limits).toMatchObject({ maxAttachmentBytes: MAX, attachmentQuotaBytes: QUOTA });
  });

  it('should refuse uploads above the maximum size with 413 attachment_too_large, and uploads without a length', async () => {
    const tooLarge = await create(alice, MAX + 1);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error).toBe('attachment_too_large');
    expect(tooLarge.body.maxBytes).toBe(MAX);
    const noLength = await create(alice, null);
    expect(noLength.status).toBe(400);
    expect(noLength.body.error).toBe('invalid_request');
    const deferred = await create(alice, null, { 'upload-defer-length': '1' });
    expect(deferred.status).toBe(400);
    expect((await create(await register(server), MAX)).status).toBe(201);
  });

  it('should count unfinished uploads against the quota, refuse with 507 attachment_quota, and free it on delete', async () => {
    const carol = await register(server);
    const first = await create(carol, MAX);
    expect(first.status).toBe(201);
    const refused = await create(carol, QUOTA - MAX + 1);
    expect(refused.status).toBe(507);
    expect(refused.body.error).toBe('attachment_quota');
    expect(refused.body.quotaBytes).toBe(QUOTA);
    expect((await create(carol, QUOTA - MAX)).status).toBe(201);
    const deleted = await fetch(`${server.url}${TUS}/${first.id}`, {
      method: 'DELETE',
      headers: { authorization: carol.authorization, 'tus-resumable': '1.0.0' },
    });
    expect(deleted.status).toBe(204);
    expect((await create(carol, MAX)).status).toBe(201);
  });

  it("should let a sibling device delete the account's finished upload, never another account's or an unfinished one", async () => {
    const id = await upload(alice, randomFile(100));
    const unfinished = (await create(alice, 100)).id ?? '';
    const alice2 = await link(alice);
    const remove = (device: TestDevice, uploadId: string) =>
      fetch(`${server.url}${TUS}/${uploadId}`, { method: 'DELETE', headers: { authorization: device.authorization } });
    expect((await remove(bob, id)).status).toBe(404);
    expect((await remove(alice2, unfinished)).status).toBe(404);
    expect((await download(bob, id)).status).toBe(200);
    expect((await remove(alice2, id)).status).toBe(204);
    expect((await download(bob, id)).status).toBe(404);
    expect((await head(alice, unfinished)).headers.get('upload-offset')).toBe('0');
  });

  it('should let only the uploading device resume or delete an upload', async () => {
    const created = await create(alice, 100);
    const id = created.id ?? '';
    const alice2 = await link(alice);
    expect((await head(bob, id)).status).toBe(404);
    expect((await head(alice2, id)).status).toBe(404);
    expect((await patch(bob, id, 0, randomFile(100))).status).toBe(404);
    const foreignDelete = await fetch(`${server.url}${TUS}/${id}`, {
      method: 'DELETE',
      headers: { authorization: bob.authorization },
    });
    expect(foreignDelete.status).toBe(404);
    expect((await head(alice, id)).headers.get('upload-offset')).toBe('0');
  });

  it('should refuse requests without credentials and from a removed device', async () => {
    const id = await upload(alice, randomFile(100));
    const anonymous = await fetch(`${server.url}/v1/attachments/${id}`);
    expect(anonymous.status).toBe(401);
    const anonymousCreate = await fetch(`${server.url}${TUS}`, {
      method: 'POST',
      headers: { 'tus-resumable': '1.0.0', 'upload-length': '10' },
    });
    expect(anonymousCreate.status).toBe(401);
    const bob2 = await link(bob);
    const pending = await create(bob2, 100);
    expect(pending.status).toBe(201);
    expect((await bob.request('DELETE', `/v1/devices/${bob2.deviceId}`)).status).toBe(204);
    expect((await download(bob2, id)).status).toBe(401);
    expect((await head(bob2, pending.id ?? '')).status).toBe(401);
    expect((await patch(bob2, pending.id ?? '', 0, randomFile(100))).status).toBe(401);
    expect((await create(bob2, 10)).status).toBe(401);
  });

  it('should delete expired attachments and abandoned uploads with the purge job, bytes and rows', async () => {
    const service = server.running.app.get(AttachmentService);
    await service.purge(Date.now());
    const expired = await upload(alice, randomFile(3000));
    const fresh = await upload(alice, randomFile(3000));
    const abandoned = (await create(alice, 3000)).id ?? '';
    await patch(alice, abandoned, 0, randomFile(1000));
    const unfinishedFresh = (await create(alice, 3000)).id ?? '';
    const day = 86_400_000;
    await server.query(`UPDATE attachments SET completed_at = now() - interval '31 days' WHERE id = $1`, [expired]);
    await server.query(`UPDATE attachments SET created_at = now() - interval '25 hours' WHERE id = $1`, [abandoned]);
    const filesBefore = (await server.files()).map((f) => f.path);
    expect(filesBefore.some((p) => p.includes(expired))).toBe(true);
    expect(filesBefore.some((p) => p.includes(abandoned))).toBe(true);
    /** Past the TTL, the row is no longer served even before the job runs. */
    expect((await download(bob, expired)).status).toBe(404);

    expect(await service.purge(Date.now())).toEqual({ expired: 1, abandoned: 1 });
    const rows = await server.query<{ id: string }>('SELECT id FROM attachments WHERE id = ANY($1)', [
      [expired, fresh, abandoned, unfinishedFresh],
    ]);
    expect(rows.map((r) => r.id).sort()).toEqual([fresh, unfinishedFresh].sort());
    const filesAfter = (await server.files()).map((f) => f.path);
    expect(filesAfter.some((p) => p.includes(expired))).toBe(false);
    expect(filesAfter.some((p) => p.includes(abandoned))).toBe(false);
    expect(filesAfter.some((p) => p.includes(fresh))).toBe(true);
    expect((await download(bob, fresh)).status).toBe(200);
    /** Two days on, the fresh unfinished upload is abandoned too (with those other tests left unfinished). */
    const later = await service.purge(Date.now() + 2 * day);
    expect(later.expired).toBe(0);
    expect(later.abandoned).toBeGreaterThanOrEqual(1);
    expect(await server.query('SELECT id FROM attachments WHERE id = $1', [unfinishedFresh])).toHaveLength(0);
    expect((await download(bob, fresh)).status).toBe(200);
  });

  it('should delete old files of its upload directory that no row accounts for, and nothing else', async () => {
    const service = server.running.app.get(AttachmentService);
    const kept = await upload(alice, randomFile(2000));
    const dir = join(server.dataDir, store === 'disk' ? 'attachments' : 'attachments-staging');
    const orphan = randomBytes(24).toString('base64url');
    const young = randomBytes(24).toString('base64url');
    await writeFile(join(dir, orphan), randomFile(100));
    await writeFile(join(dir, young), randomFile(100));
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await utimes(join(dir, orphan), twoDaysAgo, twoDaysAgo);
    if (store === 'disk') await utimes(join(dir, kept), twoDaysAgo, twoDaysAgo);
    const result = await service.purge(Date.now());
    expect(result.abandoned).toBeGreaterThanOrEqual(1);
    const names = (await server.files()).map((f) => f.path);
    expect(names.some((p) => p.endsWith(orphan))).toBe(false);
    expect(names.some((p) => p.endsWith(young))).toBe(true);
    expect((await download(bob, kept)).status).toBe(200);
  });

  it('should keep only the ciphertext it was given: no plaintext, file name, id or marker on disk, in S3 or in logs', async () => {
    const marker = `CANARY-${randomBytes(8).toString('hex')}`;
    const plaintext = Buffer.from(`${marker} `.repeat(5000));
    const key = randomBytes(32);
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const ciphertext = Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    const fileName = Buffer.from(`${marker}.jpg`).toString('base64');
    const created = await create(alice, ciphertext.length, { 'upload-metadata': `filename ${fileName}` });
    const id = created.id ?? '';
    expect((await patch(alice, id, 0, ciphertext)).status).toBe(204);
    expect((await download(bob, id)).bytes.equals(ciphertext)).toBe(true);

    const files = await server.files();
    const digest = createHash('sha256').update(ciphertext).digest('hex');
    expect(files.some((f) => createHash('sha256').update(f.bytes).digest('hex') === digest)).toBe(true);
    for (const file of files) {
      expect(file.bytes.includes(marker)).toBe(false);
      expect(file.bytes.includes(fileName)).toBe(false);
    }
    const logs = server.logs.join('\n');
    expect(logs).not.toContain(marker);
    expect(logs).not.toContain(id);
    expect(logs).not.toContain(id.slice(0, 12));
  });
});

describe('attachment upload rate limit', () => {
  let server: AttachmentServer;

  beforeAll(async () => {
    server = await startAttachmentServer('disk', { RATE_LIMITS: 'on', RATE_LIMIT_ATTACHMENTS: '2/1m' });
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  it('should refuse new uploads past the limit with 429 rate_limited and Retry-After', async () => {
    const dave = await register(server);
    expect((await create(dave, 10)).status).toBe(201);
    expect((await create(dave, 10)).status).toBe(201);
    const third = await create(dave, 10);
    expect(third.status).toBe(429);
    expect(third.body.error).toBe('rate_limited');
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
    /** Only creation is limited this way: another device of the account still uploads. */
    expect((await create(await register(server), 10)).status).toBe(201);
  });
});

describe('attachment quota on PostgreSQL under concurrent creations', () => {
  it('should never let concurrent reservations of one account pass the quota together', async () => {
    const { startServer } = await import('../support/harness.js');
    const server = await startServer('postgres', { ATTACHMENT_QUOTA_BYTES: '10000', DATA_DIR: '/tmp/cove-att-pg' });
    try {
      const erin = await register(server);
      const results = await Promise.all(Array.from({ length: 12 }, () => create(erin, 1000)));
      expect(results.filter((r) => r.status === 201)).toHaveLength(10);
      expect(results.filter((r) => r.status === 507)).toHaveLength(2);
      const [used] = await server.query<{ total: string }>(
        'SELECT sum(size)::text AS total FROM attachments WHERE account_id = $1',
        [erin.accountId],
      );
      expect(used?.total).toBe('10000');
    } finally {
      await server.close();
    }
  }, 120_000);
});
