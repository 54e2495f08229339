/**
 * The Node implementation of the platform: FileStorage in a data directory, global fetch for HTTP, `ws` for the
 * WebSocket, timers, node:crypto randomness, an in-process lock manager, and a stderr logger. The data directory
 * is claimed for the life of the process with a lock file holding the pid, so two processes never write one
 * account's state (a stale lock from a dead process is taken over). The first platform made in a process also
 * chooses the process's X25519 once: Node's native one (`useNodeX25519`), libsodium's if this runtime's fails the
 * check. It does not implement messaging logic.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

import { ready } from '@cove/crypto';
import WebSocket from 'ws';

import { ClientError, ClientErrorCode } from '../errors.js';
import { KeyedMutex } from '../keyed-mutex.js';
import type {
  BinaryHttpTransport,
  ClientSocket,
  Clock,
  HttpRequest,
  HttpResponse,
  HttpTransport,
  LockManager,
  Logger,
  Platform,
  Random,
  SocketFactory,
  TimerHandle,
} from '../platform.js';
import { createFileBlobStore } from './file-blob-store.js';
import { FileStorage } from './file-storage.js';
import { useNodeX25519 } from './node-x25519.js';

/** Give up on an HTTP request after this long: long enough for a slow server, short enough for a CLI user. */
const HTTP_TIMEOUT_MS = 20_000;
const LOCK_FILE = 'lock';

export const fetchTransport: HttpTransport = {
  async request(request: HttpRequest): Promise<HttpResponse> {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body ?? null,
      signal: AbortSignal.timeout(HTTP_TIMEOUT_MS),
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      headers[key] = value;
    });
    return { status: response.status, headers, body: await response.text() };
  },
};

/** Attachment pieces are a few MiB: allow a slow link a minute per request before giving up (then resume). */
const BINARY_HTTP_TIMEOUT_MS = 60_000;

export const fetchBinaryTransport: BinaryHttpTransport = {
  async request(request) {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body ?? null,
      signal: AbortSignal.timeout(BINARY_HTTP_TIMEOUT_MS),
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => {
      headers[key.toLowerCase()] = value;
    });
    return { status: response.status, headers, body: new Uint8Array(await response.arrayBuffer()) };
  },
};

export const wsSocketFactory: SocketFactory = {
  connect(url: string): ClientSocket {
    const ws = new WebSocket(url);
    const socket: ClientSocket = {
      onOpen: () => undefined,
      onMessage: () => undefined,
      onClose: () => undefined,
      onError: () => undefined,
      send: (text) => ws.send(text),
      close: (code, reason) => ws.close(code, reason),
    };
    ws.on('open', () => socket.onOpen());
    ws.on('message', (data, isBinary) => {
      if (!isBinary)
        socket.onMessage(
          Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'),
        );
    });
    ws.on('close', (code, reason) => socket.onClose(code, reason.toString('utf8')));
    ws.on('error', (error) => socket.onError(error));
    return socket;
  },
};

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms): TimerHandle => {
    const id = setTimeout(callback, ms);
    id.unref?.();
    return { id };
  },
  clearTimeout: (handle) => clearTimeout(handle.id as NodeJS.Timeout),
};

export const nodeRandom: Random = { bytes: (length) => new Uint8Array(randomBytes(length)) };

export const createMutexLockManager = (): LockManager => {
  const mutex = new KeyedMutex();
  return { withLock: (name, fn) => mutex.run(name, fn) };
};

type Level = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const LEVELS: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** JSON lines on stderr at or above `level` (default from COVE_LOG_LEVEL, else warn). */
export const createStderrLogger = (
  level: Level = (process.env.COVE_LOG_LEVEL as Level | undefined) ?? 'warn',
): Logger => {
  const threshold = LEVELS[level] ?? LEVELS.warn;
  const log =
    (name: Exclude<Level, 'silent'>) =>
    (message: string, fields?: Record<string, string | number | boolean>): void => {
      if (LEVELS[name] < threshold) return;
      process.stderr.write(
        `${JSON.stringify({ level: name, time: new Date().toISOString(), msg: message, ...fields })}\n`,
      );
    };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
};

const processAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Claims `dir` for this process; throws StorageLocked when a live process holds it. */
const claimDirectory = async (dir: string): Promise<() => Promise<void>> => {
  const lockPath = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      const handle = await fs.open(lockPath, 'wx', 0o600);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return async () => {
        const holder = await fs.readFile(lockPath, 'utf8').catch(() => '');
        if (holder === String(process.pid)) await fs.rm(lockPath, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number.parseInt(await fs.readFile(lockPath, 'utf8').catch(() => ''), 10);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new ClientError(ClientErrorCode.StorageLocked, `the data directory is in use by process ${pid}`);
      }
      await fs.rm(lockPath, { force: true });
    }
  }
  throw new ClientError(ClientErrorCode.StorageLocked, 'could not lock the data directory');
};

export type NodePlatform = Platform & {
  storage: FileStorage;
  /** Flushes and releases the data directory. */
  close(): Promise<void>;
};

export type NodePlatformOptions = {
  dataDir: string;
  logger?: Logger;
  http?: HttpTransport;
  binaryHttp?: BinaryHttpTransport;
  sockets?: SocketFactory;
  clock?: Clock;
};

let x25519Choice: Promise<string> | null = null;

/**
 * The process's X25519, chosen once at start (issue 17 goal 4: the platform's own where the runtime has it): Node's
 * native one, which makes session setup and the ratchet's DH steps faster than libsodium's WebAssembly (figures in
 * bench/RESULTS.md), or libsodium's when this runtime's is refused by @cove/crypto's check. Resolves to its name.
 */
export const chooseNodeX25519 = (): Promise<string> => (x25519Choice ??= ready().then(() => useNodeX25519()));

export const createNodePlatform = async (options: NodePlatformOptions): Promise<NodePlatform> => {
  await chooseNodeX25519();
  await fs.mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const release = await claimDirectory(options.dataDir);
  let storage: FileStorage;
  try {
    storage = await FileStorage.open(options.dataDir);
  } catch (error) {
    await release();
    throw error;
  }
  /** At exit only synchronous calls run: release the lock so it does not outlive the process. */
  const onExit = (): void => {
    const lockPath = path.join(options.dataDir, LOCK_FILE);
    try {
      if (readFileSync(lockPath, 'utf8') === String(process.pid)) rmSync(lockPath, { force: true });
    } catch {
      // already gone
    }
  };
  process.once('exit', onExit);
  return {
    storage,
    http: options.http ?? fetchTransport,
    binaryHttp: options.binaryHttp ?? fetchBinaryTransport,
    attachments: createFileBlobStore(options.dataDir),
    sockets: options.sockets ?? wsSocketFactory,
    clock: options.clock ?? systemClock,
    random: nodeRandom,
    locks: createMutexLockManager(),
    logger: options.logger ?? createStderrLogger(),
    async close() {
      process.removeListener('exit', onExit);
      await storage.close();
      await release();
    },
  };
};

/** What a data directory holds of Cove's own (storage-file names, the blob directory, the lock and the IPC socket). */
const OWN_ENTRY = /^(state\.json(\.tmp)?|journal-\d+\.log|attachment-blobs|lock|cove\.sock)$/;

/**
 * Deletes Cove's files from a data directory after logging out or deleting the account (the platform must be closed):
 * the stored state, the attachment blobs, the lock and the socket; anything else (a file the user put there) stays,
 * and the directory goes only when nothing else is left.
 */
export const wipeDataDirectory = async (dataDir: string): Promise<void> => {
  const entries = await fs.readdir(dataDir).catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((name) => OWN_ENTRY.test(name))
      .map((name) => fs.rm(path.join(dataDir, name), { recursive: true, force: true })),
  );
  await fs.rmdir(dataDir).catch(() => undefined);
};
