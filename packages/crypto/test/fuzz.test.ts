/**
 * Fuzzing (fast-check) of every decoder and boundary of the package (issue 9, crypto fuzzing): SignalMessage,
 * PreKeySignalMessage, public/private/identity/KEM keys, the three prekey records, SessionRecord, scannable
 * fingerprints, bundles, addresses, fingerprint and HKDF arguments. Inputs are arbitrary bytes and mutations of
 * valid encodings (bit flips, byte writes, truncation, deletion, insertion, duplicated ranges, huge varints).
 * Every failure must be a SignalClientError with a code the boundary documents; decoded values must re-encode
 * stably; and fuzzed envelopes and bundles fed to the session functions must leave every store unchanged.
 * A hang would show as the test's timeout; nothing here measures time.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import * as C from '../src/index.js';
import { readProtoFields, writeProtoFields } from './interop/harness.js';
import { Peer, UUIDS, bytesMessage } from './support/session-fixture.js';

await C.ready();
beforeAll(async () => {
  await C.ready();
});

const E = C.ErrorCode;
/** What a malformed 1:1 message may fail with. */
const MESSAGE_ERRORS = [E.InvalidMessage, E.LegacyCiphertextVersion, E.UnrecognizedCiphertextVersion];
/** What decrypting a fuzzed envelope may fail with (parsing, trust, prekeys, key agreement, ratchet). */
const DECRYPT_ERRORS = [
  ...MESSAGE_ERRORS,
  E.DuplicatedMessage,
  E.InvalidPreKeyId,
  E.InvalidKeyAgreement,
  E.UntrustedIdentity,
  E.SessionNotFound,
];
/** What processing a fuzzed bundle may fail with. */
const BUNDLE_ERRORS = [E.InvalidSignature, E.InvalidKey, E.InvalidKeyAgreement, E.UntrustedIdentity];
/** Per property: enough to reach deep into each decoder, few enough for a shared 2-core machine. */
const RUNS = 300;
const SESSION_RUNS = 150;
const FUZZ_TIMEOUT_MS = 120_000;

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

function outcome<T>(fn: () => T): Outcome<T> {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

async function outcomeAsync<T>(fn: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The error must be the package's typed error with one of `codes`; anything else fails with the culprit. */
function expectTyped(error: unknown, codes: readonly C.ErrorCode[]): void {
  if (!(error instanceof C.SignalClientError)) throw new Error(`not a SignalClientError: ${String(error)}`);
  if (!codes.includes(error.code)) throw new Error(`unexpected code ${E[error.code]}: ${error.message}`);
}

// ----- mutations of valid encodings -----

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'duplicate'; at: number; length: number }
  | { kind: 'hugeVarint'; at: number };

/** Byte values that sit on encoding boundaries (varint continuation, type bytes, signs). */
const edgeByte = fc.oneof(
  fc.constantFrom(0x00, 0x01, 0x05, 0x08, 0x44, 0x7f, 0x80, 0xff),
  fc.integer({ min: 0, max: 255 }),
);
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: edgeByte }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 80 }) }),
  fc.record({ kind: fc.constant('hugeVarint' as const), at: fc.nat() }),
);
const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });

function mutate(input: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = input.slice();
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    const at0 = b.length === 0 ? 0 : m.at % b.length;
    switch (m.kind) {
      case 'flip':
        if (b.length > 0) b[at0]! ^= 1 << m.bit;
        break;
      case 'set':
        if (b.length > 0) b[at0] = m.value;
        break;
      case 'truncate':
        b = b.slice(0, at);
        break;
      case 'delete':
        b = Uint8Array.of(...b.subarray(0, at), ...b.subarray(at + m.length));
        break;
      case 'insert':
        b = Uint8Array.of(...b.subarray(0, at), ...m.bytes, ...b.subarray(at));
        break;
      case 'duplicate':
        b = Uint8Array.of(...b.subarray(0, at), ...b.subarray(at, at + m.length), ...b.subarray(at));
        break;
      case 'hugeVarint': // a length or count of 2^32 − 1
        b = Uint8Array.of(...b.subarray(0, at), 0xff, 0xff, 0xff, 0xff, 0x0f, ...b.subarray(at));
        break;
    }
  }
  return b;
}

/**
 * A mutation inside one protobuf field of a 1:1 message that keeps the framing valid, so that the input gets past
 * the parser into key agreement, the ratchet and the MAC: a varint is replaced, a byte string mutated (the inner
 * SignalMessage of a PreKey message recursively, with its MAC kept).
 */
