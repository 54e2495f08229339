/**
 * The local admin socket: a Unix domain socket under `DATA_DIR` (mode 0600: only the user running the server may
 * connect; it is never reachable over the network) through which `npm run admin -w apps/api` talks to the running
 * server, which alone can open an embedded PGlite database. One JSON request per line, one JSON answer per line. This
 * file only moves lines; which commands exist is the admin socket service's business. A socket path already served
 * by a live server (several test servers sharing a DATA_DIR) is left to it; a stale file from a crash is replaced.
 */
import { Injectable } from '@nestjs/common';
import { chmodSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';

import { LoggingRepository } from './logging.repository.js';

/** A request line longer than this is not a command: the connection is closed. */
export const ADMIN_MAX_LINE_BYTES = 4096;
/** A connection idle this long is closed (a stuck or hostile peer holds nothing open). */
const ADMIN_IDLE_MS = 10_000;

export type AdminHandler = (line: string) => Promise<unknown>;

@Injectable()
export class AdminSocketRepository {
  private server: Server | null = null;
  private path: string | null = null;
  private readonly connections = new Set<Socket>();

  constructor(private readonly logger: LoggingRepository) {}

  /** Serves `path`; false when another live server already does (nothing is served then). */
  async listen(path: string, handle: AdminHandler): Promise<boolean> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (await this.inUse(path)) {
      this.logger.warn('the admin socket is served by another running server; not serving it here');
      return false;
    }
    const server = createServer((socket) => this.serve(socket, handle));
    const previous = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
    } finally {
      process.umask(previous);
    }
    chmodSync(path, 0o600);
    this.server = server;
    this.path = path;
    return true;
  }

  private inUse(path: string): Promise<boolean> {
    return new Promise((resolve) => {
      const probe = connect(path);
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'ECONNREFUSED' || error.code === 'ENOTSOCK') {
          try {
            unlinkSync(path);
          } catch {
            // already gone
          }
        }
        resolve(false);
      });
    });
  }

  private serve(socket: Socket, handle: AdminHandler): void {
    this.connections.add(socket);
    socket.once('close', () => this.connections.delete(socket));
    socket.setTimeout(ADMIN_IDLE_MS, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    let buffer = '';
    let busy = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      if (Buffer.byteLength(buffer) > ADMIN_MAX_LINE_BYTES && !buffer.includes('\n')) {
        socket.end(`${JSON.stringify({ ok: false, error: 'too_large', message: 'request line too long' })}\n`);
        socket.destroySoon();
        return;
      }
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        busy = busy.then(async () => {
          const answer = await handle(line);
          if (!socket.destroyed) socket.write(`${JSON.stringify(answer)}\n`);
        });
        newline = buffer.indexOf('\n');
      }
    });
  }

  async close(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.path) {
      try {
        unlinkSync(this.path);
      } catch {
        // already gone
      }
      this.path = null;
    }
  }
}
