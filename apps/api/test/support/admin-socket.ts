/**
 * A client of the server's local admin socket (`ADMIN_SOCKET`) for tests: raw bytes in, the lines that come back out,
 * and one JSON request answered by one JSON line. It asserts nothing.
 */
import { connect } from 'node:net';

/** Sends raw bytes to the admin socket and collects what comes back until it closes or answers `lines` lines. */
export const talk = (path: string, data: string, lines = 1): Promise<string[]> =>
  new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffer = '';
    const done = (): void => resolve(buffer.split('\n').filter(Boolean));
    socket.once('connect', () => socket.write(data));
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      if (buffer.split('\n').filter(Boolean).length >= lines) {
        socket.destroy();
        done();
      }
    });
    socket.once('close', done);
    socket.once('error', reject);
  });

/** One JSON request, its one JSON answer. */
export const answer = async (path: string, request: unknown): Promise<Record<string, unknown>> =>
  JSON.parse((await talk(path, `${JSON.stringify(request)}\n`))[0]!) as Record<string, unknown>;