interface FramedMutation {
  field: number;
  innerField: number;
  number: number;
  ms: Mutation[];
}
const framedMutation: fc.Arbitrary<FramedMutation> = fc.record({
  field: fc.nat(),
  innerField: fc.nat(),
  number: fc.oneof(fc.constantFrom(0, 1, 2, 3, 0x7fff_ffff, 0xffff_ffff), fc.nat()),
  ms: mutations,
});

function mutateFramed(bytes: Uint8Array, f: FramedMutation, hasMac: boolean): Uint8Array {
  const macLength = hasMac ? 8 : 0;
  const { version, fields } = readProtoFields(bytes.subarray(0, bytes.length - macLength));
  const i = f.field % fields.length;
  const target = fields[i]!;
  let value: number | Uint8Array;
  if (typeof target.value === 'number') value = f.number;
  else if (!hasMac && target.no === 4) value = mutateFramed(target.value, { ...f, field: f.innerField }, true);
  else value = mutate(target.value, f.ms);
  fields[i] = { no: target.no, value };
  return Uint8Array.of(...writeProtoFields(version, fields), ...bytes.subarray(bytes.length - macLength));
}

/** Raw or framed mutations of a 1:1 message (`hasMac`: a SignalMessage; otherwise a PreKeySignalMessage). */
const messageMutation = fc.oneof(
  mutations.map(
    (ms) =>
      (b: Uint8Array, _hasMac: boolean): Uint8Array =>
        mutate(b, ms),
  ),
  framedMutation.map(
    (f) =>
      (b: Uint8Array, hasMac: boolean): Uint8Array =>
        mutateFramed(b, f, hasMac),
  ),
);

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Arbitrary bytes, half of them starting with a plausible first byte so parsers get past their first check. */
const anyBytes = fc.oneof(
  fc.uint8Array({ maxLength: 400 }),
  fc
    .tuple(fc.constantFrom(0x01, 0x05, 0x08, 0x0a, 0x33, 0x44, 0x34, 0x24, 0x54), fc.uint8Array({ maxLength: 400 }))
    .map(([first, rest]) => Uint8Array.of(first, ...rest)),
);

// ----- valid encodings to start from -----

interface Fixture {
  whisper: Uint8Array;
  preKey: Uint8Array;
  publicKey: Uint8Array;
  privateKey: Uint8Array;
  identityKeyPair: Uint8Array;
  kemPublicKey: Uint8Array;
  kemSecretKey: Uint8Array;
  preKeyRecord: Uint8Array;
  signedPreKeyRecord: Uint8Array;
  kyberPreKeyRecord: Uint8Array;
  sessionRecord: Uint8Array;
  scannable: C.ScannableFingerprint;
}

async function buildFixture(): Promise<Fixture> {
  const alice = new Peer(UUIDS[0]);
  const bob = new Peer(UUIDS[1]);
  await C.processPreKeyBundle(await bob.bundle(), bob.address, alice.address, alice.sessions, alice.identities);
  const preKey = await alice.encrypt(bob, 'first');
  await bob.decrypt(alice, preKey);
  await alice.decrypt(bob, await bob.encrypt(alice, 'reply'));
  await alice.encrypt(bob, 'lost'); // leaves a skipped seed in Bob's record
  const whisper = await alice.encrypt(bob, 'second');
  await bob.decrypt(alice, whisper);
  const k = C.PrivateKey.generate();
  const kem = C.KEMKeyPair.generate();
  const id = C.IdentityKeyPair.generate();
  const sig = id.privateKey.sign(k.getPublicKey().serialize());
  return {
    whisper: whisper.serialize(),
    preKey: preKey.serialize(),
    publicKey: k.getPublicKey().serialize(),
    privateKey: k.serialize(),
    identityKeyPair: id.serialize(),
    kemPublicKey: kem.getPublicKey().serialize(),
    kemSecretKey: kem.getSecretKey().serialize(),
    preKeyRecord: C.PreKeyRecord.new(3, k.getPublicKey(), k).serialize(),
    signedPreKeyRecord: C.SignedPreKeyRecord.new(4, 1_764_000_000_000, k.getPublicKey(), k, sig).serialize(),
    kyberPreKeyRecord: C.KyberPreKeyRecord.new(5, 1_764_000_000_000, kem, sig).serialize(),
    sessionRecord: (await bob.sessions.getSession(alice.address))!.serialize(),
    scannable: C.Fingerprint.new(
      5,
      2,
      Uint8Array.of(1),
      alice.identity.publicKey,
      Uint8Array.of(2),
      bob.identity.publicKey,
    ).scannableFingerprint(),
  };
}

