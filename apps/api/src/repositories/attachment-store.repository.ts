/**
 * Where attachment bytes live, and the tus protocol engine (`@tus/server`) that receives them. Uploads are always
 * staged by tus's `FileStore` on local disk, so resuming (HEAD for the offset, PATCH to continue) never needs the
 * S3 `ListParts` call that s3rver and some S3-compatible stores lack. The disk store keeps the finished file where
 * tus wrote it (`DATA_DIR/attachments/<id>`); the S3 store streams it to the bucket with `@aws-sdk/lib-storage`
 * (multipart, bounded memory) before the final PATCH is answered, then deletes the staged copy. Reads are streams of
 * a byte range, never whole files in memory. Any tus `Upload-Metadata` is replaced by an empty set before the upload
 * is written: the server keeps no names or types, only bytes. This module checks no credentials, sizes or quotas (the attachment service
 * does) and never logs.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

import { DeleteObjectCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';

import type { AttachmentConfig } from './config.repository.js';

/** The URL prefix tus serves under; the last path segment is the upload id. */
export const TUS_PATH = '/v1/attachments/tus';

/**
 * S3 multipart part size: 5 MiB is S3's minimum and keeps the buffered part small; 10,000 parts (S3's maximum)
 * still hold 48 GiB, far above `ATTACHMENT_MAX_BYTES`.
 */
const S3_PART_BYTES = 5 * 1024 ** 2;
/** Parts in flight at once: two overlap network and disk while memory stays at about two parts. */
const S3_QUEUE_SIZE = 2;

/** What the caller knows about one tus request. */
export type TusRequestContext = {
  /** The id of the upload a creation request (POST) makes, reserved by the caller beforehand. */
  newId?: string;
  /** Runs after the last byte is stored where downloads read it, before tus answers the final request. */
  onFinished: (id: string) => Promise<void>;
};

/** Inclusive byte range. */
export type ByteRange = { start: number; end: number };

type TusRequest = { runtime?: { node?: { req?: IncomingMessage } } };

export abstract class AttachmentStoreRepository {
  readonly kind: 'disk' | 's3';
  private readonly tus: Server;
  private readonly contexts = new WeakMap<IncomingMessage, TusRequestContext>();
  /** Finishes under way in this process, so a HEAD and the last PATCH never finalize one upload twice at once. */
  private readonly finishing = new Map<string, Promise<void>>();

  protected constructor(
    kind: 'disk' | 's3',
    /** Where tus writes uploads in progress (`<id>` and `<id>.json`). */
    protected readonly uploadDir: string,
    maxBytes: number,
  ) {
    this.kind = kind;
    const contextOf = (req: TusRequest): TusRequestContext => {
      const node = req.runtime?.node?.req;
      const context = node ? this.contexts.get(node) : undefined;
      if (!context) throw new Error('tus request without context');
      return context;
    };
    this.tus = new Server({
      path: TUS_PATH,
      datastore: new FileStore({ directory: uploadDir }),
      /** Relative, so no `Host` or `X-Forwarded-*` header can point a client elsewhere. */
      relativeLocation: true,
      respectForwardedHeaders: false,
      maxSize: maxBytes,
      /** Same origin only: the PWA is served by this server. */
      allowedOrigins: [],
      /** A finished upload is deleted through the attachment service (it also frees quota), never by tus. */
      disableTerminationForFinishedUploads: true,
      namingFunction: (req) => {
        const id = contextOf(req as TusRequest).newId;
        if (!id) throw new Error('tus creation without a reserved id');
        return id;
      },
      /** `Upload-Metadata` (a file name, a type) is never stored: the upload keeps an empty metadata set. */
      onUploadCreate: () => Promise.resolve({ metadata: {} }),
      /** tus would quote an unexpected error's message (an S3 error names the key, i.e. the id): say nothing. */
      onResponseError: (_req, error) =>
        'status_code' in error ? undefined : { status_code: 500, body: 'internal error\n' },
      onUploadFinish: async (req, upload) => {
        await this.finish(upload.id, contextOf(req as TusRequest).onFinished);
        return {};
      },
    });
  }

  async init(): Promise<void> {
    await mkdir(this.uploadDir, { recursive: true, mode: 0o700 });
  }

  /** Lets tus answer a POST, HEAD or PATCH under `TUS_PATH` (credentials and ownership already checked). */
  async handleTus(req: IncomingMessage, res: ServerResponse, context: TusRequestContext): Promise<void> {
    this.contexts.set(req, context);
    await this.tus.handle(req, res);
  }

