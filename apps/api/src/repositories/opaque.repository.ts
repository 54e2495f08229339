/**
 * The server side of OPAQUE (RFC 9807, ristretto255 + SHA-512 as `@serenity-kit/opaque` implements it) and the
 * server setup it runs with: the configured one (`OPAQUE_SERVER_SETUP`, for several instances), or the one kept in
 * `DATA_DIR/opaque-server-setup.json` (mode 0600), generated on first start (processes starting at once on one
 * `DATA_DIR` agree on one: a new file is published with link(2), as the sealed-sender trust root is). The setup holds
 * the OPRF seed and the server's long-term key pair: with it and a stolen record, guessing a password still costs a
 * full OPAQUE run per guess. It never logs the setup, a record or a protocol message, and decides nothing (the
 * password service does).
 */
import { Injectable } from '@nestjs/common';
import * as opaque from '@serenity-kit/opaque';
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { ConfigRepository } from './config.repository.js';

export const OPAQUE_SETUP_FILE = 'opaque-server-setup.json';

@Injectable()
export class OpaqueRepository {
  private setup: string | undefined;

  constructor(private readonly config: ConfigRepository) {}

  /** Loads the library's WASM and the server setup (creating it on first start). */
  async init(): Promise<void> {
    await opaque.ready;
    this.setup = this.config.config.password.opaqueServerSetup ?? (await this.loadOrCreate());
  }

  private get serverSetup(): string {
    if (this.setup === undefined) throw new Error('OpaqueRepository used before init()');
    return this.setup;
  }

  /** Registration's first answer: the OPRF evaluated on the client's blinded password, for `userIdentifier`. */
  registrationResponse(userIdentifier: string, registrationRequest: string): string {
    return opaque.server.createRegistrationResponse({
      serverSetup: this.serverSetup,
      userIdentifier,
      registrationRequest,
    }).registrationResponse;
  }

  /**
   * Login's first answer. With `record` null (no such user, or no password) the library answers with a fake record
   * derived from the setup and the identifier, so the answer looks like a real one and fails like a wrong password.
   */
  startLogin(
    userIdentifier: string,
    record: string | null,
    startLoginRequest: string,
  ): { serverLoginState: string; loginResponse: string } {
    return opaque.server.startLogin({
      serverSetup: this.serverSetup,
      userIdentifier,
      registrationRecord: record,
      startLoginRequest,
    });
  }

  /** Login's last step: true when the client proved it knew the password (its MAC verifies). */
  finishLogin(serverLoginState: string, finishLoginRequest: string): boolean {
    try {
      opaque.server.finishLogin({ serverLoginState, finishLoginRequest });
      return true;
    } catch {
      return false;
    }
  }

  /** Whether OPAQUE can log in with `record` (a record it cannot parse is refused by a trial login start). */
  isUsableRecord(userIdentifier: string, record: string): boolean {
    try {
      const { startLoginRequest } = opaque.client.startLogin({ password: 'trial' });
      opaque.server.startLogin({
        serverSetup: this.serverSetup,
        userIdentifier,
        registrationRecord: record,
        startLoginRequest,
      });
      return true;
    } catch {
      return false;
    }
  }

  private async loadOrCreate(): Promise<string> {
    const dir = this.config.config.dataDir;
    const file = join(dir, OPAQUE_SETUP_FILE);
    const stored = await this.read(file);
    if (stored) return stored;
    await mkdir(dir, { recursive: true });
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, JSON.stringify({ serverSetup: opaque.server.createSetup() }), { mode: 0o600 });
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

  /** The setup stored in `file`; undefined when there is no file. A malformed file stops the server. */
  private async read(file: string): Promise<string | undefined> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const parsed = JSON.parse(text) as { serverSetup?: unknown };
    if (typeof parsed.serverSetup !== 'string' || !/^[A-Za-z0-9_-]{100,400}$/.test(parsed.serverSetup))
      throw new Error(`${file} is not an OPAQUE server setup file`);
    return parsed.serverSetup;
  }
}
