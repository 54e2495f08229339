/**
 * Fuzzing (fast-check) of every sealed-sender decoder: server and sender certificates, the sealed content (USMC),
 * the v2 sent form (the server's parser and its single-recipient extraction), and whole v1 and v2 envelopes opened
 * with `sealedSenderDecryptToUsmc` and `sealedSenderDecryptMessage`. Inputs are arbitrary bytes and mutations of
 * valid encodings. Every failure must be a SignalClientError with a documented code, and a refused envelope must
 * leave every store byte-identical. Nothing here measures time.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import * as C from '../../src/index.js';
import { type Impl, Party } from '../interop/harness.js';

await C.ready();
beforeAll(async () => {
  await C.ready();
});

const E = C.ErrorCode;
const RUNS = 300;
const ENVELOPE_RUNS = 300;
const FUZZ_TIMEOUT_MS = 120_000;
const NOW = 1_780_000_000_000;
const impl: Impl = C;

function expectTyped(error: unknown, codes: readonly C.ErrorCode[]): void {
  if (!(error instanceof C.SignalClientError)) throw new Error(`not a SignalClientError: ${String(error)}`);
  if (!codes.includes(error.code)) throw new Error(`unexpected code ${E[error.code]}: ${error.message}`);
}

/** A valid encoding with one mutation: a bit flip, a byte write, a truncation, a deletion or an insertion. */
function mutated(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  const at = fc.nat({ max: Math.max(0, valid.length - 1) });
  return fc.oneof(
    fc.tuple(at, fc.nat({ max: 7 })).map(([i, bit]) => {
      const b = valid.slice();
      b[i] = (b[i] as number) ^ (1 << bit);
      return b;
    }),
    fc.tuple(at, fc.constantFrom(0x00, 0x01, 0x05, 0x22, 0x23, 0x7f, 0x80, 0xff)).map(([i, v]) => {
      const b = valid.slice();
      b[i] = v;
      return b;
    }),
    at.map((i) => valid.slice(0, i)),
    fc
      .tuple(at, fc.integer({ min: 1, max: 40 }))
      .map(([i, n]) => Uint8Array.of(...valid.subarray(0, i), ...valid.subarray(i + n))),
    fc
      .tuple(at, fc.uint8Array({ minLength: 1, maxLength: 20 }))
      .map(([i, ins]) => Uint8Array.of(...valid.subarray(0, i), ...ins, ...valid.subarray(i))),
  );
}

function inputs(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(fc.uint8Array({ maxLength: 300 }), mutated(valid));
}

/** A world: a server, Alice (sender) and Bob (receiver) with a session, and one valid sample of each encoding. */
async function world() {
  const trustRoot = C.PrivateKey.generate();
  const serverKey = C.PrivateKey.generate();
  const serverCert = C.ServerCertificate.new(7, serverKey.getPublicKey(), trustRoot);
  const alice = new Party(impl, 'alice');
  const bob = new Party(impl, 'bob', 2);
  await alice.processBundle(bob, await bob.newBundle(true));
  const cert = C.SenderCertificate.new(
    alice.name,
    '+15550001111',
    1,
    alice.identity.publicKey,
    NOW + 1000,
    serverCert,
    serverKey,
  );
  const inner = await C.signalEncrypt(
    new Uint8Array(20),
    alice.addressOf(bob),
    alice.address,
    alice.stores.sessions,
    alice.stores.identities,
  );
  const usmc = C.UnidentifiedSenderMessageContent.new(inner, cert, C.ContentHint.Resendable, Uint8Array.of(9, 9));
  const v1 = await C.sealedSenderEncrypt(usmc, alice.addressOf(bob), alice.stores.identities);
  const sent = await C.sealedSenderMultiRecipientEncrypt(
    usmc,
    [alice.addressOf(bob)],
    alice.stores.identities,
    alice.stores.sessions,
  );
  const v2 = C.sealedSenderMultiRecipientMessageForSingleRecipient(sent);
  return { trustRoot, serverCert, cert, usmc, v1, sent, v2, alice, bob };
}
const w = await world();

