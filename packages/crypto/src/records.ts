/**
 * Prekey records and the prekey bundle, with libsignal-client's constructors and accessors. Records serialize to
 * versioned bytes: one format-version byte, then a protobuf body; unknown versions are refused with InvalidRecord
 * so old bytes keep loading and newer bytes are never misread; any defect in a record's bytes (including a bad key
 * inside it or an out-of-range number) is InvalidRecord. Records never print their private keys (redaction.ts).
 * Does not store anything.
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

import { MAX_DEVICE_ID, MIN_DEVICE_ID } from './constants.js';
import { ErrorCode, SignalClientError, fail } from './errors.js';
import { PrivateKey, PublicKey } from './keys/curve.js';
import { KEMKeyPair, KEMPublicKey, KEMSecretKey } from './keys/kem.js';
import type { PublicFacts, RedactedJson } from './redaction.js';
import { INSPECT_CUSTOM, REDACTED, describeRedacted, redactedJson } from './redaction.js';

/** Current record format version (the first byte of every serialized record). */
export const RECORD_FORMAT_VERSION = 1;

type Fields = Map<number, Uint8Array | number>;

/** Parses a versioned record into field number → bytes (length-delimited) or number (varint). */
export function readRecord(buf: Uint8Array, operation: string): Fields {
  if (buf.length === 0) fail(ErrorCode.InvalidRecord, operation, 'empty record');
  if (buf[0] !== RECORD_FORMAT_VERSION) fail(ErrorCode.InvalidRecord, operation, `unknown record version <${buf[0]}>`);
  const out: Fields = new Map();
  try {
    const r = new BinaryReader(buf.subarray(1));
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      if (wt === WireType.LengthDelimited) out.set(no, r.bytes());
      else if (wt === WireType.Varint) out.set(no, Number(r.uint64()));
      else r.skip(wt, no);
    }
  } catch (cause) {
    fail(ErrorCode.InvalidRecord, operation, 'record encoding was invalid', { cause });
  }
  return out;
}

export function fieldBytes(f: Fields, no: number, operation: string): Uint8Array {
  const v = f.get(no);
  if (!(v instanceof Uint8Array)) fail(ErrorCode.InvalidRecord, operation, `missing field ${no}`);
  return v;
}

/** The largest id any record or bundle carries: ids are uint32 on the wire and in libsignal. */
const MAX_ID = 0xffff_ffff;
/** The largest timestamp kept: beyond 2^53 − 1 ms a JavaScript number no longer holds the value exactly. */
const MAX_TIMESTAMP = Number.MAX_SAFE_INTEGER;

/** A varint field bounded by `max` (a decoded value never exceeds what the writer could have written). */
export function fieldNumber(f: Fields, no: number, operation: string, max: number, dflt?: number): number {
  const v = f.get(no);
  if (typeof v === 'number') {
    if (v > max) fail(ErrorCode.InvalidRecord, operation, `field ${no} out of range`);
    return v;
  }
  if (v === undefined && dflt !== undefined) return dflt;
  return fail(ErrorCode.InvalidRecord, operation, `missing field ${no}`);
}

/** Runs a record decoder, reporting a bad key inside the record as InvalidRecord like every other defect. */
function decodeRecord<T>(operation: string, decode: () => T): T {
  try {
    return decode();
  } catch (cause) {
    if (SignalClientError.is(cause, ErrorCode.InvalidRecord)) throw cause;
    if (cause instanceof SignalClientError)
      return fail(ErrorCode.InvalidRecord, operation, `record holds an invalid key: ${cause.message}`, { cause });
    throw cause;
  }
}

export function recordWriter(): BinaryWriter {
  return new BinaryWriter().raw(Uint8Array.of(RECORD_FORMAT_VERSION));
}

/**
 * The layout shared by signed EC and Kyber prekey records: 1 id, 2 public key, 3 private key, 4 signature,
 * 5 timestamp. Saved records in test/fixtures pin it.
 */
