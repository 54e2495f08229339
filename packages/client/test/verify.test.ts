/**
 * "Mark as verified" marks the key the user compared, never merely the current one: `Messenger.verify` requires
 * the safety-number digits and checks them against the key held at the moment it marks it, under the peer's lock.
 * Real storage, real keys and fingerprints; no server is needed (the identity is already known).
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { IdentityKeyPair, ready } from '@cove/crypto';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';

import { peerLock } from '../src/context.js';
import { ClientErrorCode, SafetyNumberMismatchError } from '../src/errors.js';
import { Messenger } from '../src/messenger.js';
import type { HttpTransport, LockManager } from '../src/platform.js';
import type { AccountRecord, IdentityEntry } from '../src/tables.js';
import { createNodePlatform, createStderrLogger } from '../src/node/node-platform.js';
import type { NodePlatform } from '../src/node/node-platform.js';
import { computeSafetyNumber, formatSafetyNumber } from '../src/trust.js';

const ME = '11111111-1111-4111-8111-111111111111';
const BOB = '22222222-2222-4222-8222-222222222222';

describe('Messenger.verify', () => {
  let dir: string;
  let platform: NodePlatform;
  let account: AccountRecord;
  let lockRequested: ((name: string) => void) | null;
  let messenger: Messenger;

  const identityEntry = (key: IdentityKeyPair, changed: boolean): IdentityEntry => ({
    publicKey: key.publicKey.serialize(),
    trust: changed ? 'unverified' : 'trusted-first-use',
    firstSeenAt: 1_800_000_000_000,
    changedAt: changed ? 1_800_000_100_000 : null,
    blocked: false,
  });
  const putIdentity = (entry: IdentityEntry): Promise<void> =>
    platform.storage.commit([{ op: 'put', table: 'identities', key: BOB, value: entry }]);
  const stored = async (): Promise<IdentityEntry | undefined> => platform.storage.get<IdentityEntry>('identities', BOB);

  beforeAll(async () => {
    await ready();
  });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'cove-verify-'));
    const down: HttpTransport = { request: () => Promise.reject(new Error('connect ECONNREFUSED')) };
    platform = await createNodePlatform({ dataDir: dir, http: down, logger: createStderrLogger('silent') });
    account = {
      serverUrl: 'http://127.0.0.1:9',
      accountId: ME,
      deviceId: 1,
      registrationId: 42,
      secret: new Uint8Array(32),
      identityKeyPair: IdentityKeyPair.generate().serialize(),
      createdAt: 1_800_000_000_000,
    };
    await platform.storage.commit([{ op: 'put', table: 'meta', key: 'account', value: account }]);
    // The platform's own locks, reporting each request, so a test knows when verify waits for the peer's lock.
    lockRequested = null;
    const locks: LockManager = {
      withLock: (name, fn) => {
        lockRequested?.(name);
        return platform.locks.withLock(name, fn);
      },
    };
    messenger = await Messenger.open({ ...platform, locks });
  });

  afterEach(async () => {
    await messenger.close();
    await platform.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('should refuse to mark anything without the digits the user compared', async () => {
    await putIdentity(identityEntry(IdentityKeyPair.generate(), true));
    const before = await stored();
    const untyped = messenger.verify.bind(messenger) as (peer: string, expected?: unknown) => Promise<unknown>;
    await expect(untyped(BOB)).rejects.toMatchObject({ code: ClientErrorCode.InvalidInput });
    await expect(untyped(BOB, 12345)).rejects.toMatchObject({ code: ClientErrorCode.InvalidInput });
    await expect(messenger.verify(BOB, '1234 5678')).rejects.toMatchObject({ code: ClientErrorCode.InvalidInput });
    expect(await stored()).toEqual(before);
  });

  it('should refuse digits of another key with SafetyNumberMismatchError and change nothing', async () => {
    const current = IdentityKeyPair.generate();
    await putIdentity(identityEntry(current, true));
    const before = await stored();
    const other = computeSafetyNumber(account, BOB, identityEntry(IdentityKeyPair.generate(), false)).digits;
    const refusal = await messenger.verify(BOB, other).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(SafetyNumberMismatchError);
    expect(refusal).toMatchObject({ code: ClientErrorCode.IdentityChanged, accountId: BOB });
    expect(await stored()).toEqual(before);
  });

  it('should not mark a key that changed after its number was shown, even while verify was under way', async () => {
    const compared = IdentityKeyPair.generate();
    await putIdentity(identityEntry(compared, false));
    const shown = (await messenger.safetyNumber(BOB)).digits;
    const replacement = identityEntry(IdentityKeyPair.generate(), true);

    // Hold the peer's lock (as the inbox does while it processes a message), start verify with the digits the
    // user compared, and let the key change before verify gets the lock.
    let pending: Promise<unknown> | null = null;
    await platform.locks.withLock(peerLock(BOB), async () => {
      const waiting = new Promise<void>((resolve) => {
        lockRequested = (name) => {
          if (name === peerLock(BOB)) resolve();
        };
      });
      pending = messenger.verify(BOB, shown).catch((error: unknown) => error);
      await waiting;
      await putIdentity(replacement);
    });
    const outcome = await pending!;
    expect(outcome).toBeInstanceOf(SafetyNumberMismatchError);
    expect(await stored()).toEqual(replacement);
    expect((await messenger.identity(BOB)).trust).toBe('unverified');
  });

  it('should mark the compared key verified, with the digits as displayed, and unblock sending', async () => {
    const key = IdentityKeyPair.generate();
    await putIdentity({ ...identityEntry(key, true), blocked: true });
    const shown = (await messenger.safetyNumber(BOB)).digits;
    const result = await messenger.verify(BOB, formatSafetyNumber(shown));
    expect(result).toMatchObject({ accountId: BOB, trust: 'verified', blocked: false });
    expect(result.safetyNumber?.digits).toBe(shown);
    expect(await stored()).toMatchObject({ trust: 'verified', blocked: false });
    expect(new Uint8Array((await stored())!.publicKey)).toEqual(key.publicKey.serialize());
  });
});