describe('sealed sender decoders fail only with typed errors', () => {
  it('ServerCertificate, SenderCertificate and UnidentifiedSenderMessageContent', () => {
    for (const [name, valid, decode] of [
      ['server certificate', w.serverCert.serialize(), (b: Uint8Array) => C.ServerCertificate.deserialize(b)],
      ['sender certificate', w.cert.serialize(), (b: Uint8Array) => C.SenderCertificate.deserialize(b)],
      ['content', w.usmc.serialize(), (b: Uint8Array) => C.UnidentifiedSenderMessageContent.deserialize(b)],
    ] as const) {
      fc.assert(
        fc.property(inputs(valid), (bytes) => {
          try {
            const v = decode(bytes);
            // A decoded value re-encodes to the bytes it came from.
            expect(Buffer.from(v.serialize()).equals(Buffer.from(bytes))).toBe(true);
          } catch (e) {
            expectTyped(e, [E.InvalidMessage]);
          }
        }),
        { numRuns: RUNS },
      );
      expect(name).toBeTruthy();
    }
    // A decoded sender certificate never validates when its bytes were changed (signatures cover them).
    fc.assert(
      fc.property(mutated(w.cert.serialize()), (bytes) => {
        let cert: C.SenderCertificate;
        try {
          cert = C.SenderCertificate.deserialize(bytes);
        } catch (e) {
          expectTyped(e, [E.InvalidMessage]);
          return;
        }
        const same = Buffer.from(cert.certificate()).equals(Buffer.from(w.cert.certificate()));
        const sameSig = Buffer.from(cert.signature()).equals(Buffer.from(w.cert.signature()));
        if (!same || !sameSig) expect(cert.validate(w.trustRoot.getPublicKey(), NOW)).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('the v2 sent form: the server parser and the single-recipient extraction', () => {
    fc.assert(
      fc.property(inputs(w.sent), (bytes) => {
        try {
          const m = new C.SealedSenderMultiRecipientMessage(bytes);
          for (const r of Object.values(m.recipientsByServiceIdString()))
            expect(m.messageForRecipient(r)[0]).toBe(0x22);
        } catch (e) {
          expectTyped(e, [E.InvalidMessage]);
        }
        try {
          C.sealedSenderMultiRecipientMessageForSingleRecipient(bytes);
        } catch (e) {
          expectTyped(e, [E.InvalidMessage]);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it(
    'whole envelopes (v1 and v2): typed errors only, and no store written on any refusal',
    async () => {
      const stores = w.bob.stores;
      const codes = [
        E.InvalidMessage,
        E.UnrecognizedCiphertextVersion,
        E.LegacyCiphertextVersion,
        E.InvalidPreKeyId,
        E.InvalidKeyAgreement,
        E.UntrustedIdentity,
        E.SessionNotFound,
        E.DuplicatedMessage,
        E.SealedSenderSelfSend,
      ];
      let before = w.bob.snapshot();
      await fc.assert(
        fc.asyncProperty(fc.oneof(inputs(w.v1), inputs(w.v2)), async (bytes) => {
          try {
            await C.sealedSenderDecryptToUsmc(bytes, stores.identities);
          } catch (e) {
            expectTyped(e, [E.InvalidMessage, E.UnrecognizedCiphertextVersion]);
          }
          try {
            await C.sealedSenderDecryptMessage(
              bytes,
              w.trustRoot.getPublicKey(),
              NOW,
              null,
              w.bob.name,
              w.bob.deviceId,
              stores.sessions,
              stores.identities,
              stores.preKeys,
              stores.signedPreKeys,
              stores.kyberPreKeys,
            );
            // Only a mutation the envelope's authentication ignores can decrypt.
            throw new Error(`a mutated envelope decrypted: ${Buffer.from(bytes).toString('hex').slice(0, 16)}`);
          } catch (e) {
            if (e instanceof Error && e.message.startsWith('a mutated envelope decrypted')) {
              const v1Same = bytes.length === w.v1.length && bytes.subarray(1).every((b, i) => b === w.v1[i + 1]);
              const v2Same = bytes.length === w.v2.length && bytes.subarray(1).every((b, i) => b === w.v2[i + 1]);
              // The version byte's low nibble is not checked (as in libsignal); anything else must be refused.
              if (!v1Same && !v2Same) throw e;
              before = w.bob.snapshot();
              return;
            }
            expectTyped(e, codes);
          }
          expect(w.bob.snapshot()).toBe(before);
        }),
        { numRuns: ENVELOPE_RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