let fx: Fixture;
beforeAll(async () => {
  fx = await buildFixture();
});

/** A decoder, the codes it may fail with, the valid encoding to mutate, and its re-encoder (if any). */
interface Decoder {
  name: string;
  decode: (b: Uint8Array) => unknown;
  codes: readonly C.ErrorCode[];
  valid: () => Uint8Array;
  reencode?: (decoded: unknown, bytes: Uint8Array) => Uint8Array;
  decodeAgain?: (b: Uint8Array) => { serialize(): Uint8Array };
}

const serializeOf = (d: unknown): Uint8Array => (d as { serialize(): Uint8Array }).serialize();

const decoders: Decoder[] = [
  {
    name: 'SignalMessage.deserialize',
    decode: (b) => C.SignalMessage.deserialize(b),
    codes: MESSAGE_ERRORS,
    valid: () => fx.whisper,
  },
  {
    name: 'PreKeySignalMessage.deserialize',
    decode: (b) => C.PreKeySignalMessage.deserialize(b),
    codes: MESSAGE_ERRORS,
    valid: () => fx.preKey,
  },
  {
    name: 'PublicKey.deserialize',
    decode: (b) => C.PublicKey.deserialize(b),
    codes: [E.InvalidKey],
    valid: () => fx.publicKey,
    reencode: serializeOf,
    decodeAgain: (b) => C.PublicKey.deserialize(b),
  },
  {
    name: 'PrivateKey.deserialize',
    decode: (b) => C.PrivateKey.deserialize(b),
    codes: [E.InvalidKey],
    valid: () => fx.privateKey,
    reencode: serializeOf,
    decodeAgain: (b) => C.PrivateKey.deserialize(b),
  },
  {
    name: 'IdentityKeyPair.deserialize',
    decode: (b) => C.IdentityKeyPair.deserialize(b),
    codes: [E.InvalidKey],
    valid: () => fx.identityKeyPair,
    reencode: serializeOf,
    decodeAgain: (b) => C.IdentityKeyPair.deserialize(b),
  },
  {
    name: 'KEMPublicKey.deserialize',
    decode: (b) => C.KEMPublicKey.deserialize(b),
    codes: [E.InvalidKey],
    valid: () => fx.kemPublicKey,
    reencode: serializeOf,
    decodeAgain: (b) => C.KEMPublicKey.deserialize(b),
  },
  {
    name: 'KEMSecretKey.deserialize',
    decode: (b) => C.KEMSecretKey.deserialize(b),
    codes: [E.InvalidKey],
    valid: () => fx.kemSecretKey,
    reencode: serializeOf,
    decodeAgain: (b) => C.KEMSecretKey.deserialize(b),
  },
  {
    name: 'PreKeyRecord.deserialize',
    decode: (b) => C.PreKeyRecord.deserialize(b),
    codes: [E.InvalidRecord],
    valid: () => fx.preKeyRecord,
    reencode: serializeOf,
    decodeAgain: (b) => C.PreKeyRecord.deserialize(b),
  },
  {
    name: 'SignedPreKeyRecord.deserialize',
    decode: (b) => C.SignedPreKeyRecord.deserialize(b),
    codes: [E.InvalidRecord],
    valid: () => fx.signedPreKeyRecord,
    reencode: serializeOf,
    decodeAgain: (b) => C.SignedPreKeyRecord.deserialize(b),
  },
  {
    name: 'KyberPreKeyRecord.deserialize',
    decode: (b) => C.KyberPreKeyRecord.deserialize(b),
    codes: [E.InvalidRecord],
    valid: () => fx.kyberPreKeyRecord,
    reencode: serializeOf,
    decodeAgain: (b) => C.KyberPreKeyRecord.deserialize(b),
  },
  {
    name: 'SessionRecord.deserialize',
    decode: (b) => C.SessionRecord.deserialize(b),
    codes: [E.InvalidRecord],
    valid: () => fx.sessionRecord,
    reencode: serializeOf,
    decodeAgain: (b) => C.SessionRecord.deserialize(b),
  },
  {
    name: 'ScannableFingerprint (theirs) compare',
    decode: (b) => fx.scannable.compare(C.ScannableFingerprint._fromBuffer(b)),
    codes: [E.InvalidArgument, E.FingerprintVersionMismatch],
    valid: () => fx.scannable.toBuffer(),
  },
  {
    name: 'ScannableFingerprint (ours) compare',
    decode: (b) => C.ScannableFingerprint._fromBuffer(b).compare(fx.scannable),
    codes: [E.InvalidArgument, E.FingerprintVersionMismatch],
    valid: () => fx.scannable.toBuffer(),
  },
];

