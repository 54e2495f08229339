/**
 * Node messenger clients for end-to-end tests: each runs `Messenger` on the Node platform in its own temporary data
 * directory, records its events, and can be closed and reopened (a restart) or wiped. Also small polling helpers
 * that wait for a condition on real state (never on elapsed time).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Messenger } from '@cove/client';
import type {
  BinaryHttpTransport,
  Clock,
  HttpTransport,
  MessageEntry,
  MessengerEvent,
  SocketFactory,
} from '@cove/client';
import { createNodePlatform, createStderrLogger } from '@cove/client/node';
import type { NodePlatform } from '@cove/client/node';

export type TestClient = {
  name: string;
  dataDir: string;
  platform: NodePlatform;
  messenger: Messenger;
  events: MessengerEvent[];
  accountId: string;
};

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T> | T, timeoutMs = 20_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export type ClientOptions = {
  http?: HttpTransport;
  binaryHttp?: BinaryHttpTransport;
  sockets?: SocketFactory;
  clock?: Clock;
};

export async function openClient(name: string, dataDir: string, options: ClientOptions = {}): Promise<TestClient> {
  const platform = await createNodePlatform({
    dataDir,
    ...(options.http ? { http: options.http } : {}),
    ...(options.binaryHttp ? { binaryHttp: options.binaryHttp } : {}),
    ...(options.sockets ? { sockets: options.sockets } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    // COVE_TEST_CLIENT_LOG=debug (or info) shows the clients' own logs, e.g. why an outbox pass left a send unsent.
    logger: createStderrLogger((process.env.COVE_TEST_CLIENT_LOG as 'debug' | 'info' | undefined) ?? 'error'),
  });
  const messenger = await Messenger.open(platform);
  const events: MessengerEvent[] = [];
  messenger.subscribe((event) => events.push(event));
  const accountId = messenger.isRegistered ? (await messenger.account()).accountId : '';
  return { name, dataDir, platform, messenger, events, accountId };
}

/** Registers a fresh client with a username on the server. */
export async function newClient(
  serverUrl: string,
  username: string,
  options: ClientOptions & { oneTimePreKeys?: number; ssoToken?: string; inviteCode?: string } = {},
): Promise<TestClient> {
  const dataDir = await mkdtemp(join(tmpdir(), `cove-client-${username}-`));
  const client = await openClient(username, dataDir, options);
  const account = await client.messenger.register({
    serverUrl,
    username,
    ...(options.oneTimePreKeys === undefined ? {} : { oneTimePreKeys: options.oneTimePreKeys }),
    ...(options.ssoToken === undefined ? {} : { ssoToken: options.ssoToken }),
    ...(options.inviteCode === undefined ? {} : { inviteCode: options.inviteCode }),
  });
  client.accountId = account.accountId;
  return client;
}

/** Stops the client, keeping its data (a clean shutdown). */
export async function stopClient(client: TestClient): Promise<void> {
  await client.messenger.close();
  await client.platform.close();
}

/** Stops and reopens the client from its data directory (a restart). */
export async function restartClient(client: TestClient, options: ClientOptions = {}): Promise<TestClient> {
  await stopClient(client);
  return openClient(client.name, client.dataDir, options);
}

export async function destroyClient(client: TestClient): Promise<void> {
  await client.messenger.close().catch(() => undefined);
  await client.platform.close().catch(() => undefined);
  await rm(client.dataDir, { recursive: true, force: true });
}

/** The conversation with `peer` in chronological order (oldest first). */
export async function transcript(client: TestClient, peerAccountId: string): Promise<MessageEntry[]> {
  const all: MessageEntry[] = [];
  let before: string | undefined;
  for (;;) {
    const page = await client.messenger.messages(peerAccountId, { limit: 200, ...(before ? { before } : {}) });
    all.push(...page.messages);
    if (!page.nextCursor) break;
    before = page.nextCursor;
  }
  return all.reverse();
}

export async function texts(
  client: TestClient,
  peerAccountId: string,
  direction?: 'incoming' | 'outgoing',
): Promise<string[]> {
  return (await transcript(client, peerAccountId))
    .filter((m) => !direction || m.direction === direction)
    .map((m) => m.text);
}
