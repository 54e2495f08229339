/**
 * Curve25519 keys with libsignal's encodings: `PublicKey` (0x05 ‖ 32-byte u, trailing bytes tolerated as libsignal
 * tolerates them), `PrivateKey` (32 raw bytes, clamped on load) with XEdDSA signing and X25519 agreement, and
 * `IdentityKeyPair` (the IdentityKeyPairStructure protobuf). Randomness is injectable. Private keys never print
 * (redaction.ts). No key storage.
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

import { ErrorCode, fail } from '../errors.js';
import { equalBytes } from '../primitives/bytes.js';
import { utf8 } from '../primitives/hash.js';
import type { Rng } from '../primitives/random.js';
import { defaultRng } from '../primitives/random.js';
import type { HandleSlot, X25519Backend } from '../primitives/x25519.js';
import { agreeHandles, clampScalar, privateHandle, publicHandle, x25519GeneratePrivate } from '../primitives/x25519.js';
import type { XeddsaSigningKey } from '../primitives/xeddsa.js';
import { montgomeryToEdwardsY, xeddsaSign, xeddsaSigningKey, xeddsaVerifyWithEdwardsY } from '../primitives/xeddsa.js';
import type { PublicFacts, RedactedJson } from '../redaction.js';
import { INSPECT_CUSTOM, REDACTED, describeRedacted, redactedJson } from '../redaction.js';

/** libsignal's key type byte for Curve25519 ("Djb"). */
export const DJB_TYPE = 0x05;

export class PublicKey {
  private readonly u: Uint8Array;
  private serialized: Uint8Array | null = null;
  private edY: Uint8Array | null | undefined = undefined;
  /** The X25519 implementation's prepared form of this key, made on first agreement (see primitives/x25519.ts). */
  #x25519: HandleSlot = null;

  private constructor(u: Uint8Array) {
    this.u = u;
  }

  /** @internal Wraps 32 raw bytes (no type byte). */
  static fromPublicKeyBytes(u: Uint8Array): PublicKey {
    if (u.length !== 32) fail(ErrorCode.InvalidKey, 'PublicKey_FromBytes', `bad key length <${u.length}>`);
    return new PublicKey(Uint8Array.from(u));
  }

  static deserialize(buf: Uint8Array): PublicKey {
    if (buf.length === 0) fail(ErrorCode.InvalidKey, 'PublicKey_Deserialize', 'no key type identifier');
    if (buf[0] !== DJB_TYPE)
      fail(ErrorCode.InvalidKey, 'PublicKey_Deserialize', `bad key type <0x${hex2(buf[0] ?? 0)}>`);
    if (buf.length < 33)
      fail(ErrorCode.InvalidKey, 'PublicKey_Deserialize', `bad key length <${buf.length - 1}> for key with type <Djb>`);
    return new PublicKey(buf.slice(1, 33));
  }

  serialize(): Uint8Array {
    if (!this.serialized) {
      const s = new Uint8Array(33);
      s[0] = DJB_TYPE;
      s.set(this.u, 1);
      this.serialized = s;
    }
    return this.serialized.slice();
  }

  /** @internal The serialized form without a defensive copy (callers must not mutate it). */
  serializedView(): Uint8Array {
    if (!this.serialized) this.serialize();
    return this.serialized as Uint8Array;
  }

  getPublicKeyBytes(): Uint8Array {
    return this.u.slice();
  }

  /** @internal Raw u without a copy. */
  rawView(): Uint8Array {
    return this.u;
  }

  /** @internal This key prepared for the X25519 implementation in use (cached). */
  x25519Handle(): unknown {
    this.#x25519 = publicHandle(this.#x25519, this.u);
    return this.#x25519.handle;
  }

  verify(msg: Uint8Array, sig: Uint8Array): boolean {
    if (this.edY === undefined) this.edY = montgomeryToEdwardsY(this.u);
    return xeddsaVerifyWithEdwardsY(this.edY, msg, sig);
  }

  verifyAlternateIdentity(other: PublicKey, signature: Uint8Array): boolean {
    return this.verify(alternateIdentityMessage(other), signature);
  }

  equals(other: PublicKey): boolean {
    return equalBytes(this.u, other.u);
  }

  /** Orders keys by their serialized bytes: negative, zero or positive. */
  compare(other: PublicKey): number {
    for (let i = 0; i < 32; i++) {
      const d = (this.u[i] as number) - (other.u[i] as number);
      if (d !== 0) return d < 0 ? -1 : 1;
    }
    return 0;
  }
}

export class PrivateKey {
  /** The clamped scalar; `#private` so that no property walk (inspect, JSON, spread) can reach it. */
  readonly #k: Uint8Array;
  #pub: PublicKey | null;
  /** XEdDSA's per-key values (the scalar mod L and its point), cached after the first signature. */
  #signing: XeddsaSigningKey | null = null;
  /** The X25519 implementation's prepared form of the scalar, made on first use (see primitives/x25519.ts). */
  #x25519: HandleSlot = null;

  private constructor(k: Uint8Array, pub: PublicKey | null = null) {
    this.#k = k;
    this.#pub = pub;
  }

  /**
   * @internal Rebuilds a key pair from trusted storage (our own records) without recomputing the public key.
   * Never use for keys from elsewhere: the public key is not checked against the private key.
   */
  static _fromTrustedPair(priv: Uint8Array, pub: PublicKey): PrivateKey {
    return new PrivateKey(clampScalar(priv), pub);
  }

