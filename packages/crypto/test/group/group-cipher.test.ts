/**
 * Sender keys, our implementation alone (issue 14): the chain and message keys recomputed from the facts with
 * Node's own HMAC, HKDF and AES (an independent known answer), record round trips and every record defect refused
 * as InvalidRecord, creation saving once, distribution ids in one spelling, argument checks, the chain's end, and
 * a received-only state refusing to send. Interop with libsignal is in test/interop/sender-keys.test.ts.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { createDecipheriv, createHmac, hkdfSync } from 'node:crypto';

import * as C from '../../src/index.js';
import { seededRng } from '../support/seeded-rng.js';

beforeAll(async () => {
  await C.ready();
});

const ALICE = C.ProtocolAddress.new('9d0652a3-dcc3-4d11-975f-74d61598733f', 1);
const DIST = 'd1d1d1d1-7000-11eb-b32a-33b8a8a487a6';
const E = C.ErrorCode;

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<C.ErrorCode | null> {
  try {
    await (typeof p === 'function' ? p() : p);
    return null;
  } catch (e) {
    if (!(e instanceof C.SignalClientError)) throw e;
    return e.code;
  }
}

class CountingStore extends C.InMemorySenderKeyStore {
  writes = 0;
  override saveSenderKey(sender: C.ProtocolAddress, id: string, record: C.SenderKeyRecord): Promise<void> {
    this.writes++;
    return super.saveSenderKey(sender, id, record);
  }
}

describe('groupEncrypt', () => {
  it('should produce the ciphertext the facts define (HMAC chain, HKDF "WhisperGroup" → IV ‖ key, AES-256-CBC)', async () => {
    const store = new C.InMemorySenderKeyStore();
    const skdm = await C.SenderKeyDistributionMessage.create(ALICE, DIST, store, seededRng('kat'));
    let ck = Buffer.from(skdm.chainKey());
    for (let i = 0; i < 3; i++) {
      const m = C.SenderKeyMessage.deserialize(
        (await C.groupEncrypt(ALICE, DIST, store, new TextEncoder().encode(`message ${i}`))).serialize(),
      );
      expect(m.iteration()).toBe(i);
      const seed = createHmac('sha256', ck).update(Buffer.of(1)).digest();
      const okm = Buffer.from(hkdfSync('sha256', seed, Buffer.alloc(32), 'WhisperGroup', 48));
      const d = createDecipheriv('aes-256-cbc', okm.subarray(16, 48), okm.subarray(0, 16));
      const plain = Buffer.concat([d.update(m.ciphertext()), d.final()]).toString();
      expect(plain).toBe(`message ${i}`);
      ck = createHmac('sha256', ck).update(Buffer.of(2)).digest();
    }
  });

  it('should refuse to send without a state, or on a state received from someone else', async () => {
    const store = new C.InMemorySenderKeyStore();
    expect(await codeOf(C.groupEncrypt(ALICE, DIST, store, Uint8Array.of(1)))).toBe(E.NoSenderKeyState);
    const other = await C.SenderKeyDistributionMessage.create(ALICE, DIST, new C.InMemorySenderKeyStore());
    await C.processSenderKeyDistributionMessage(ALICE, other, store);
    expect(await codeOf(C.groupEncrypt(ALICE, DIST, store, Uint8Array.of(1)))).toBe(E.InvalidSenderKeySession);
  });

  it('should refuse to send past the last uint32 iteration', async () => {
    const store = new C.InMemorySenderKeyStore();
    const record = C.SenderKeyRecord._empty();
    const k = C.PrivateKey.generate();
    record._addState(1, 0xffff_fffe, new Uint8Array(32), k.getPublicKey(), k);
    await store.saveSenderKey(ALICE, DIST, record);
    const last = C.SenderKeyMessage.deserialize(
      (await C.groupEncrypt(ALICE, DIST, store, Uint8Array.of(1))).serialize(),
    );
    expect(last.iteration()).toBe(0xffff_fffe);
    expect(await codeOf(C.groupEncrypt(ALICE, DIST, store, Uint8Array.of(1)))).toBe(E.InvalidSenderKeySession);
  });

  it('should check its arguments', async () => {
    const store = new C.InMemorySenderKeyStore();
    await C.SenderKeyDistributionMessage.create(ALICE, DIST, store);
    const bad: unknown[] = [null, 'not-a-uuid', `${DIST}0`, 42];
    for (const id of bad)
      expect(await codeOf(C.groupEncrypt(ALICE, id as string, store, Uint8Array.of(1)))).toBe(E.InvalidArgument);
    expect(await codeOf(C.groupEncrypt(ALICE, DIST, store, 'text' as unknown as Uint8Array))).toBe(E.InvalidArgument);
    expect(await codeOf(C.groupEncrypt({} as C.ProtocolAddress, DIST, store, Uint8Array.of(1)))).toBe(
      E.InvalidArgument,
    );
    expect(await codeOf(C.groupDecrypt(ALICE, {} as C.SenderKeyStore, Uint8Array.of(1)))).toBe(E.InvalidArgument);
    expect(await codeOf(C.groupDecrypt(ALICE, store, 'x' as unknown as Uint8Array))).toBe(E.InvalidArgument);
    expect(
      await codeOf(C.processSenderKeyDistributionMessage(ALICE, {} as C.SenderKeyDistributionMessage, store)),
    ).toBe(E.InvalidArgument);
    const k = C.PrivateKey.generate();
    expect(await codeOf(() => C.SenderKeyMessage._new(2, DIST, 1, 1, new Uint8Array(16), k))).toBe(E.InvalidArgument);
    expect(await codeOf(() => C.SenderKeyMessage._new(3, DIST, -1, 1, new Uint8Array(16), k))).toBe(E.InvalidArgument);
    expect(await codeOf(() => C.SenderKeyMessage._new(3, DIST, 1, 2 ** 32, new Uint8Array(16), k))).toBe(
      E.InvalidArgument,
    );
    expect(
      await codeOf(() => C.SenderKeyDistributionMessage._new(3, DIST, 1, 1, new Uint8Array(31), k.getPublicKey())),
    ).toBe(E.InvalidArgument);
  });
});

describe('SenderKeyDistributionMessage.create', () => {
  it('should create a chain once, save once, and describe the current chain after sends', async () => {
    const store = new CountingStore();
    const a = await C.SenderKeyDistributionMessage.create(ALICE, DIST, store);
    expect(store.writes).toBe(1);
    expect(a.chainId()).toBeLessThan(2 ** 31);
    expect(a.iteration()).toBe(0);
    const b = await C.SenderKeyDistributionMessage.create(ALICE, DIST, store);
    expect(store.writes).toBe(1);
    expect(b.serialize()).toEqual(a.serialize());
    await C.groupEncrypt(ALICE, DIST, store, Uint8Array.of(1));
    const c = await C.SenderKeyDistributionMessage.create(ALICE, DIST, store);
    expect([c.chainId(), c.iteration()]).toEqual([a.chainId(), 1]);
  });

  it('should treat a distribution id in upper case as the same id (one spelling)', async () => {
    const store = new C.InMemorySenderKeyStore();
    const a = await C.SenderKeyDistributionMessage.create(ALICE, DIST.toUpperCase(), store);
    expect(a.distributionId()).toBe(DIST);
    const b = await C.SenderKeyDistributionMessage.create(ALICE, DIST, store);
    expect(b.serialize()).toEqual(a.serialize());
    const m = C.SenderKeyMessage.deserialize(
      (await C.groupEncrypt(ALICE, DIST.toUpperCase(), store, Uint8Array.of(1))).serialize(),
    );
    expect(m.distributionId()).toBe(DIST);
  });
});

describe(C.SenderKeyRecord.name, () => {
  async function busyRecord(): Promise<C.SenderKeyRecord> {
    const store = new C.InMemorySenderKeyStore();
    await C.SenderKeyDistributionMessage.create(ALICE, DIST, store); // our own state, with a private key
    for (let i = 0; i < 3; i++) {
      const other = await C.SenderKeyDistributionMessage.create(ALICE, DIST, new C.InMemorySenderKeyStore());
      await C.processSenderKeyDistributionMessage(ALICE, other, store);
    }
    const sender = new C.InMemorySenderKeyStore();
    const skdm = await C.SenderKeyDistributionMessage.create(ALICE, DIST, sender);
    await C.processSenderKeyDistributionMessage(ALICE, skdm, store);
    let last: Uint8Array = new Uint8Array();
    for (let i = 0; i < 10; i++) last = (await C.groupEncrypt(ALICE, DIST, sender, Uint8Array.of(i))).serialize();
    await C.groupDecrypt(ALICE, store, last);
    return (await store.getSenderKey(ALICE, DIST))!;
  }

  it('should round-trip every state, key and kept seed byte for byte', async () => {
    const r = await busyRecord();
    expect(r._states().length).toBe(5);
    expect(r._states()[0]!.messageKeys.map((k) => k.iteration)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r._states().filter((s) => s.signingPrivateKey !== null).length).toBe(1);
    const again = C.SenderKeyRecord.deserialize(r.serialize());
    expect(again.serialize()).toEqual(r.serialize());
    expect(C.SenderKeyRecord.deserialize(C.SenderKeyRecord._empty().serialize())._states()).toEqual([]);
  });

  it('should refuse every defect as InvalidRecord', async () => {
    const good = (await busyRecord()).serialize();
    const set = (at: number, v: number): Uint8Array => {
      const b = good.slice();
      b[at] = v;
      return b;
    };
    // Offsets inside the first state: 2 version, 3..7 chain id, 7..11 iteration, 11..43 chain key, 43..76 public
    // key, 76 private flag.
    const cases: Record<string, Uint8Array> = {
      empty: new Uint8Array(),
      'format version': set(0, 2),
      'six states': set(1, 6),
      'message version': set(2, 2),
      'key type': set(43, 6),
      'private flag': set(76, 2),
      truncated: good.subarray(0, good.length - 1),
      'trailing byte': Uint8Array.of(...good, 0),
    };
    for (const [name, bytes] of Object.entries(cases)) {
      const code = await codeOf(() => C.SenderKeyRecord.deserialize(bytes));
      if (code !== E.InvalidRecord) throw new Error(`${name}: ${code === null ? 'accepted' : E[code]}`);
    }
    // A private key that does not match the public key: our own state is the oldest, last in the encoding.
    expect(
      C.SenderKeyRecord.deserialize(good)
        ._states()
        .findIndex((s) => s.signingPrivateKey !== null),
    ).toBe(4);
    const wrongPair = good.slice();
    wrongPair[wrongPair.length - 3]! ^= 1; // inside the last state's private key (it keeps no seeds)
    expect(await codeOf(() => C.SenderKeyRecord.deserialize(wrongPair))).toBe(E.InvalidRecord);
    expect(await codeOf(() => C.SenderKeyRecord.deserialize('x' as unknown as Uint8Array))).toBe(E.InvalidArgument);
  });
});
