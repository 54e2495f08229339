/**
 * Entry point of `npm run admin -w apps/api -- <command>`: sends one command to the RUNNING server over its local
 * admin socket (`ADMIN_SOCKET`, default `DATA_DIR/admin.sock`, the same configuration as the server's) and prints
 * the answer. `owner-invite` prints the single-use owner invite code alone on the last line. Works whatever the
 * database (the server, which alone may open an embedded PGlite, does the work). Exit 1 on any refusal.
 */
import { connect } from 'node:net';

import { ConfigRepository } from '../repositories/config.repository.js';

/** The server answers at once; a silent socket this long means a wedged server. */
const ANSWER_TIMEOUT_MS = 15_000;

const ask = (path: string, request: Record<string, unknown>): Promise<Record<string, unknown>> =>
  new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server did not answer'));
    }, ANSWER_TIMEOUT_MS);
    socket.once('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const newline = buffer.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      socket.end();
      try {
        resolve(JSON.parse(buffer.slice(0, newline)) as Record<string, unknown>);
      } catch {
        reject(new Error('the server sent a malformed answer'));
      }
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new Error(
          error.code === 'ENOENT' || error.code === 'ECONNREFUSED'
            ? `no running server at ${path} (start it first, with the same DATA_DIR or ADMIN_SOCKET)`
            : `cannot reach the admin socket: ${error.message}`,
        ),
      );
    });
  });

async function main(): Promise<void> {
  const command = process.argv[2];
  if (command !== 'owner-invite' && command !== 'ping') {
    process.stderr.write('usage: npm run admin -w apps/api -- owner-invite | ping\n');
    process.exit(2);
  }
  const path = ConfigRepository.fromEnv(process.env).config.adminSocket;
  if (!path) throw new Error('ADMIN_SOCKET=off: the server serves no admin socket');
  const answer = await ask(path, { command });
  if (answer.ok !== true) throw new Error(`${String(answer.error)}: ${String(answer.message)}`);
  if (command === 'owner-invite') {
    process.stdout.write(
      'Owner invite (single use, valid 24 hours): register with it, e.g. `cove register --invite CODE`.\n',
    );
    process.stdout.write(`${String(answer.code)}\n`);
  } else process.stdout.write('ok\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`cove admin: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