/** Decodes; a failure must be typed, a success must re-encode to bytes that decode to the same encoding. */
function checkDecoder(d: Decoder, bytes: Uint8Array): void {
  const r = outcome(() => d.decode(bytes));
  if (!r.ok) return expectTyped(r.error, d.codes);
  if (d.reencode && d.decodeAgain) {
    const once = d.reencode(r.value, bytes);
    expect(Array.from(d.decodeAgain(once).serialize())).toEqual(Array.from(once));
  }
}

describe.each(decoders)('$name', (d) => {
  it('fails only with its typed errors on arbitrary bytes', () => {
    fc.assert(
      fc.property(anyBytes, (bytes) => checkDecoder(d, bytes)),
      { numRuns: RUNS },
    );
  });

  it('fails only with its typed errors on mutated valid encodings, and what it accepts re-encodes stably', () => {
    checkDecoder(d, d.valid());
    fc.assert(
      fc.property(mutations, (ms) => checkDecoder(d, mutate(d.valid(), ms))),
      { numRuns: RUNS },
    );
  });
});

describe('key operations on fuzzed inputs', () => {
  it('verify returns a boolean for any message and signature; agree fails only with InvalidKeyAgreement', () => {
    const k = C.PrivateKey.generate();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 80 }),
        fc.uint8Array({ maxLength: 70 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        (msg, sig, u) => {
          const pub = C.PublicKey.deserialize(Uint8Array.of(0x05, ...u));
          expect(typeof pub.verify(msg, sig)).toBe('boolean');
          expect(typeof pub.verifyAlternateIdentity(k.getPublicKey(), sig)).toBe('boolean');
          const r = outcome(() => k.agree(pub));
          if (r.ok) expect(r.value.length).toBe(32);
          else expectTyped(r.error, [E.InvalidKeyAgreement]);
        },
      ),
      { numRuns: RUNS },
    );
    for (const lowOrder of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
      expect(() => k.agree(C.PublicKey.deserialize(Uint8Array.of(0x05, ...lowOrder)))).toThrow(
        expect.objectContaining({ name: 'SignalClientError', code: E.InvalidKeyAgreement }),
      );
    }
  });

  it('Kyber: arbitrary keys fail encapsulation only with InvalidKey, arbitrary ciphertexts decapsulation only with InvalidMessage', () => {
    const secret = C.KEMSecretKey.deserialize(fx.kemSecretKey);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1568, maxLength: 1568 }), mutations, (raw, ms) => {
        const r = outcome(() => C.KEMPublicKey.deserialize(Uint8Array.of(0x08, ...raw)).encapsulate());
        if (r.ok) expect(r.value.ciphertext.length).toBe(1569);
        else expectTyped(r.error, [E.InvalidKey]);
        const ct = mutate(C.KEMPublicKey.deserialize(fx.kemPublicKey).encapsulate().ciphertext, ms);
        const d = outcome(() => secret.decapsulate(ct));
        if (d.ok) expect(d.value.length).toBe(32);
        else expectTyped(d.error, [E.InvalidMessage]);
      }),
      { numRuns: 60 },
    );
  });
});

