/**
 * The sealed-sender trust root's private key (32 bytes): the configured one (`SEALED_SENDER_TRUST_ROOT_PRIVATE_KEY`),
 * or the one kept in `DATA_DIR/sealed-sender-trust-root.json` (mode 0600), generated on first start. Processes
 * starting at once on one `DATA_DIR` agree on one key: a new file is published with link(2), which fails when another
 * process published first, and then that one is read. It signs nothing and knows no certificate format (the
 * certificate service does), and it never logs the key.
 */
import { Injectable } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { ConfigRepository } from './config.repository.js';

export const TRUST_ROOT_FILE = 'sealed-sender-trust-root.json';

/** Bytes of a Curve25519 private key. */
const PRIVATE_KEY_BYTES = 32;

@Injectable()
export class TrustRootRepository {
  private key: Uint8Array | undefined;

  constructor(private readonly config: ConfigRepository) {}

  /** The trust root's private key, loaded (or created) on first use. */
  async privateKey(): Promise<Uint8Array> {
    this.key ??= this.config.config.sealedSender.trustRootPrivateKey ?? (await this.loadOrCreate());
    return this.key;
  }

  private async loadOrCreate(): Promise<Uint8Array> {
    const dir = this.config.config.dataDir;
    const file = join(dir, TRUST_ROOT_FILE);
    const stored = await this.read(file);
    if (stored) return stored;
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const key = randomBytes(PRIVATE_KEY_BYTES);
    await writeFile(tmp, JSON.stringify({ privateKey: key.toString('base64') }), { mode: 0o600 });
    await chmod(tmp, 0o600);
    try {
      await link(tmp, file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      await unlink(tmp);
    }
    const published = await this.read(file);
    if (!published) throw new Error(`${file} vanished while it was being created`);
    return published;
  }

  /** The key stored in `file`; undefined when there is no file. A malformed file stops the server. */
  private async read(file: string): Promise<Uint8Array | undefined> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const parsed = JSON.parse(text) as { privateKey?: unknown };
    const key = typeof parsed.privateKey === 'string' ? Buffer.from(parsed.privateKey, 'base64') : undefined;
    if (key?.length !== PRIVATE_KEY_BYTES) throw new Error(`${file} is not a sealed-sender trust root file`);
    return new Uint8Array(key);
  }
}
