/**
 * Lets `cove` commands run while `cove listen` holds the data directory: the listener serves a Unix socket
 * (`<data>/cove.sock`, mode 0600 inside the 0700 directory, so only the owner can connect), and a command that
 * finds the directory locked sends its arguments there; the listener runs it on its open messenger and streams the
 * output lines and exit code back. Protocol: one JSON line `{ "argv": [...] }` in; JSON lines `{ "out" }`,
 * `{ "err" }` and finally `{ "exit" }` out. It does not interpret commands.
 */
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import type { Logger } from '../../platform.js';

export const SOCKET_NAME = 'cove.sock';

type Output = { out(line: string): void; err(line: string): void };
export type CommandRunner = (argv: string[], output: Output) => Promise<number>;

const readLine = (socket: net.Socket): Promise<string> =>
  new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer): void => {
      buffer += chunk.toString('utf8');
      const end = buffer.indexOf('\n');
      if (end >= 0) {
        socket.off('data', onData);
        resolve(buffer.slice(0, end));
      } else if (buffer.length > 1024 * 1024) {
        reject(new Error('request too large'));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('end', () => reject(new Error('connection closed')));
  });

/** Serves commands on `<dataDir>/cove.sock`; returns a function that stops serving. */
export const serveCommands = async (
  dataDir: string,
  run: CommandRunner,
  logger: Logger,
): Promise<() => Promise<void>> => {
  const socketPath = path.join(dataDir, SOCKET_NAME);
  // This process holds the directory lock: any socket file left here belongs to a dead listener.
  await fs.rm(socketPath, { force: true });
  const server = net.createServer((connection) => {
    const write = (value: Record<string, unknown>): void => {
      if (!connection.destroyed) connection.write(`${JSON.stringify(value)}\n`);
    };
    void (async () => {
      try {
        const request = JSON.parse(await readLine(connection)) as { argv?: unknown };
        if (!Array.isArray(request.argv) || !request.argv.every((a) => typeof a === 'string'))
          throw new Error('bad request');
        const code = await run(request.argv, {
          out: (line) => write({ out: line }),
          err: (line) => write({ err: line }),
        });
        write({ exit: code });
      } catch (error) {
        logger.warn('forwarded command failed', { error: error instanceof Error ? error.message : 'unknown' });
        write({ err: 'cove: the running listener could not run this command' });
        write({ exit: 1 });
      } finally {
        connection.end();
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await fs.chmod(socketPath, 0o600);
  server.unref();
  return async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await fs.rm(socketPath, { force: true });
  };
};

/** Runs a command in the listener holding `dataDir`; null when no listener answers. */
export const forwardCommand = async (dataDir: string, argv: string[], output: Output): Promise<number | null> => {
  const socketPath = path.join(dataDir, SOCKET_NAME);
  const connection = net.connect(socketPath);
  const connected = await new Promise<boolean>((resolve) => {
    connection.once('connect', () => resolve(true));
    connection.once('error', () => resolve(false));
  });
  if (!connected) return null;
  connection.write(`${JSON.stringify({ argv })}\n`);
  return new Promise<number | null>((resolve) => {
    let buffer = '';
    let exit: number | null = null;
    connection.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      let end = buffer.indexOf('\n');
      while (end >= 0) {
        const message = JSON.parse(buffer.slice(0, end)) as { out?: string; err?: string; exit?: number };
        buffer = buffer.slice(end + 1);
        if (message.out !== undefined) output.out(message.out);
        if (message.err !== undefined) output.err(message.err);
        if (message.exit !== undefined) exit = message.exit;
        end = buffer.indexOf('\n');
      }
    });
    connection.once('close', () => resolve(exit));
    connection.once('error', () => resolve(exit));
  });
};
