/**
 * Helpers of the attachment tests: a server with either store (disk under a temporary DATA_DIR, or S3 on an s3rver
 * started in-process over a temporary directory), a minimal tus 1.0 client over fetch and raw `http` (for a PATCH
 * cut off half-way), and a way to list every byte the server side keeps on disk. No test helper reads tus internals.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import S3rver from 's3rver';

import { startServer, type TestDevice, type TestServer } from '../support/harness.js';

export type StoreKind = 'disk' | 's3';
export const BUCKET = 'cove-test';
export const TUS = '/v1/attachments/tus';

export type AttachmentServer = TestServer & {
  store: StoreKind;
  /** The server's DATA_DIR. */
  dataDir: string;
  /** s3rver's directory (S3 only). */
  s3Dir: string | null;
  /** Every file under DATA_DIR and the S3 directory, with its bytes. */
  files(): Promise<Array<{ path: string; bytes: Buffer }>>;
  /** Stops the S3 server (an outage), and starts it again on the same port and directory. */
  stopS3(): Promise<void>;
  startS3(): Promise<void>;
};

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const paths: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) paths.push(...(await walk(path)));
    else paths.push(path);
  }
  return paths;
}

export async function startAttachmentServer(
  store: StoreKind,
  env: Record<string, string> = {},
): Promise<AttachmentServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cove-att-'));
  let s3: S3rver | null = null;
  let s3Dir: string | null = null;
  let s3Port = 0;
  const runS3 = async (dir: string, port: number): Promise<number> => {
    s3 = new S3rver({ port, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: BUCKET }] });
    return (await s3.run()).port;
  };
  const storeEnv: Record<string, string> = { DATA_DIR: dataDir, ATTACHMENT_STORE: store };
  if (store === 's3') {
    s3Dir = await mkdtemp(join(tmpdir(), 'cove-s3-'));
    s3Port = await runS3(s3Dir, 0);
    Object.assign(storeEnv, {
      S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
      S3_BUCKET: BUCKET,
      S3_REGION: 'us-east-1',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
    });
  }
  const server = await startServer('pglite', { ...storeEnv, ...env });
  return {
    ...server,
    store,
    dataDir,
    s3Dir,
    async files() {
      const paths = [...(await walk(dataDir)), ...(s3Dir ? await walk(s3Dir) : [])];
      const files = [];
      for (const path of paths) {
        if ((await stat(path)).isFile()) files.push({ path, bytes: await readFile(path) });
      }
      return files;
    },
    async stopS3() {
      await s3?.close();
      s3 = null;
    },
    async startS3() {
      if (s3Dir) await runS3(s3Dir, s3Port);
    },
    async close() {
      await server.close();
      await s3?.close();
      await rm(dataDir, { recursive: true, force: true });
      if (s3Dir) await rm(s3Dir, { recursive: true, force: true });
    },
  };
}

export type TusResponse = { status: number; headers: Headers; body: any };

async function answer(response: Response): Promise<TusResponse> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // tus answers some errors in plain text
  }
  return { status: response.status, headers: response.headers, body };
}

/** tus creation; `length` null sends no Upload-Length. */
export async function create(
  device: TestDevice,
  length: number | null,
  extra: Record<string, string> = {},
): Promise<TusResponse & { id: string | null }> {
  const headers: Record<string, string> = { authorization: device.authorization, 'tus-resumable': '1.0.0', ...extra };
  if (length !== null) headers['upload-length'] = String(length);
  const result = await answer(await fetch(`${device.server.url}${TUS}`, { method: 'POST', headers }));
  const location = result.headers.get('location');
  return { ...result, id: location ? (location.split('/').pop() ?? null) : null };
}

export async function patch(device: TestDevice, id: string, offset: number, bytes: Uint8Array): Promise<TusResponse> {
  return answer(
    await fetch(`${device.server.url}${TUS}/${id}`, {
      method: 'PATCH',
      headers: {
        authorization: device.authorization,
        'tus-resumable': '1.0.0',
        'upload-offset': String(offset),
        'content-type': 'application/offset+octet-stream',
      },
      body: new Uint8Array(bytes),
    }),
  );
}

export async function head(device: TestDevice, id: string): Promise<TusResponse> {
  return answer(
    await fetch(`${device.server.url}${TUS}/${id}`, {
      method: 'HEAD',
      headers: { authorization: device.authorization, 'tus-resumable': '1.0.0' },
    }),
  );
}

/** Creates an upload and sends `bytes` in chunks of `chunk`; returns the id. */
export async function upload(device: TestDevice, bytes: Uint8Array, chunk = 256 * 1024): Promise<string> {
  const created = await create(device, bytes.length);
  if (created.status !== 201 || !created.id)
    throw new Error(`create: ${created.status} ${JSON.stringify(created.body)}`);
  for (let offset = 0; offset < bytes.length; offset += chunk) {
    const sent = await patch(device, created.id, offset, bytes.subarray(offset, offset + chunk));
    if (sent.status !== 204) throw new Error(`patch: ${sent.status} ${JSON.stringify(sent.body)}`);
  }
  return created.id;
}

export async function download(
  device: TestDevice,
  id: string,
  range?: string,
): Promise<TusResponse & { bytes: Buffer }> {
  const headers: Record<string, string> = { authorization: device.authorization };
  if (range) headers.range = range;
  const response = await fetch(`${device.server.url}/v1/attachments/${id}`, { headers });
  const bytes = Buffer.from(await response.arrayBuffer());
  let body: unknown;
  try {
    body = JSON.parse(bytes.toString('utf8'));
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, body, bytes };
}

/**
 * A PATCH that sends `sent` bytes of a `declared`-byte body and then drops the connection, like a phone losing its
 * network mid-upload. Resolves once the socket is closed.
 */
export async function interruptedPatch(
  device: TestDevice,
  id: string,
  offset: number,
  sent: Uint8Array,
  declared: number,
): Promise<void> {
  const url = new URL(`${device.server.url}${TUS}/${id}`);
  await new Promise<void>((resolve) => {
    const req = http.request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'PATCH',
      headers: {
        authorization: device.authorization,
        'tus-resumable': '1.0.0',
        'upload-offset': String(offset),
        'content-type': 'application/offset+octet-stream',
        'content-length': String(declared),
      },
    });
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.write(sent, () => {
      /** Give the server a moment to write what it received, then cut the connection. */
      setTimeout(() => req.destroy(), 300);
    });
  });
}

export const randomFile = (bytes: number): Buffer => randomBytes(bytes);