function writeSignedKeyRecord(
  id: number,
  publicKey: Uint8Array,
  privateKey: Uint8Array,
  signature: Uint8Array,
  timestamp: number,
): Uint8Array {
  return recordWriter()
    .tag(1, WireType.Varint)
    .uint32(id)
    .tag(2, WireType.LengthDelimited)
    .bytes(publicKey)
    .tag(3, WireType.LengthDelimited)
    .bytes(privateKey)
    .tag(4, WireType.LengthDelimited)
    .bytes(signature)
    .tag(5, WireType.Varint)
    .uint64(timestamp)
    .finish();
}

/** A private key from our own record, paired with its stored public key (no scalar multiplication on load). */
function storedPrivateKey(priv: Uint8Array, pub: PublicKey, operation: string): PrivateKey {
  if (priv.length !== 32) fail(ErrorCode.InvalidRecord, operation, 'bad private key length');
  return PrivateKey._fromTrustedPair(priv, pub);
}

function checkId(id: number, operation: string, what = 'id'): void {
  if (!Number.isInteger(id) || id < 0 || id > MAX_ID)
    fail(ErrorCode.InvalidArgument, operation, `${what} must be a uint32`);
}

function checkTimestamp(timestamp: number, operation: string): void {
  if (!Number.isInteger(timestamp) || timestamp < 0 || timestamp > MAX_TIMESTAMP)
    fail(ErrorCode.InvalidArgument, operation, 'timestamp must be a whole number of milliseconds from 0 to 2^53 − 1');
}

export class PreKeyRecord {
  readonly #id: number;
  readonly #pub: PublicKey;
  readonly #priv: PrivateKey;

  private constructor(id: number, pub: PublicKey, priv: PrivateKey) {
    this.#id = id;
    this.#pub = pub;
    this.#priv = priv;
  }

  static new(id: number, pubKey: PublicKey, privKey: PrivateKey): PreKeyRecord {
    checkId(id, 'PreKeyRecord_New');
    return new PreKeyRecord(id, pubKey, privKey);
  }

  static deserialize(buffer: Uint8Array): PreKeyRecord {
    const op = 'PreKeyRecord_Deserialize';
    return decodeRecord(op, () => {
      const f = readRecord(buffer, op);
      const pub = PublicKey.deserialize(fieldBytes(f, 2, op));
      return new PreKeyRecord(fieldNumber(f, 1, op, MAX_ID), pub, storedPrivateKey(fieldBytes(f, 3, op), pub, op));
    });
  }

