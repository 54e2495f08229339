/**
 * Linking this browser as a new device (`linkMessenger`, the core's linkNewDevice over a scripted provisioning
 * socket): the link URI is reported once the server names the channel; a channel that expires (closed 4008) reads
 * as `expired` so the screen offers a new code; a message that does not open (random bytes, or a real one sealed for
 * another channel: a replay) reads as `refused`; the user leaving aborts (the channel is closed) as `cancelled`. In
 * none of these is anything stored. And the history transfer's progress as the link screen shows it, with the count
 * of notices dropped because their certificate did not verify.
 */
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from '@jest/globals';

import type { ClientSocket, Platform } from '@cove/client';
import { PublicKey, sealProvisioningMessage } from '@cove/crypto';
import { fromBase64, toBase64 } from '@cove/protocol';

import { historyProgressView, linkMessenger } from '../src/app/messenger-adapter.js';
import { checkLinkUri } from '../src/app/link-uri.js';
import { AtRestStorage } from '../src/platform/at-rest-storage.js';
import { EncryptedRowStore } from '../src/platform/encrypted-row-store.js';
import { openCoveDatabase } from '../src/platform/idb/database.js';
import { loadVaultKeys } from '../src/platform/vault.js';

const ADDRESS = 'AAECAwQFBgcICQoLDA0ODw';
let counter = 0;
const opened: { close(): unknown }[] = [];
afterEach(async () => {
  for (const handle of opened.splice(0)) await handle.close();
});

/** The provisioning socket the test drives: what the app closed it with, and the server's side. */
type Channel = { socket: ClientSocket; closedWith: number | null };

async function setup() {
  const db = await openCoveDatabase(`link-messenger-${Date.now()}-${counter++}`);
  opened.push(db);
  const keys = await loadVaultKeys(db);
  if (keys === 'locked') throw new Error('unexpected lock');
  const storage = new AtRestStorage(new EncryptedRowStore(db, keys), 'test');
  opened.push(storage);
  const channels: Channel[] = [];
  const urls: string[] = [];
  const platform = {
    storage,
    http: { request: () => Promise.reject(new Error('no HTTP in this test')) },
    sockets: {
      connect: (url: string) => {
        urls.push(url);
        const channel: Channel = {
          closedWith: null,
          socket: {
            onOpen: () => undefined,
            onMessage: () => undefined,
            onClose: () => undefined,
            onError: () => undefined,
            send: () => undefined,
            close: (code?: number) => {
              channel.closedWith = code ?? 1000;
            },
          },
        };
        channels.push(channel);
        return channel.socket;
      },
    },
    clock: { now: () => Date.now(), setTimeout: () => ({ id: 0 }), clearTimeout: () => undefined },
    random: { bytes: (n: number) => globalThis.crypto.getRandomValues(new Uint8Array(n)) },
    locks: { withLock: <T>(_name: string, fn: () => Promise<T>) => fn() },
    logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
  } as unknown as Platform;
  const uris: string[] = [];
  const abort = new AbortController();
  const linking = linkMessenger(platform, () => () => undefined, 'https://cove.test', {
    deviceName: () => 'Test browser',
    onUri: (uri) => uris.push(uri),
    signal: abort.signal,
  });
  const channel = async (): Promise<Channel> => {
    for (let i = 0; i < 200 && channels.length === 0; i += 1) await new Promise((r) => setTimeout(r, 5));
    const first = channels[0];
    if (!first) throw new Error('no provisioning socket opened');
    first.socket.onMessage(
      JSON.stringify({ type: 'provisioning-address', address: ADDRESS, expiresAt: Date.now() + 600_000 }),
    );
    return first;
  };
  const stored = async () => (await storage.list('meta')).map((row) => row.key);
  return { linking, channel, uris, urls, abort, stored };
}

describe('linking this browser as a new device', () => {
  it('should show the link URI, and read a channel closed as expired (4008) as expired, storing nothing', async () => {
    const { linking, channel, uris, urls, stored } = await setup();
    const before = await stored();
    const open = await channel();
    expect(urls).toEqual(['wss://cove.test/v1/provisioning']);
    expect(uris).toHaveLength(1);
    expect(checkLinkUri(uris[0] ?? '')).toMatchObject({ ok: true });
    expect(uris[0]).toContain(`uuid=${ADDRESS}&`);
    open.socket.onClose(4008, 'expired');
    await expect(linking).resolves.toBe('expired');
    expect(await stored()).toEqual(before);
  });

  it('should refuse random bytes and a message sealed for another channel (a replay), storing nothing', async () => {
    for (const forge of ['random', 'replay'] as const) {
      const { linking, channel, uris, stored } = await setup();
      const before = await stored();
      const open = await channel();
      const check = checkLinkUri(uris[0] ?? '');
      if (!check.ok) throw new Error('no link URI');
      const key = PublicKey.deserialize(
        fromBase64(
          (new URL(check.uri.replace('cove:', 'https:')).searchParams.get('pub_key') ?? '')
            .replace(/-/g, '+')
            .replace(/_/g, '/')
            .padEnd(44, '='),
        ),
      );
      const body =
        forge === 'random'
          ? globalThis.crypto.getRandomValues(new Uint8Array(200))
          : sealProvisioningMessage(key, 'ZZECAwQFBgcICQoLDA0ODw', new TextEncoder().encode('{"version":1}'), (n) =>
              globalThis.crypto.getRandomValues(new Uint8Array(n)),
            );
      open.socket.onMessage(JSON.stringify({ type: 'provisioning-message', body: toBase64(body) }));
      await expect(linking).resolves.toBe('refused');
      expect(await stored()).toEqual(before);
    }
  });

  it('should close the channel when the user leaves, and say cancelled', async () => {
    const { linking, channel, abort, stored } = await setup();
    const before = await stored();
    const open = await channel();
    abort.abort();
    await expect(linking).resolves.toBe('cancelled');
    expect(open.closedWith).toBe(1000);
    // A message arriving after leaving links nothing.
    open.socket.onMessage(JSON.stringify({ type: 'provisioning-message', body: toBase64(new Uint8Array(64)) }));
    expect(await stored()).toEqual(before);
  });
});

describe('the history transfer as the link screen shows it', () => {
  it('should show percentages, the imported count at the end, and the dropped notices only when there are some', () => {
    expect(historyProgressView({ phase: 'downloading', done: 50, total: 200 })).toEqual({
      phase: 'downloading',
      percent: 25,
    });
    expect(historyProgressView({ phase: 'done', done: 9, total: 9, imported: 6, skipped: 1, dropped: 2 })).toEqual({
      phase: 'done',
      percent: 100,
      messages: 6,
      droppedNotices: 2,
    });
    expect(historyProgressView({ phase: 'done', done: 9, total: 9, imported: 9, skipped: 0, dropped: 0 })).toEqual({
      phase: 'done',
      percent: 100,
      messages: 9,
    });
  });
});
