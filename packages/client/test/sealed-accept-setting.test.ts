/**
 * Who may send us sealed messages, as this device keeps it (`SealedSender`): a read of the server's setting that
 * overlapped a change made here must not put the older value back (the settings screen reads the server's value when
 * it opens, and a tap on the other choice can land while that read is on its way). Real storage; the server's two
 * endpoints are answered by the test, in the order each case needs.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';

import type { MessengerContext } from '../src/context.js';
import type { MessengerEvent } from '../src/events.js';
import { createNodePlatform } from '../src/node/node-platform.js';
import type { NodePlatform } from '../src/node/node-platform.js';
import { SealedSender } from '../src/sealed-sender.js';

/** A promise the test settles when it chooses. */
const deferred = <T>() => {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
};

describe('the sealed-sender accept setting', () => {
  let dir: string;
  let platform: NodePlatform;
  let reads: {
    promise: Promise<{ unrestrictedUnidentifiedAccess: boolean }>;
    resolve: (v: { unrestrictedUnidentifiedAccess: boolean }) => void;
  }[];
  let writes: { promise: Promise<void>; resolve: (v: void) => void }[];
  let events: MessengerEvent[];
  let sealed: SealedSender;

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cove-sealed-setting-'));
    platform = await createNodePlatform({ dataDir: dir });
    reads = [];
    writes = [];
    events = [];
    const api = {
      accountAttributes: () => {
        const read = deferred<{ unrestrictedUnidentifiedAccess: boolean }>();
        reads.push(read);
        return read.promise;
      },
      setAccountAttributes: () => {
        const write = deferred<void>();
        writes.push(write);
        return write.promise;
      },
    };
    const hub = { emit: (event: MessengerEvent) => events.push(event) };
    sealed = new SealedSender({ platform, api, hub } as unknown as MessengerContext);
  });

  afterEach(async () => {
    await platform.close?.();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const settle = () => new Promise((r) => setTimeout(r, 10));

  it('should keep what the server says when nothing changed here meanwhile', async () => {
    const refreshed = sealed.refreshAcceptSetting();
    await settle();
    reads[0]!.resolve({ unrestrictedUnidentifiedAccess: true });
    expect(await refreshed).toBe('anyone');
    expect(await sealed.acceptSetting()).toBe('anyone');
  });

  it('should not let a read that started before a change put the older value back', async () => {
    const refreshed = sealed.refreshAcceptSetting();
    await settle();
    const changed = sealed.setAcceptSetting('anyone');
    await settle();
    writes[0]!.resolve();
    await changed;
    // The read answers with what the server held before the change.
    reads[0]!.resolve({ unrestrictedUnidentifiedAccess: false });
    expect(await refreshed).toBe('anyone');
    expect(await sealed.acceptSetting()).toBe('anyone');
    expect(events.filter((e) => e.type === 'account-settings-updated')).toEqual([
      { type: 'account-settings-updated', sealedSender: 'anyone' },
    ]);
  });

  it('should not keep a read that started while a change was on its way, even when the change answers first', async () => {
    const changed = sealed.setAcceptSetting('anyone');
    await settle();
    const refreshed = sealed.refreshAcceptSetting();
    await settle();
    writes[0]!.resolve();
    await changed;
    // The server read its row before the change committed.
    reads[0]!.resolve({ unrestrictedUnidentifiedAccess: false });
    expect(await refreshed).toBe('anyone');
    expect(await sealed.acceptSetting()).toBe('anyone');
    // A read that starts after the change keeps the server's value again (here another device changed it back).
    const later = sealed.refreshAcceptSetting();
    await settle();
    reads[1]!.resolve({ unrestrictedUnidentifiedAccess: false });
    expect(await later).toBe('contacts');
    expect(await sealed.acceptSetting()).toBe('contacts');
  });
});