describe('arguments at the API boundary', () => {
  const anyNumber = fc.oneof(
    fc.integer({ min: -3, max: 130 }),
    fc.constantFrom(0, 1, 127, 128, 0x3fff, 0xffff_ffff, 2 ** 32, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 53),
    fc.double(),
  );

  it('ProtocolAddress.new fails only with InvalidProtocolAddress', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), anyNumber, (name, device) => {
        const r = outcome(() => C.ProtocolAddress.new(name, device));
        if (r.ok) expect(r.value.toString()).toBe(`${name}.${device}`);
        else expectTyped(r.error, [E.InvalidProtocolAddress]);
      }),
      { numRuns: RUNS },
    );
  });

  it('Fingerprint.new fails only with InvalidArgument; what it builds compares with its mirror', () => {
    const a = C.PrivateKey.generate().getPublicKey();
    const b = C.PrivateKey.generate().getPublicKey();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.uint8Array({ maxLength: 64 }),
        fc.oneof(fc.integer({ min: -2, max: 12 }), fc.constantFrom(1.5, NaN, 1_000_001, Infinity)),
        anyNumber,
        (idA, idB, iterations, version) => {
          const r = outcome(() => C.Fingerprint.new(iterations, version, idA, a, idB, b));
          if (!r.ok) return expectTyped(r.error, [E.InvalidArgument]);
          const mirror = C.Fingerprint.new(iterations, version, idB, b, idA, a);
          expect(r.value.displayableFingerprint().toString()).toMatch(/^\d{60}$/);
          expect(r.value.displayableFingerprint().toString()).toBe(mirror.displayableFingerprint().toString());
          expect(r.value.scannableFingerprint().compare(mirror.scannableFingerprint())).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('hkdf fails only with InvalidArgument', () => {
    fc.assert(
      fc.property(
        anyNumber,
        fc.uint8Array({ maxLength: 40 }),
        fc.option(fc.uint8Array({ maxLength: 40 })),
        (n, ikm, salt) => {
          const r = outcome(() => C.hkdf(n, ikm, Uint8Array.of(1), salt));
          if (r.ok)
            expect(r.value.length === n).toBe(true); // n may be -0
          else expectTyped(r.error, [E.InvalidArgument]);
        },
      ),
      { numRuns: RUNS },
    );
    expect(C.hkdf(255 * 32, new Uint8Array(1), new Uint8Array(0), null).length).toBe(8160);
  });

  it('PreKeyBundle.new fails only with InvalidArgument on out-of-range numbers', async () => {
    const b = await new Peer(UUIDS[1]).bundle();
    fc.assert(
      fc.property(
        anyNumber,
        anyNumber,
        fc.option(anyNumber),
        anyNumber,
        anyNumber,
        (reg, device, pre, signed, kyber) => {
          const r = outcome(() =>
            C.PreKeyBundle.new(
              reg,
              device,
              pre,
              pre === null ? null : b.signedPreKeyPublic(),
              signed,
              b.signedPreKeyPublic(),
              b.signedPreKeySignature(),
              b.identityKey(),
              kyber,
              b.kyberPreKeyPublic(),
              b.kyberPreKeySignature(),
            ),
          );
          if (!r.ok) return expectTyped(r.error, [E.InvalidArgument]);
          const u32 = (x: number): boolean => Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff;
          expect(u32(reg) && u32(signed) && u32(kyber) && (pre === null || u32(pre))).toBe(true);
          expect(Number.isInteger(device) && device >= 1 && device <= 127).toBe(true);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// ----- the session functions on fuzzed envelopes and bundles -----

/** Alice and Bob with a session; `target` is Alice's next Whisper message, not yet delivered. */
async function whisperScene(): Promise<{ alice: Peer; bob: Peer; target: C.CiphertextMessage }> {
  const alice = new Peer(UUIDS[0]);
  const bob = new Peer(UUIDS[1]);
  await C.processPreKeyBundle(await bob.bundle(), bob.address, alice.address, alice.sessions, alice.identities);
  await bob.decrypt(alice, await alice.encrypt(bob, 'hello'));
  await alice.decrypt(bob, await bob.encrypt(alice, 'hi'));
  return { alice, bob, target: await alice.encrypt(bob, 'target') };
}

/** Alice has Bob's bundle; `target` is her first (PreKey) message, which Bob has not seen. */
async function preKeyScene(): Promise<{ alice: Peer; bob: Peer; target: C.CiphertextMessage }> {
  const alice = new Peer(UUIDS[0]);
  const bob = new Peer(UUIDS[1]);
  await bob.bundle(); // a second set of prekeys, so that mutated ids can name existing records
  await C.processPreKeyBundle(await bob.bundle(), bob.address, alice.address, alice.sessions, alice.identities);
  return { alice, bob, target: await alice.encrypt(bob, 'target') };
}

describe('session functions on fuzzed input change no store', () => {
  it(
    'a mutated Whisper message is refused with a typed error and every store unchanged; the genuine one decrypts after',
    async () => {
      const scene = await whisperScene();
      const original = scene.target.serialize();
      await fc.assert(
        fc.asyncProperty(messageMutation, async (change) => {
          const bytes = change(original, true);
          fc.pre(!same(bytes, original));
          const before = await scene.bob.snapshotAll([scene.alice]);
          const r = await outcomeAsync(() => scene.bob.decrypt(scene.alice, bytesMessage(2, bytes)));
          expect(r.ok).toBe(false); // the MAC covers every byte but itself: no altered message may decrypt
          if (!r.ok) expectTyped(r.error, DECRYPT_ERRORS);
          expect(await scene.bob.snapshotAll([scene.alice])).toBe(before);
        }),
        { numRuns: SESSION_RUNS },
      );
      expect(await scene.bob.decrypt(scene.alice, scene.target)).toBe('target');
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'a mutated PreKey message is refused with a typed error and every store unchanged, unless only unauthenticated framing changed',
    async () => {
      let scene = await preKeyScene();
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(messageMutation, async (change) => {
          const original = scene.target.serialize();
          const bytes = change(original, false);
          fc.pre(!same(bytes, original));
          const before = await scene.bob.snapshotAll([scene.alice]);
          const r = await outcomeAsync(() => scene.bob.decrypt(scene.alice, bytesMessage(3, bytes)));
          if (r.ok) {
            // The outer message has no MAC (registration id, version nibble, field framing): the content must be
            // the genuine one, and the scene is rebuilt because the session now exists.
            expect(r.value).toBe('target');
            accepted++;
            scene = await preKeyScene();
            return;
          }
          expectTyped(r.error, DECRYPT_ERRORS);
          expect(await scene.bob.snapshotAll([scene.alice])).toBe(before);
        }),
        { numRuns: SESSION_RUNS },
      );
      expect(accepted).toBeLessThan(SESSION_RUNS / 2);
      expect(await scene.bob.decrypt(scene.alice, scene.target)).toBe('target');
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'arbitrary envelopes of either type are refused with a typed error and every store unchanged',
    async () => {
      const scene = await whisperScene();
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(2, 3), anyBytes, async (type, bytes) => {
          const before = await scene.bob.snapshotAll([scene.alice]);
          const r = await outcomeAsync(() => scene.bob.decrypt(scene.alice, bytesMessage(type, bytes)));
          expect(r.ok).toBe(false);
          if (!r.ok) expectTyped(r.error, DECRYPT_ERRORS);
          expect(await scene.bob.snapshotAll([scene.alice])).toBe(before);
        }),
        { numRuns: RUNS },
      );
      expect(await scene.bob.decrypt(scene.alice, scene.target)).toBe('target');
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'a bundle with a mutated key or signature is refused with a typed error and no store change, unless the change is unsigned',
    async () => {
      const bob = new Peer(UUIDS[1]);
      const good = await bob.bundle();
      const parts = {
        preKey: good.preKeyPublic()!.serialize(),
        signedPreKey: good.signedPreKeyPublic().serialize(),
        signedPreKeySignature: good.signedPreKeySignature(),
        identityKey: good.identityKey().serialize(),
        kyberPreKey: good.kyberPreKeyPublic().serialize(),
        kyberPreKeySignature: good.kyberPreKeySignature(),
      };
      let alice = new Peer(UUIDS[0]);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...(Object.keys(parts) as (keyof typeof parts)[])),
          mutations,
          async (field, ms) => {
            const bytes = mutate(parts[field], ms);
            fc.pre(!same(bytes, parts[field]));
            const p = { ...parts, [field]: bytes };
            const built = outcome(() =>
              C.PreKeyBundle.new(
                good.registrationId(),
                good.deviceId(),
                good.preKeyId(),
                C.PublicKey.deserialize(p.preKey),
                good.signedPreKeyId(),
                C.PublicKey.deserialize(p.signedPreKey),
                p.signedPreKeySignature,
                C.PublicKey.deserialize(p.identityKey),
                good.kyberPreKeyId(),
                C.KEMPublicKey.deserialize(p.kyberPreKey),
                p.kyberPreKeySignature,
              ),
            );
            if (!built.ok) return expectTyped(built.error, [E.InvalidKey]);
            const before = await alice.snapshotAll([bob]);
            const r = await outcomeAsync(() =>
              C.processPreKeyBundle(built.value, bob.address, alice.address, alice.sessions, alice.identities),
            );
            if (r.ok) {
              // Only the one-time prekey is unsigned, and a public key may carry trailing bytes: nothing else may pass.
              const canonical = (k: Uint8Array): Uint8Array => C.PublicKey.deserialize(k).serialize();
              expect(field === 'preKey' || same(canonical(bytes), canonical(parts[field]))).toBe(true);
              alice = new Peer(UUIDS[0]);
              return;
            }
            expectTyped(r.error, BUNDLE_ERRORS);
            expect(await alice.snapshotAll([bob])).toBe(before);
          },
        ),
        { numRuns: SESSION_RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});
