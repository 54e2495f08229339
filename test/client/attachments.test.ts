/**
 * Attachments end to end with real `cove` processes and the real server: a ≥ 5 MiB file from CLI to CLI with
 * identical bytes and sha256, a caption, a voice note, an upload cut off mid-way that resumes on the next run, a
 * blob tampered with on the server refused by the digest check (nothing saved), hostile file names sanitized and
 * never overwriting, a too-large file answered with its code, and no plaintext marker in what the server stores; a
 * file sent while the server is unreachable queued and delivered on the next run; attachments in `history` as
 * `listen` saved them; `delete` removing a message's local blob and saved file (not a file the user changed).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { findOnServer } from '../support/canary.js';
import { cove, ensureCliBuilt } from '../support/cli.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

const MARKER = 'canary-attachment-5d1e77b0-plaintext';
const MIB = 1024 * 1024;
/** Small enough that a too-large file is cheap to make, large enough for the 5 MiB transfer (padded ≤ 5 %). */
const MAX_BYTES = 7 * MIB;

/** Room for every other test's uploads (about 14 MiB), so that the last test can fill it. */
const QUOTA_BYTES = 24 * MIB;

jest.setTimeout(180_000);

/**
 * A forwarding proxy that can drop every PATCH from the Nth on (the connection dies mid-upload and stays down for the
 * run: the upload made while the file is encrypted and the uploader's retry both meet it), and counts PATCH bytes.
 */
type UploadProxy = {
  url: string;
  /** Drop the PATCH with this number and every later one (counted in `patches`). */
  dropPatch: number | null;
  /** Drop every request (the server unreachable). */
  down: boolean;
  patches: number;
  patchBytes: number;
  close(): Promise<void>;
};

