import { IdentityKeyPair, ready } from '@cove/crypto';
import { toBase64 } from '@cove/protocol';
import type { PreKeyBundleDevice } from '@cove/protocol';
import { beforeAll, describe, expect, it } from '@jest/globals';

import { ProtocolZone } from '../src/protocol-zone.js';
import type { KeyValueStorage, StoredValue, TableName, WriteOp } from '../src/platform.js';
import { generateKyberPreKey, generatePreKeys, generateSignedPreKey } from '../src/prekeys.js';
import type { AccountRecord, IdentityEntry } from '../src/tables.js';
import { decryptEnvelope, encryptForDevices, establishSession } from '../src/session-crypto.js';

/** A minimal in-memory KeyValueStorage (the file-backed one is tested on its own). */
class MemoryStorage implements KeyValueStorage {
  readonly data = new Map<string, StoredValue>();
  get<T extends StoredValue>(table: TableName, key: string): Promise<T | undefined> {
    const value = this.data.get(`${table}/${key}`);
    return Promise.resolve(value === undefined ? undefined : (structuredClone(value) as T));
  }
  list(): Promise<never[]> {
    return Promise.resolve([]);
  }
  count(): Promise<number> {
    return Promise.resolve(0);
  }
  commit(batch: readonly WriteOp[]): Promise<void> {
    for (const op of batch) {
      if (op.op === 'put') this.data.set(`${op.table}/${op.key}`, structuredClone(op.value));
      else this.data.delete(`${op.table}/${op.key}`);
    }
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

type Party = { account: AccountRecord; storage: MemoryStorage; identity: IdentityKeyPair; device: PreKeyBundleDevice };

const party = async (accountId: string, registrationId: number): Promise<Party> => {
  const identity = IdentityKeyPair.generate();
  const storage = new MemoryStorage();
  const signed = generateSignedPreKey(identity, 1, 1000);
  const kyber = generateKyberPreKey(identity, 1, 1000, true);
  const preKeys = generatePreKeys(1, 1, 1000);
  await storage.commit([signed.write, kyber.write, ...preKeys.writes]);
  const account: AccountRecord = {
    serverUrl: 'http://127.0.0.1',
    accountId,
    deviceId: 1,
    registrationId,
    secret: new Uint8Array(32),
    identityKeyPair: identity.serialize(),
    createdAt: 0,
  };
  return {
    account,
    storage,
    identity,
    device: {
      deviceId: 1,
      registrationId,
      signedPreKey: signed.upload,
      kyberPreKey: kyber.upload,
      preKey: preKeys.uploads[0]!,
    },
  };
};

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const envelopeOf = (message: { type: string; content: string }, n: number) => ({
  guid: `44444444-4444-4444-8444-44444444444${n}`,
  type: message.type as 'prekey' | 'whisper',
  sourceAccountId: ALICE,
  sourceDeviceId: 1,
  timestamp: n,
  serverTimestamp: n + 1,
  content: message.content,
});

const ALICE = '11111111-1111-4111-8111-111111111111';
const BOB = '22222222-2222-4222-8222-222222222222';
const MALLORY = '33333333-3333-4333-8333-333333333333';

describe(ProtocolZone.name, () => {
  beforeAll(async () => {
    await ready();
  });

  it('should commit nothing until the caller commits the zone, then decrypt with the committed state', async () => {
    const alice = await party(ALICE, 1);
    const bob = await party(BOB, 2);
    const zone = new ProtocolZone(alice.storage, alice.account, () => 2000);
    await establishSession(zone, BOB, toBase64(bob.identity.publicKey.serialize()), bob.device);
    const [message] = await encryptForDevices(
      zone,
      BOB,
      [{ deviceId: 1, registrationId: 2 }],
      new TextEncoder().encode('hi'),
    );
    expect(alice.storage.data.size).toBe(3);
    await alice.storage.commit(zone.operations());
    expect(await alice.storage.get<IdentityEntry>('identities', BOB)).toMatchObject({
      trust: 'trusted-first-use',
      blocked: false,
    });

    const bobZone = new ProtocolZone(bob.storage, bob.account, () => 3000);
    const envelope = {
      guid: '44444444-4444-4444-8444-444444444444',
      type: message!.type,
      sourceAccountId: ALICE,
      sourceDeviceId: 1,
      timestamp: 1,
      serverTimestamp: 2,
      content: message!.content,
    };
    const padded = await decryptEnvelope(bobZone, envelope);
    expect(new TextDecoder().decode(padded.slice(0, 2))).toBe('hi');
    // Discarded zone: the one-time prekey is still there; committed zone: it is gone.
    expect(await bob.storage.get('preKeys', '00000001')).toBeDefined();
    await bob.storage.commit(bobZone.operations());
    expect(await bob.storage.get('preKeys', '00000001')).toBeUndefined();
    expect(bobZone.consumedPreKeys).toEqual([1]);
  });

  it('should record a changed identity as unverified, and block a verified one', async () => {
    const alice = await party(ALICE, 1);
    const bob = await party(BOB, 2);
    const mallory = await party(MALLORY, 3);
    const first = new ProtocolZone(alice.storage, alice.account, () => 2000);
    await establishSession(first, BOB, toBase64(bob.identity.publicKey.serialize()), bob.device);
    await alice.storage.commit(first.operations());

    // Unverified contact: the new key is accepted, recorded and reported.
    const second = new ProtocolZone(alice.storage, alice.account, () => 3000);
    await establishSession(second, BOB, toBase64(mallory.identity.publicKey.serialize()), mallory.device);
    expect(second.identityChanges).toHaveLength(1);
    expect(second.identityChanges[0]).toMatchObject({ accountId: BOB, wasVerified: false });
    await alice.storage.commit(second.operations());
    expect(await alice.storage.get<IdentityEntry>('identities', BOB)).toMatchObject({
      trust: 'unverified',
      blocked: false,
      changedAt: 3000,
    });

    // Verified contact: the change is recorded but sessions with the new key are refused.
    const entry = (await alice.storage.get<IdentityEntry>('identities', BOB))!;
    await alice.storage.commit([{ op: 'put', table: 'identities', key: BOB, value: { ...entry, trust: 'verified' } }]);
    const third = new ProtocolZone(alice.storage, alice.account, () => 4000);
    await expect(
      establishSession(third, BOB, toBase64(bob.identity.publicKey.serialize()), bob.device),
    ).rejects.toMatchObject({ code: 3 });
    expect(third.identityChanges).toMatchObject([{ accountId: BOB, wasVerified: true }]);
    await alice.storage.commit(third.operations());
    expect(await alice.storage.get<IdentityEntry>('identities', BOB)).toMatchObject({
      trust: 'unverified',
      blocked: true,
    });
  });
  it('should read each row from storage once per zone, hand out private copies, and see its own writes', async () => {
    const alice = await party(ALICE, 11);
    await alice.storage.commit([{ op: 'put', table: 'contacts', key: BOB, value: { n: 1 } as never }]);
    let reads = 0;
    const get = alice.storage.get.bind(alice.storage);
    alice.storage.get = (table: TableName, key: string) => {
      reads++;
      return get(table, key);
    };
    const zone = new ProtocolZone(alice.storage, alice.account, () => 1000);
    const [a, b] = await Promise.all([zone.read('contacts', BOB), zone.read('contacts', BOB)]);
    expect(reads).toBe(1);
    expect(a).toEqual({ n: 1 });
    expect(a).not.toBe(b);
    (a as unknown as { n: number }).n = 99;
    expect(await zone.read('contacts', BOB)).toEqual({ n: 1 });
    zone.put('contacts', BOB, { n: 2 } as never);
    expect(await zone.read('contacts', BOB)).toEqual({ n: 2 });
    zone.delete('contacts', BOB);
    expect(await zone.read('contacts', BOB)).toBeUndefined();
    expect(reads).toBe(1);
    // A new zone (the next operation) reads storage again.
    expect(await new ProtocolZone(alice.storage, alice.account, () => 1000).read('contacts', BOB)).toEqual({ n: 1 });
    expect(reads).toBe(2);
  });
  it('should make the reads of an encryption and a decryption in one storage round after a prefetch', async () => {
    const alice = await party(ALICE, 21);
    const bob = await party(BOB, 22);
    const setup = new ProtocolZone(alice.storage, alice.account, () => 2000);
    await establishSession(setup, BOB, toBase64(bob.identity.publicKey.serialize()), bob.device);
    const first = await encryptForDevices(setup, BOB, [{ deviceId: 1, registrationId: 22 }], utf8('one'));
    await alice.storage.commit(setup.operations());
    const bobSetup = new ProtocolZone(bob.storage, bob.account, () => 2500);
    await decryptEnvelope(bobSetup, envelopeOf(first[0]!, 1));
    await bob.storage.commit(bobSetup.operations());

    // Rounds as a browser pays them: the reads asked for before the next macrotask share one (one IndexedDB
    // transaction); a read that waits for another's answer starts the next round.
    const rounds = (storage: MemoryStorage): { count: number } => {
      const counter = { count: 0 };
      const get = storage.get.bind(storage);
      let waiting: (() => void)[] = [];
      storage.get = <T extends StoredValue>(table: TableName, key: string): Promise<T | undefined> =>
        new Promise<void>((resolve) => {
          waiting.push(resolve);
          if (waiting.length === 1)
            setTimeout(() => {
              counter.count++;
              const due = waiting;
              waiting = [];
              for (const r of due) r();
            }, 0);
        }).then(() => get<T>(table, key));
      return counter;
    };
    const aliceRounds = rounds(alice.storage);
    const plain = new ProtocolZone(alice.storage, alice.account, () => 3000);
    await encryptForDevices(plain, BOB, [{ deviceId: 1, registrationId: 22 }], utf8('two'));
    // Without a prefetch the protocol code asks for the session, then (after it) the identity.
    expect(aliceRounds.count).toBe(2);
    aliceRounds.count = 0;
    const zone = new ProtocolZone(alice.storage, alice.account, () => 3000);
    zone.prefetch(BOB, [1]);
    const [message] = await encryptForDevices(zone, BOB, [{ deviceId: 1, registrationId: 22 }], utf8('three'));
    expect(aliceRounds.count).toBe(1);
    // The prefetched rows are the ones the encryption used: it advanced the very session committed above.
    await alice.storage.commit(zone.operations());

    const bobRounds = rounds(bob.storage);
    const bobZone = new ProtocolZone(bob.storage, bob.account, () => 3500);
    bobZone.prefetch(ALICE, [1]);
    const padded = await decryptEnvelope(bobZone, envelopeOf(message!, 3));
    expect(new TextDecoder().decode(padded.slice(0, 5))).toBe('three');
    expect(bobRounds.count).toBe(1);
  });
});
