/**
 * Forged PreKey envelopes (issue 9, crypto finding 1), in all four pairings sender → receiver: the receiver must
 * refuse each forgery exactly as libsignal-client does (same message), leave every store byte-identical, and the
 * genuine messages must still decrypt afterwards. libsignal refusing the same bytes in its own pairings proves the
 * forgeries are well formed and that the refusal is the protocol's, not a parse error.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';

import { type Impl, type Msg, Party, type ProtoField, readProtoFields, writeProtoFields } from './harness.js';

const impls: Record<'ours' | 'libsignal', Impl> = {
  ours: await import('../../src/index.js'),
  libsignal: (await import('@signalapp/libsignal-client')) as unknown as Impl,
};

beforeAll(async () => {
  await impls.ours.ready();
});

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** PreKeySignalMessage field numbers (facts §3). */
const F = { preKeyId: 1, baseKey: 2, identityKey: 3, message: 4, registrationId: 5, signedPreKeyId: 6, kyberId: 7 };
/** Kyber1024 ciphertext with its 0x08 type byte. */
const KYBER_CIPHERTEXT_BYTES = 1 + 1568;

/** The code an implementation reports an invalid message with: ours has its own, libsignal says Generic. */
function invalidMessageCode(impl: Impl): number {
  const codes = impl.ErrorCode as unknown as Record<string, number | undefined>;
  return codes.InvalidMessage ?? impl.ErrorCode.Generic;
}

async function rejection(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  // Not `toBeInstanceOf`: libsignal's errors come from the Jest realm that first loaded its native module.
  expect(err).not.toBeNull();
  return err as { code: number; message: string };
}

async function chat(a: Party, b: Party, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const m = await a.encrypt(b, text(`a${i}`));
    expect(str(await b.decrypt(a, m))).toBe(`a${i}`);
    const r = await b.encrypt(a, text(`b${i}`));
    expect(str(await a.decrypt(b, r))).toBe(`b${i}`);
  }
}

/** Replaces the value of field `no` (every occurrence) in a PreKeySignalMessage. */
function withField(bytes: Uint8Array, no: number, value: Uint8Array): Uint8Array {
  const { version, fields } = readProtoFields(bytes);
  let found = false;
  const out = fields.map((f): ProtoField => {
    if (f.no !== no) return f;
    found = true;
    return { no, value };
  });
  expect(found).toBe(true);
  return writeProtoFields(version, out);
}

const pairs: ['ours' | 'libsignal', 'ours' | 'libsignal'][] = [
  ['ours', 'ours'],
  ['libsignal', 'ours'],
  ['ours', 'libsignal'],
  ['libsignal', 'libsignal'],
];