const startUploadProxy = async (target: string): Promise<UploadProxy> => {
  const upstream = new URL(target);
  const proxy: UploadProxy = {
    url: '',
    dropPatch: null,
    down: false,
    patches: 0,
    patchBytes: 0,
    close: () => Promise.resolve(),
  };
  const server = http.createServer((req, res) => {
    if (proxy.down) {
      req.socket.destroy();
      return;
    }
    if (req.method === 'PATCH') {
      proxy.patches += 1;
      if (proxy.dropPatch !== null && proxy.patches >= proxy.dropPatch) {
        req.socket.destroy();
        return;
      }
      req.on('data', (chunk: Buffer) => (proxy.patchBytes += chunk.length));
    }
    const forwarded = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forwarded.on('error', () => res.destroy());
    req.pipe(forwarded);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise((done) => server.close(() => done()));
  return proxy;
};

type SavedJson = {
  path: string;
  contentType: string;
  size: number;
  sha256: string;
  voiceNote: boolean;
  caption: string | null;
};

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A file of `size` bytes: random, with the plaintext marker written into it every MiB. */
const makeFile = (size: number): Buffer => {
  const bytes = randomBytes(size);
  for (let at = 0; at + MARKER.length < size; at += MIB) bytes.write(MARKER, at, 'utf8');
  return bytes;
};

describe('attachments through the cove CLI', () => {
  let server: TestServer;
  let proxy: UploadProxy;
  let root: string;
  let alice: string;
  let bob: string;

  /** Receives everything waiting for bob and returns the message lines. */
  const bobReceives = async (saveTo: string): Promise<Record<string, unknown>[]> => {
    const result = await cove(bob, ['listen', '--exit-when-idle', '--save-to', saveTo], { json: true });
    expect(result.code).toBe(0);
    return result.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.type === 'message');
  };

  /** The server's disk copy of the newest finished upload. */
  const newestBlobOnServer = async (): Promise<string> => {
    const [row] = await server.query<{ id: string }>(
      'SELECT id FROM attachments WHERE completed_at IS NOT NULL ORDER BY completed_at DESC LIMIT 1',
    );
    const roots = readdirSync(tmpdir()).filter((d) => d.startsWith('cove-server-'));
    for (const dir of roots) {
      const candidate = join(tmpdir(), dir, 'attachments', row!.id);
      if ((await readFile(candidate).catch(() => null)) !== null) return candidate;
    }
    throw new Error('blob not found on the server disk');
  };

  beforeAll(async () => {
    await ensureCliBuilt();
    server = await startTestServer({
      env: { ATTACHMENT_MAX_BYTES: String(MAX_BYTES), ATTACHMENT_QUOTA_BYTES: String(QUOTA_BYTES) },
    });
    proxy = await startUploadProxy(server.url);
    root = await mkdtemp(join(tmpdir(), 'cove-att-'));
    alice = join(root, 'alice');
    bob = join(root, 'bob');
    expect((await cove(alice, ['register', '--server', proxy.url, '--username', 'att_alice'])).code).toBe(0);
    expect((await cove(bob, ['register', '--server', server.url, '--username', 'att_bob'])).code).toBe(0);
  }, 240_000);

  afterAll(async () => {
    await proxy?.close();
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it('should deliver a 5 MiB file with identical bytes, its caption, and no plaintext on the server', async () => {
    const file = join(root, 'report.bin');
    const bytes = makeFile(5 * MIB + 123);
    await writeFile(file, bytes);
    const sent = await cove(alice, ['send', 'att_bob', '--file', file, '--caption', 'the report'], { json: true });
    expect(sent.stderr).toBe('');
    expect(sent.code).toBe(0);
    expect(JSON.parse(sent.lines[0]!)).toMatchObject({ type: 'sent', status: 'sent', text: 'the report' });

    const saveTo = join(root, 'inbox-big');
    const [message] = await bobReceives(saveTo);
    const [attachment] = message!.attachments as SavedJson[];
    expect(attachment).toMatchObject({
      contentType: 'application/octet-stream',
      size: bytes.length,
      sha256: sha256(bytes),
      voiceNote: false,
      caption: 'the report',
    });
    expect(dirname(attachment!.path)).toBe(saveTo);
    expect(basename(attachment!.path)).toBe('report.bin');
    expect(Buffer.compare(await readFile(attachment!.path), bytes)).toBe(0);

    const stored = await readFile(await newestBlobOnServer());
    expect(stored.includes(Buffer.from(MARKER))).toBe(false);
    expect(await findOnServer(server, [MARKER, 'the report', 'report.bin'])).toEqual([]);
  });

  it('should send an audio file as a voice note', async () => {
    const file = join(root, 'hello.ogg');
    const bytes = makeFile(40_000);
    await writeFile(file, bytes);
    expect((await cove(alice, ['send', 'att_bob', '--voice', file])).code).toBe(0);
    const [message] = await bobReceives(join(root, 'inbox-voice'));
    const [attachment] = message!.attachments as SavedJson[];
    expect(attachment).toMatchObject({ contentType: 'audio/ogg', voiceNote: true, sha256: sha256(bytes) });
    const notAudio = await cove(alice, ['send', 'att_bob', '--voice', join(root, 'report.bin')]);
    expect(notAudio.code).toBe(2);
    expect(notAudio.stderr).toMatch(/audio file/);
  });

  it('should resume an upload cut off mid-way on the next run and deliver identical bytes', async () => {
    const file = join(root, 'resumed.bin');
    const bytes = makeFile(5 * MIB);
    await writeFile(file, bytes);
    proxy.patches = 0;
    proxy.dropPatch = 2;
    proxy.patchBytes = 0;
    const first = await cove(alice, ['send', 'att_bob', '--file', file], { json: true });
    expect(first.code).toBe(3);
    expect(JSON.parse(first.lines[0]!)).toMatchObject({ type: 'queued', status: 'sending' });
    const afterFirst = proxy.patchBytes;
    expect(afterFirst).toBeGreaterThan(0);
    proxy.dropPatch = null;
    // Any later run delivers the outbox: the upload continues from the server's offset, then the message goes.
    expect((await cove(alice, ['send', 'att_bob', 'after the file'])).code).toBe(0);
    // Only the rest went up the second time (the blob is ~5 % over the file's size).
    expect(proxy.patchBytes - afterFirst).toBeLessThan(bytes.length - afterFirst + 0.1 * bytes.length);
    expect(proxy.patchBytes).toBeLessThan(bytes.length * 1.1);
    const messages = await bobReceives(join(root, 'inbox-resume'));
    const withFile = messages.find((m) => Array.isArray(m.attachments));
    expect((withFile!.attachments as SavedJson[])[0]).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
  });

  it('should queue a file sent while the server is unreachable and deliver it on the next run', async () => {
    const file = join(root, 'offline.bin');
    const bytes = makeFile(200_000);
    await writeFile(file, bytes);
    proxy.down = true;
    const first = await cove(alice, ['send', 'att_bob', '--file', file, '--caption', 'sent offline'], { json: true });
    proxy.down = false;
    expect(first.code).toBe(3);
    expect(JSON.parse(first.lines[0]!)).toMatchObject({ type: 'queued', status: 'sending', text: 'sent offline' });
    expect((await cove(alice, ['send', 'att_bob', 'back online'])).code).toBe(0);
    const messages = await bobReceives(join(root, 'inbox-offline'));
    const withFile = messages.find((m) => m.text === 'sent offline');
    expect((withFile!.attachments as SavedJson[])[0]).toMatchObject({ size: bytes.length, sha256: sha256(bytes) });
    expect(messages.some((m) => m.text === 'back online')).toBe(true);
  });

  it('should list attachments in history as listen saved them, and delete a message with its files', async () => {
    const file = join(root, 'kept.pdf');
    const bytes = makeFile(30_000);
    await writeFile(file, bytes);
    expect((await cove(alice, ['send', 'att_bob', '--file', file, '--caption', 'in history'])).code).toBe(0);
    const saveTo = join(root, 'inbox-history');
    const [message] = await bobReceives(saveTo);
    const [saved] = message!.attachments as SavedJson[];

    const json = await cove(bob, ['history', 'att_alice', '--limit', '50'], { json: true });
    expect(json.code).toBe(0);
    const listed = json.lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((m) => m.id === message!.id);
    expect(listed!.attachments).toEqual([saved]);
    // Alice's own copy: no saved file, what is known of it and its state.
    const mine = (await cove(alice, ['history', 'att_bob', '--limit', '50'], { json: true })).lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((m) => m.text === 'in history');
    expect(mine!.attachments).toEqual([
      {
        fileName: 'kept.pdf',
        contentType: 'application/pdf',
        voiceNote: false,
        caption: 'in history',
        size: bytes.length,
        state: 'local',
      },
    ]);
    const text = await cove(bob, ['history', 'att_alice', '--limit', '50']);
    expect(text.stdout).toContain(`  attachment kept.pdf (${bytes.length} bytes) saved to ${saved!.path}`);

    const blobsBefore = (await readdir(join(bob, 'attachment-blobs')).catch(() => [])).length;
    const deleted = await cove(bob, ['delete', message!.id as string], { json: true });
    expect(deleted.code).toBe(0);
    expect(JSON.parse(deleted.lines[0]!)).toEqual({ type: 'deleted', id: message!.id, removed: [saved!.path] });
    expect(await readFile(saved!.path).catch(() => null)).toBeNull();
    expect((await readdir(join(bob, 'attachment-blobs')).catch(() => [])).length).toBe(blobsBefore - 1);
    const after = await cove(bob, ['history', 'att_alice', '--limit', '50'], { json: true });
    expect(after.lines.some((l) => (JSON.parse(l) as Record<string, unknown>).id === message!.id)).toBe(false);
    expect((await cove(bob, ['delete', message!.id as string])).code).toBe(2);
  });

  it('should leave a saved file the user changed when its message is deleted', async () => {
    const file = join(root, 'edited.txt');
    await writeFile(file, makeFile(5000));
    expect((await cove(alice, ['send', 'att_bob', '--file', file])).code).toBe(0);
    const [message] = await bobReceives(join(root, 'inbox-edited'));
    const [saved] = message!.attachments as SavedJson[];
    await writeFile(saved!.path, 'my own notes now');
    const deleted = await cove(bob, ['delete', message!.id as string], { json: true });
    expect(JSON.parse(deleted.lines[0]!)).toMatchObject({ type: 'deleted', removed: [] });
    expect(await readFile(saved!.path, 'utf8')).toBe('my own notes now');
  });

  it('should refuse a blob tampered with on the server and save nothing', async () => {
    const file = join(root, 'tampered.pdf');
    await writeFile(file, makeFile(3 * MIB));
    expect((await cove(alice, ['send', 'att_bob', '--file', file])).code).toBe(0);
    const blob = await newestBlobOnServer();
    const stored = await readFile(blob);
    stored[1000] = stored[1000]! ^ 0x01;
    await writeFile(blob, stored);
    const saveTo = join(root, 'inbox-tampered');
    const text = await cove(bob, ['listen', '--exit-when-idle', '--save-to', saveTo]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/attachment tampered\.pdf failed verification: not saved/);
    expect(await readdir(saveTo).catch(() => [])).toEqual([]);
  });

  it('should save hostile file names under safe names without overwriting', async () => {
    const dir = join(root, 'hostile');
    await mkdir(dir);
    const file = join(dir, '..$(reboot);`x`|*?.txt');
    await writeFile(file, makeFile(1000));
    expect((await cove(alice, ['send', 'att_bob', '--file', file])).code).toBe(0);
    expect((await cove(alice, ['send', 'att_bob', '--file', file])).code).toBe(0);
    const saveTo = join(root, 'inbox-hostile');
    const messages = await bobReceives(saveTo);
    const names = messages.flatMap((m) => (m.attachments as SavedJson[]).map((a) => a.path));
    expect(names.map((p) => dirname(p))).toEqual([saveTo, saveTo]);
    expect(names.map((p) => basename(p)).sort()).toEqual(['__reboot___x____.txt', '__reboot___x____ (1).txt'].sort());
  });

  it('should answer a too-large file with its code and a clear message', async () => {
    const file = join(root, 'huge.bin');
    await writeFile(file, randomBytes(MAX_BYTES + MIB));
    const text = await cove(alice, ['send', 'att_bob', '--file', file]);
    expect(text.code).toBe(6);
    expect(text.stderr).toMatch(/too large.*at most 7 MiB/);
    const json = await cove(alice, ['send', 'att_bob', '--file', file], { json: true });
    expect(JSON.parse(json.stderr.trim())).toMatchObject({ type: 'error', error: 'attachment_too_large' });
  });

  it('should answer a full attachment quota with its code and a clear message, queueing nothing', async () => {
    const file = join(root, 'filler.bin');
    await writeFile(file, randomBytes(3 * MIB));
    let refused: Awaited<ReturnType<typeof cove>> | null = null;
    for (let sent = 0; sent < 10 && !refused; sent += 1) {
      const result = await cove(alice, ['send', 'att_bob', '--file', file], { json: true });
      if (result.code !== 0) refused = result;
    }
    expect(refused?.code).toBe(6);
    expect(JSON.parse(refused!.stderr.trim())).toMatchObject({ type: 'error', error: 'attachment_quota' });
    const text = await cove(alice, ['send', 'att_bob', '--file', file]);
    expect(text.stderr).toMatch(/attachment storage on the server is full/);
    // Nothing was queued for the refused files: the next send goes out at once.
    expect((await cove(alice, ['send', 'att_bob', 'still here'])).code).toBe(0);
  });
});