  /**
   * Finishes an upload whose bytes are all staged but whose finishing failed (e.g. S3 was unreachable when the last
   * PATCH arrived, which tus answered with 500 after storing the bytes): true if it is finished now. Without this,
   * a client's HEAD would report the whole length and the attachment would never become downloadable.
   */
  async finishIfWhole(id: string, size: number, onFinished: (id: string) => Promise<void>): Promise<boolean> {
    const staged = await stat(this.stagedPath(id)).catch(() => null);
    if (staged?.size !== size) return false;
    await this.finish(id, onFinished);
    return true;
  }

  private async finish(id: string, onFinished: (id: string) => Promise<void>): Promise<void> {
    let running = this.finishing.get(id);
    if (!running) {
      running = (async () => {
        try {
          await this.finalize(id);
          await onFinished(id);
        } finally {
          this.finishing.delete(id);
        }
      })();
      this.finishing.set(id, running);
    }
    await running;
  }

  /** Bytes of a finished attachment in `range`, as a stream. */
  abstract open(id: string, range: ByteRange): Promise<Readable>;

  /** Deletes the attachment's bytes, staged or finished, wherever they are; nothing happens when there are none. */
  async remove(id: string): Promise<void> {
    await this.removeStaged(id);
  }

  /** Ids of the files in this process's upload directory last written before `before`. */
  async listLocal(before: Date): Promise<string[]> {
    const ids: string[] = [];
    for (const name of await readdir(this.uploadDir).catch(() => [])) {
      if (name.endsWith('.json')) continue;
      const info = await stat(join(this.uploadDir, name)).catch(() => null);
      if (info?.isFile() && info.mtime < before) ids.push(name);
    }
    return ids;
  }

  /** Deletes a file of this process's upload directory (and tus's record of it). */
  async removeLocal(id: string): Promise<void> {
    await this.removeStaged(id);
  }

  /** Makes a just-finished upload readable by `open`. */
  protected abstract finalize(id: string): Promise<void>;

  protected stagedPath(id: string): string {
    return join(this.uploadDir, id);
  }

  protected async removeStaged(id: string): Promise<void> {
    await rm(this.stagedPath(id), { force: true });
    await rm(`${this.stagedPath(id)}.json`, { force: true });
  }

  async close(): Promise<void> {
    // Nothing pooled by default.
  }
}

/** Finished attachments stay on local disk under `DATA_DIR/attachments`. */
export class DiskAttachmentStoreRepository extends AttachmentStoreRepository {
  constructor(dataDir: string, maxBytes: number) {
    super('disk', join(dataDir, 'attachments'), maxBytes);
  }

  protected async finalize(id: string): Promise<void> {
    /** tus wrote the file where downloads read it; only check it is whole on disk. */
    await stat(this.stagedPath(id));
  }

  open(id: string, range: ByteRange): Promise<Readable> {
    const stream = createReadStream(this.stagedPath(id), { start: range.start, end: range.end });
    return new Promise((resolve, reject) => {
      stream.once('open', () => resolve(stream));
      stream.once('error', reject);
    });
  }
}

/** Finished attachments go to an S3-compatible bucket under `attachments/<id>`; uploads are staged on local disk. */
export class S3AttachmentStoreRepository extends AttachmentStoreRepository {
  private readonly client: S3Client;
  private readonly bucket: string;

  constructor(dataDir: string, maxBytes: number, s3: NonNullable<AttachmentConfig['s3']>) {
    super('s3', join(dataDir, 'attachments-staging'), maxBytes);
    this.bucket = s3.bucket;
    this.client = new S3Client({
      region: s3.region,
      forcePathStyle: s3.forcePathStyle,
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
      ...(s3.credentials ? { credentials: s3.credentials } : {}),
    });
  }

  private key(id: string): string {
    return `attachments/${id}`;
  }

  protected async finalize(id: string): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.key(id), Body: createReadStream(this.stagedPath(id)) },
      partSize: S3_PART_BYTES,
      queueSize: S3_QUEUE_SIZE,
      leavePartsOnError: false,
    });
    await upload.done();
    await this.removeStaged(id);
  }

  async open(id: string, range: ByteRange): Promise<Readable> {
    const object = await this.client.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: this.key(id), Range: `bytes=${range.start}-${range.end}` }),
    );
    if (!object.Body) throw new Error('S3 object without a body');
    return object.Body as Readable;
  }

  override async remove(id: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(id) }));
    await super.remove(id);
  }

  override async close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }
}

/** The store `ATTACHMENT_STORE` selects. */
export function createAttachmentStore(dataDir: string, config: AttachmentConfig): AttachmentStoreRepository {
  if (config.store === 's3') {
    if (!config.s3) throw new Error('ATTACHMENT_STORE=s3 without S3 settings');
    return new S3AttachmentStoreRepository(dataDir, config.maxBytes, config.s3);
  }
  return new DiskAttachmentStoreRepository(dataDir, config.maxBytes);
}