describe.each(pairs)('forged PreKey envelopes, %s → %s', (aName, bName) => {
  const A = impls[aName];
  const B = impls[bName];

  it('refuses a delayed Whisper message wrapped in a PreKey envelope with a random base key and Kyber ciphertext, changing no store', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    const first = await bob.newBundle(true);
    const spare = await bob.newBundle(true); // its one-time prekey is still unused: the forgery names it
    await alice.processBundle(bob, first);
    expect(str(await bob.decrypt(alice, await alice.encrypt(bob, text('hello'))))).toBe('hello');
    await chat(bob, alice, 1);
    const delayed = await alice.encrypt(bob, text('delayed'));
    expect(delayed.type).toBe(2);
    expect(bob.stores.preKeys.data.has(spare.preKeyId!)).toBe(true);

    const kyberCiphertext = new Uint8Array(KYBER_CIPHERTEXT_BYTES);
    globalThis.crypto.getRandomValues(kyberCiphertext);
    kyberCiphertext[0] = 0x08;
    const envelope = (ids: { preKeyId: number | null; signedPreKeyId: number; kyberId: number }): Msg => {
      const fields: ProtoField[] = [];
      if (ids.preKeyId !== null) fields.push({ no: F.preKeyId, value: ids.preKeyId });
      fields.push(
        { no: F.baseKey, value: A.PrivateKey.generate().getPublicKey().serialize() },
        { no: F.identityKey, value: alice.identity.publicKey.serialize() },
        { no: F.message, value: delayed.bytes },
        { no: F.registrationId, value: alice.registrationId },
        { no: F.signedPreKeyId, value: ids.signedPreKeyId },
        { no: F.kyberId, value: ids.kyberId },
        { no: 8, value: kyberCiphertext },
      );
      return { type: 3, bytes: writeProtoFields(0x44, fields) };
    };
    const forgeries = [
      envelope({ preKeyId: spare.preKeyId, signedPreKeyId: spare.signedPreKeyId, kyberId: spare.kyberPreKeyId }),
      envelope({ preKeyId: null, signedPreKeyId: first.signedPreKeyId, kyberId: first.kyberPreKeyId }),
    ];

    const before = bob.snapshot();
    for (const forged of forgeries) {
      const err = await rejection(bob.decrypt(alice, forged));
      expect(err.code).toBe(invalidMessageCode(B));
      expect(err.message).toBe('invalid PreKey message: decryption failed');
      expect(bob.snapshot()).toBe(before);
    }
    expect(bob.stores.preKeys.data.has(spare.preKeyId!)).toBe(true);
    expect(bob.stores.kyberPreKeys.used.size).toBe(1);

    expect(str(await bob.decrypt(alice, delayed))).toBe('delayed');
    await chat(alice, bob, 2);
  });

  it('refuses a PreKey message whose identity was swapped for an attacker’s, saves nothing under a trust-on-receive store, and so refuses the attacker’s bundle later', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    const mallory = new Party(B, 'mallory');
    bob.stores.identities.trustOnReceive = true;
    const swap = (m: Msg): Msg => ({
      type: 3,
      bytes: withField(m.bytes, F.identityKey, mallory.identity.publicKey.serialize()),
    });
    const aliceAtBob = bob.addressOf(alice).toString();
    const savedAtBob = (): string => hex(bob.stores.identities.known.get(aliceAtBob)!.serialize());

    await alice.processBundle(bob, await bob.newBundle(true));
    const m1 = await alice.encrypt(bob, text('first'));
    const m2 = await alice.encrypt(bob, text('second'));
    expect([m1.type, m2.type]).toEqual([3, 3]);

    // Before Bob has any session: a new session under the attacker's identity fails its MAC.
    let before = bob.snapshot();
    let err = await rejection(bob.decrypt(alice, swap(m1)));
    expect(err.code).toBe(invalidMessageCode(B));
    expect(err.message).toBe('invalid PreKey message: decryption failed');
    expect(bob.snapshot()).toBe(before);
    expect(bob.stores.identities.known.has(aliceAtBob)).toBe(false);

    expect(str(await bob.decrypt(alice, m1))).toBe('first');
    expect(savedAtBob()).toBe(hex(alice.identity.publicKey.serialize()));

    // A session with this base key exists: the message's identity must be that session's. m2 is not yet
    // delivered; m1 already was (the identity check comes before duplicate detection, as in libsignal).
    before = bob.snapshot();
    for (const target of [m2, m1]) {
      err = await rejection(bob.decrypt(alice, swap(target)));
      expect(err.code).toBe(invalidMessageCode(B));
      expect(err.message).toBe(
        'invalid PreKey message: remote identity key not consistent with previously-established session',
      );
      expect(bob.snapshot()).toBe(before);
      expect(savedAtBob()).toBe(hex(alice.identity.publicKey.serialize()));
    }

    expect(str(await bob.decrypt(alice, m2))).toBe('second');
    await chat(bob, alice, 1);

    // The attacker now serves Bob a bundle for Alice's address, signed with its own identity key: refused.
    before = bob.snapshot();
    err = await rejection(bob.processBundle(alice, await mallory.newBundle(true)));
    expect(err.code).toBe(B.ErrorCode.UntrustedIdentity);
    expect(bob.snapshot()).toBe(before);
    await chat(alice, bob, 2);
  });
});