  serialize(): Uint8Array {
    return recordWriter()
      .tag(1, WireType.Varint)
      .uint32(this.#id)
      .tag(2, WireType.LengthDelimited)
      .bytes(this.#pub.serializedView())
      .tag(3, WireType.LengthDelimited)
      .bytes(this.#priv.serialize())
      .finish();
  }

  id(): number {
    return this.#id;
  }
  publicKey(): PublicKey {
    return this.#pub;
  }
  privateKey(): PrivateKey {
    return this.#priv;
  }

  /** The id and never the private key (see redaction.ts). */
  toJSON(): RedactedJson {
    return redactedJson('PreKeyRecord', { id: this.#id, privateKey: REDACTED });
  }
  toString(): string {
    return describeRedacted('PreKeyRecord', { id: this.#id, privateKey: REDACTED });
  }
  [INSPECT_CUSTOM](): string {
    return this.toString();
  }
}

export class SignedPreKeyRecord {
  readonly #id: number;
  readonly #timestamp: number;
  readonly #pub: PublicKey;
  readonly #priv: PrivateKey;
  readonly #sig: Uint8Array;

  private constructor(id: number, timestamp: number, pub: PublicKey, priv: PrivateKey, sig: Uint8Array) {
    this.#id = id;
    this.#timestamp = timestamp;
    this.#pub = pub;
    this.#priv = priv;
    this.#sig = sig;
  }

  static new(
    id: number,
    timestamp: number,
    pubKey: PublicKey,
    privKey: PrivateKey,
    signature: Uint8Array,
  ): SignedPreKeyRecord {
    checkId(id, 'SignedPreKeyRecord_New');
    checkTimestamp(timestamp, 'SignedPreKeyRecord_New');
    return new SignedPreKeyRecord(id, timestamp, pubKey, privKey, signature.slice());
  }

  static deserialize(buffer: Uint8Array): SignedPreKeyRecord {
    const op = 'SignedPreKeyRecord_Deserialize';
    return decodeRecord(op, () => {
      const f = readRecord(buffer, op);
      const pub = PublicKey.deserialize(fieldBytes(f, 2, op));
      return new SignedPreKeyRecord(
        fieldNumber(f, 1, op, MAX_ID),
        fieldNumber(f, 5, op, MAX_TIMESTAMP, 0),
        pub,
        storedPrivateKey(fieldBytes(f, 3, op), pub, op),
        fieldBytes(f, 4, op),
      );
    });
  }

  serialize(): Uint8Array {
    return writeSignedKeyRecord(
      this.#id,
      this.#pub.serializedView(),
      this.#priv.serialize(),
      this.#sig,
      this.#timestamp,
    );
  }

  id(): number {
    return this.#id;
  }
  timestamp(): number {
    return this.#timestamp;
  }
  publicKey(): PublicKey {
    return this.#pub;
  }
  privateKey(): PrivateKey {
    return this.#priv;
  }
  signature(): Uint8Array {
    return this.#sig.slice();
  }

  /** Id and timestamp, never the private key (see redaction.ts). */
  toJSON(): RedactedJson {
    return redactedJson('SignedPreKeyRecord', this.facts());
  }
  toString(): string {
    return describeRedacted('SignedPreKeyRecord', this.facts());
  }
  [INSPECT_CUSTOM](): string {
    return this.toString();
  }
  private facts(): PublicFacts {
    return { id: this.#id, timestamp: this.#timestamp, privateKey: REDACTED };
  }
}

export class KyberPreKeyRecord {
  readonly #id: number;
  readonly #timestamp: number;
  readonly #kp: KEMKeyPair;
  readonly #sig: Uint8Array;

  private constructor(id: number, timestamp: number, kp: KEMKeyPair, sig: Uint8Array) {
    this.#id = id;
    this.#timestamp = timestamp;
    this.#kp = kp;
    this.#sig = sig;
  }

  static new(id: number, timestamp: number, keyPair: KEMKeyPair, signature: Uint8Array): KyberPreKeyRecord {
    checkId(id, 'KyberPreKeyRecord_New');
    checkTimestamp(timestamp, 'KyberPreKeyRecord_New');
    return new KyberPreKeyRecord(id, timestamp, keyPair, signature.slice());
  }

  static deserialize(buffer: Uint8Array): KyberPreKeyRecord {
    const op = 'KyberPreKeyRecord_Deserialize';
    return decodeRecord(op, () => {
      const f = readRecord(buffer, op);
      const kp = KEMKeyPair.fromParts(
        KEMPublicKey.deserialize(fieldBytes(f, 2, op)),
        KEMSecretKey.deserialize(fieldBytes(f, 3, op)),
      );
      return new KyberPreKeyRecord(
        fieldNumber(f, 1, op, MAX_ID),
        fieldNumber(f, 5, op, MAX_TIMESTAMP, 0),
        kp,
        fieldBytes(f, 4, op),
      );
    });
  }

  serialize(): Uint8Array {
    return writeSignedKeyRecord(
      this.#id,
      this.#kp.getPublicKey().serializedView(),
      this.#kp.getSecretKey().serialize(),
      this.#sig,
      this.#timestamp,
    );
  }

  id(): number {
    return this.#id;
  }
  timestamp(): number {
    return this.#timestamp;
  }
  keyPair(): KEMKeyPair {
    return this.#kp;
  }
  publicKey(): KEMPublicKey {
    return this.#kp.getPublicKey();
  }
  secretKey(): KEMSecretKey {
    return this.#kp.getSecretKey();
  }
  signature(): Uint8Array {
    return this.#sig.slice();
  }

  /** Id and timestamp, never the secret key (see redaction.ts). */
  toJSON(): RedactedJson {
    return redactedJson('KyberPreKeyRecord', this.facts());
  }
  toString(): string {
    return describeRedacted('KyberPreKeyRecord', this.facts());
  }
  [INSPECT_CUSTOM](): string {
    return this.toString();
  }
  private facts(): PublicFacts {
    return { id: this.#id, timestamp: this.#timestamp, secretKey: REDACTED };
  }
}

export class PreKeyBundle {
  private constructor(
    private readonly _registrationId: number,
    private readonly _deviceId: number,
    private readonly _preKeyId: number | null,
    private readonly _preKey: PublicKey | null,
    private readonly _signedPreKeyId: number,
    private readonly _signedPreKey: PublicKey,
    private readonly _signedPreKeySignature: Uint8Array,
    private readonly _identityKey: PublicKey,
    private readonly _kyberPreKeyId: number,
    private readonly _kyberPreKey: KEMPublicKey,
    private readonly _kyberPreKeySignature: Uint8Array,
  ) {}

  static new(
    registration_id: number,
    device_id: number,
    prekey_id: number | null,
    prekey: PublicKey | null,
    signed_prekey_id: number,
    signed_prekey: PublicKey,
    signed_prekey_signature: Uint8Array,
    identity_key: PublicKey,
    kyber_prekey_id: number,
    kyber_prekey: KEMPublicKey,
    kyber_prekey_signature: Uint8Array,
  ): PreKeyBundle {
    const op = 'PreKeyBundle_New';
    if ((prekey_id === null) !== (prekey === null)) {
      fail(ErrorCode.InvalidArgument, op, 'prekey id and prekey must both be present or both absent');
    }
    // The ranges libsignal-client enforces (u32 ids, device ids 1..127), as typed errors.
    checkId(registration_id, op, 'registration id');
    if (!Number.isInteger(device_id) || device_id < MIN_DEVICE_ID || device_id > MAX_DEVICE_ID)
      fail(ErrorCode.InvalidArgument, op, 'device ID is out of range');
    if (prekey_id !== null) checkId(prekey_id, op, 'prekey id');
    checkId(signed_prekey_id, op, 'signed prekey id');
    checkId(kyber_prekey_id, op, 'Kyber prekey id');
    return new PreKeyBundle(
      registration_id,
      device_id,
      prekey_id,
      prekey,
      signed_prekey_id,
      signed_prekey,
      signed_prekey_signature.slice(),
      identity_key,
      kyber_prekey_id,
      kyber_prekey,
      kyber_prekey_signature.slice(),
    );
  }

  registrationId(): number {
    return this._registrationId;
  }
  deviceId(): number {
    return this._deviceId;
  }
  preKeyId(): number | null {
    return this._preKeyId;
  }
  preKeyPublic(): PublicKey | null {
    return this._preKey;
  }
  signedPreKeyId(): number {
    return this._signedPreKeyId;
  }
  signedPreKeyPublic(): PublicKey {
    return this._signedPreKey;
  }
  signedPreKeySignature(): Uint8Array {
    return this._signedPreKeySignature.slice();
  }
  identityKey(): PublicKey {
    return this._identityKey;
  }
  kyberPreKeyId(): number {
    return this._kyberPreKeyId;
  }
  kyberPreKeyPublic(): KEMPublicKey {
    return this._kyberPreKey;
  }
  kyberPreKeySignature(): Uint8Array {
    return this._kyberPreKeySignature.slice();
  }
}
