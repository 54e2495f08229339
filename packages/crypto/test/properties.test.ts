import { beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import * as C from '../src/index.js';
import { Peer, UUIDS, bytesMessage } from './support/session-fixture.js';
import { hex, seededRng } from './support/seeded-rng.js';

await C.ready();
beforeAll(async () => {
  await C.ready();
});

const rng = seededRng('properties');
const keys = Array.from({ length: 4 }, () => C.PrivateKey.generate(rng));
const key = fc.constantFrom(...keys.map((k) => k.getPublicKey()));
const u32 = fc.integer({ min: 0, max: 0xffffffff });

describe('encode/decode round trips', () => {
  it('SignalMessage', () => {
    fc.assert(
      fc.property(
        key,
        u32,
        u32,
        fc.uint8Array({ minLength: 0, maxLength: 200 }),
        fc.uint8Array({ minLength: 1, maxLength: 120 }),
        fc.option(fc.uint8Array({ minLength: 36, maxLength: 36 })),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (ratchet, counter, prev, body, pq, addresses, macKey) => {
          const m = C.SignalMessage._new(
            4,
            macKey,
            ratchet,
            counter,
            prev,
            body,
            keys[0]!.getPublicKey(),
            keys[1]!.getPublicKey(),
            pq,
            addresses,
          );
          const back = C.SignalMessage.deserialize(m.serialize());
          expect(back.counter()).toBe(counter);
          expect(back.parsed.previousCounter).toBe(prev);
          expect(hex(back.body())).toBe(hex(body));
          expect(hex(back.pqRatchet())).toBe(hex(pq));
          expect(back.parsed.addresses ? hex(back.parsed.addresses) : null).toBe(addresses ? hex(addresses) : null);
          expect(back.parsed.senderRatchetKey.equals(ratchet)).toBe(true);
          expect(back.verifyMac(keys[0]!.getPublicKey(), keys[1]!.getPublicKey(), macKey)).toBe(true);
          expect(hex(back.serialize())).toBe(hex(m.serialize()));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('PreKeySignalMessage', () => {
    const kyberCt = Uint8Array.of(0x08, ...new Uint8Array(1568).fill(3));
    fc.assert(
      fc.property(
        fc.option(u32),
        u32,
        u32,
        u32,
        key,
        key,
        fc.integer({ min: 0, max: 0x3fff }),
        (preKeyId, spk, kyberId, counter, base, identity, reg) => {
          const inner = C.SignalMessage._new(
            4,
            new Uint8Array(32),
            base,
            counter,
            0,
            new Uint8Array(16),
            identity,
            base,
            Uint8Array.of(1, 1, 0, 0),
          );
          const m = C.PreKeySignalMessage._create({
            registrationId: reg,
            preKeyId,
            signedPreKeyId: spk,
            kyberPreKeyId: kyberId,
            kyberCiphertext: kyberCt,
            baseKey: base,
            identityKey: identity,
            message: inner,
          });
          const back = C.PreKeySignalMessage.deserialize(m.serialize());
          expect([back.preKeyId(), back.signedPreKeyId(), back.registrationId(), back.version()]).toEqual([
            preKeyId,
            spk,
            reg,
            4,
          ]);
          expect(back.parsed.kyberPreKeyId).toBe(kyberId);
          expect(back.parsed.baseKey.equals(base)).toBe(true);
          expect(back.parsed.identityKey.equals(identity)).toBe(true);
          expect(hex(back.parsed.message.serialize())).toBe(hex(inner.serialize()));
          expect(hex(back.serialize())).toBe(hex(m.serialize()));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('prekey records', () => {
    fc.assert(
      fc.property(
        u32,
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.uint8Array({ maxLength: 64 }),
        (id, ts, sig) => {
          const k = keys[id % keys.length]!;
          const p = C.PreKeyRecord.deserialize(C.PreKeyRecord.new(id, k.getPublicKey(), k).serialize());
          expect(p.id()).toBe(id);
          const s = C.SignedPreKeyRecord.deserialize(
            C.SignedPreKeyRecord.new(id, ts, k.getPublicKey(), k, sig).serialize(),
          );
          expect([s.id(), s.timestamp(), hex(s.signature())]).toEqual([id, ts, hex(sig)]);
          expect(hex(s.privateKey().serialize())).toBe(hex(k.serialize()));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('parsers never throw anything but SignalClientError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        for (const parse of [
          () => C.SignalMessage.deserialize(bytes),
          () => C.PreKeySignalMessage.deserialize(bytes),
          () => C.SessionRecord.deserialize(bytes),
          () => C.PreKeyRecord.deserialize(bytes),
          () => C.SignedPreKeyRecord.deserialize(bytes),
          () => C.KyberPreKeyRecord.deserialize(bytes),
          () => C.PublicKey.deserialize(bytes),
        ]) {
          try {
            parse();
          } catch (e) {
            expect(e).toBeInstanceOf(C.SignalClientError);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

/** What a single flipped bit in a Whisper message may be refused as: a parse, version or MAC failure. */
const WHISPER_TAMPERING = [
  C.ErrorCode.InvalidMessage,
  C.ErrorCode.LegacyCiphertextVersion,
  C.ErrorCode.UnrecognizedCiphertextVersion,
];
/** The same for a PreKey message, whose flipped prekey ids may also name prekeys that do not exist. */
const PREKEY_TAMPERING = [...WHISPER_TAMPERING, C.ErrorCode.InvalidPreKeyId];

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => new Error('the tampered message was accepted'),
    (e: unknown) => e,
  );
}

/** The package's typed error, with one of the codes the tampering may cause: not merely "throws". */
function expectRejection(error: unknown, codes: readonly C.ErrorCode[]): void {
  expect(error).toBeInstanceOf(C.SignalClientError);
  expect(codes).toContain((error as C.SignalClientError).code);
}

describe('tampering', () => {
  it('rejects every single-bit flip of a Whisper message with a typed error, changes no store, and the original still decrypts', async () => {
    const alice = new Peer(UUIDS[0]);
    const bob = new Peer(UUIDS[1]);
    await C.processPreKeyBundle(await bob.bundle(), bob.address, alice.address, alice.sessions, alice.identities);
    await bob.decrypt(alice, await alice.encrypt(bob, 'setup'));
    await alice.decrypt(bob, await bob.encrypt(alice, 'ack'));
    const m = await alice.encrypt(bob, 'the target message');
    const bytes = m.serialize();
    const before = await bob.snapshotAll([alice]);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: bytes.length * 8 - 1 }), async (bit) => {
        const t = bytes.slice();
        t[bit >> 3]! ^= 1 << (bit & 7);
        expectRejection(await rejection(bob.decrypt(alice, bytesMessage(2, t))), WHISPER_TAMPERING);
        expect(await bob.snapshotAll([alice])).toBe(before);
      }),
      { numRuns: 250 },
    );
    expect(await bob.decrypt(alice, m)).toBe('the target message');
  });

  it('rejects every single-bit flip of the authenticated parts of a PreKey message with a typed error, changing no store', async () => {
    const alice = new Peer(UUIDS[0]);
    const bob = new Peer(UUIDS[1]);
    await C.processPreKeyBundle(await bob.bundle(), bob.address, alice.address, alice.sessions, alice.identities);
    const m = await alice.encrypt(bob, 'prekey target');
    const bytes = m.serialize();
    const parsed = C.PreKeySignalMessage.deserialize(bytes);
    // The registration id (field 5) is not authenticated, in libsignal either: skip its tag and value bytes.
    const inner = parsed.parsed.message.serialize();
    let innerAt = 0;
    for (let i = 0; i + inner.length <= bytes.length; i++) {
      if (bytes[i] === inner[0] && hex(bytes.subarray(i, i + inner.length)) === hex(inner)) {
        innerAt = i;
        break;
      }
    }
    const regAt = innerAt + inner.length; // field 5 follows field 4 (the inner message)
    const before = await bob.snapshotAll([alice]);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: bytes.length * 8 - 1 }), async (bit) => {
        const byte = bit >> 3;
        fc.pre(!(byte >= regAt && byte < regAt + 3));
        fc.pre(byte !== 0 || (bit & 7) >= 4); // the low nibble of the version byte is ignored, as in libsignal
        const t = bytes.slice();
        t[byte]! ^= 1 << (bit & 7);
        expectRejection(await rejection(bob.decrypt(alice, bytesMessage(3, t))), PREKEY_TAMPERING);
        expect(await bob.snapshotAll([alice])).toBe(before);
      }),
      { numRuns: 120 },
    );
    expect(await bob.decrypt(alice, m)).toBe('prekey target');
  });
});