  static generate(rng: Rng = defaultRng): PrivateKey {
    return new PrivateKey(x25519GeneratePrivate(rng));
  }

  static deserialize(buf: Uint8Array): PrivateKey {
    if (buf.length !== 32)
      fail(ErrorCode.InvalidKey, 'PrivateKey_Deserialize', `bad key length <${buf.length}> for key with type <Djb>`);
    return new PrivateKey(clampScalar(buf));
  }

  serialize(): Uint8Array {
    return this.#k.slice();
  }

  sign(msg: Uint8Array, rng: Rng = defaultRng): Uint8Array {
    this.#signing ??= xeddsaSigningKey(this.#k);
    return xeddsaSign(this.#signing, msg, rng);
  }

  agree(otherKey: PublicKey): Uint8Array {
    const s = agreeHandles(this.x25519Handle(), otherKey.x25519Handle());
    if (!s) fail(ErrorCode.InvalidKeyAgreement, 'PrivateKey_Agree', 'invalid key agreement (low-order public key)');
    return s;
  }

  getPublicKey(): PublicKey {
    if (!this.#pub) {
      const slot = this.#x25519Slot();
      this.#pub = PublicKey.fromPublicKeyBytes(slot.backend.publicFromPrivate(slot.handle));
    }
    return this.#pub;
  }

  /** This scalar prepared for the X25519 implementation in use (cached). */
  private x25519Handle(): unknown {
    return this.#x25519Slot().handle;
  }

  #x25519Slot(): { backend: X25519Backend; handle: unknown } {
    this.#x25519 = privateHandle(this.#x25519, this.#k);
    return this.#x25519;
  }

  /** Never the key (see redaction.ts). */
  toJSON(): RedactedJson {
    return redactedJson('PrivateKey', { privateKey: REDACTED });
  }

  toString(): string {
    return describeRedacted('PrivateKey', { privateKey: REDACTED });
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }
}

export class IdentityKeyPair {
  readonly #publicKey: PublicKey;
  readonly #privateKey: PrivateKey;

  constructor(publicKey: PublicKey, privateKey: PrivateKey) {
    this.#publicKey = publicKey;
    this.#privateKey = privateKey;
  }

  /** libsignal-client's `publicKey` property (a getter here, so the pair has no enumerable key fields). */
  get publicKey(): PublicKey {
    return this.#publicKey;
  }

  /** libsignal-client's `privateKey` property. */
  get privateKey(): PrivateKey {
    return this.#privateKey;
  }

  static generate(rng: Rng = defaultRng): IdentityKeyPair {
    const priv = PrivateKey.generate(rng);
    return new IdentityKeyPair(priv.getPublicKey(), priv);
  }

  /** Parses the IdentityKeyPairStructure protobuf {1: public key (33 bytes), 2: private key (32 bytes)}. */
  static deserialize(buffer: Uint8Array): IdentityKeyPair {
    let pub: Uint8Array | undefined;
    let priv: Uint8Array | undefined;
    try {
      const r = new BinaryReader(buffer);
      while (r.pos < r.len) {
        const [no, wt] = r.tag();
        if (no === 1 && wt === WireType.LengthDelimited) pub = r.bytes();
        else if (no === 2 && wt === WireType.LengthDelimited) priv = r.bytes();
        else r.skip(wt, no);
      }
    } catch (cause) {
      fail(ErrorCode.InvalidKey, 'IdentityKeyPair_Deserialize', 'protobuf encoding was invalid', { cause });
    }
    if (!pub || !priv) fail(ErrorCode.InvalidKey, 'IdentityKeyPair_Deserialize', 'missing key');
    const publicKey = PublicKey.deserialize(pub);
    if (priv.length !== 32) fail(ErrorCode.InvalidKey, 'IdentityKeyPair_Deserialize', 'bad private key length');
    return new IdentityKeyPair(publicKey, PrivateKey._fromTrustedPair(priv, publicKey));
  }

  serialize(): Uint8Array {
    return new BinaryWriter()
      .tag(1, WireType.LengthDelimited)
      .bytes(this.#publicKey.serializedView())
      .tag(2, WireType.LengthDelimited)
      .bytes(this.#privateKey.serialize())
      .finish();
  }

  signAlternateIdentity(other: PublicKey, rng: Rng = defaultRng): Uint8Array {
    return this.#privateKey.sign(alternateIdentityMessage(other), rng);
  }

  /** The public key in hex and never the private key (see redaction.ts). */
  toJSON(): RedactedJson {
    return redactedJson('IdentityKeyPair', this.facts());
  }

  toString(): string {
    return describeRedacted('IdentityKeyPair', this.facts());
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }

  private facts(): PublicFacts {
    return { publicKey: toHex(this.#publicKey.serializedView()), privateKey: REDACTED };
  }
}

/** 0xFF×32 ‖ "Signal_PNI_Signature" ‖ other33 (facts §4). */
function alternateIdentityMessage(other: PublicKey): Uint8Array {
  const label = utf8('Signal_PNI_Signature');
  const m = new Uint8Array(32 + label.length + 33);
  m.fill(0xff, 0, 32);
  m.set(label, 32);
  m.set(other.serializedView(), 32 + label.length);
  return m;
}

function toHex(b: Uint8Array): string {
  let out = '';
  for (const x of b) out += hex2(x);
  return out;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}
