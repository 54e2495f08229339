/**
 * Kyber1024 KEM keys with libsignal's encodings: one type byte 0x08 followed by the raw key (1568-byte public,
 * 3168-byte secret) or ciphertext (1568 bytes). Other type bytes (0x0A ML-KEM-1024, 0x07 Kyber768) are refused,
 * as libsignal-client 0.103 refuses them. Secret keys never print (redaction.ts). No storage.
 */
import { ErrorCode, fail } from '../errors.js';
import type { Rng } from '../primitives/random.js';
import { defaultRng } from '../primitives/random.js';
import {
  KYBER1024_CIPHERTEXT_LENGTH,
  KyberKeyCheckError,
  KYBER1024_PUBLIC_KEY_LENGTH,
  KYBER1024_SECRET_KEY_LENGTH,
  kyber1024Decapsulate,
  kyber1024Encapsulate,
  kyber1024Keygen,
} from '../primitives/kyber.js';
import type { RedactedJson } from '../redaction.js';
import { INSPECT_CUSTOM, REDACTED, describeRedacted, redactedJson } from '../redaction.js';

/** libsignal's KEM key type byte for Kyber1024 (facts §1). */
export const KYBER1024_TYPE = 0x08;

function checkType(buf: Uint8Array, operation: string, rawLength: number, what: string): void {
  if (buf.length === 0) fail(ErrorCode.InvalidKey, operation, 'no key type identifier');
  if (buf[0] !== KYBER1024_TYPE)
    fail(ErrorCode.InvalidKey, operation, `bad KEM ${what} type <0x${(buf[0] ?? 0).toString(16).padStart(2, '0')}>`);
  if (buf.length !== rawLength + 1) fail(ErrorCode.InvalidKey, operation, `bad KEM ${what} length <${buf.length - 1}>`);
}

/**
 * Runs a Kyber operation, reporting a key that fails the FIPS 203 modulus check as InvalidKey (libsignal's
 * InvalidKey kind). The check runs where FIPS 203 puts it, on use, not on deserialize: libsignal-client 0.103
 * deserializes such keys too.
 */
function checkedKey<T>(operation: string, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    if (cause instanceof KyberKeyCheckError) return fail(ErrorCode.InvalidKey, operation, cause.message, { cause });
    throw cause;
  }
}

function prefixed(raw: Uint8Array): Uint8Array {
  const out = new Uint8Array(raw.length + 1);
  out[0] = KYBER1024_TYPE;
  out.set(raw, 1);
  return out;
}

export class KEMPublicKey {
  private readonly serialized: Uint8Array;

  private constructor(serialized: Uint8Array) {
    this.serialized = serialized;
  }

  static deserialize(buf: Uint8Array): KEMPublicKey {
    checkType(buf, 'KyberPublicKey_Deserialize', KYBER1024_PUBLIC_KEY_LENGTH, 'key');
    return new KEMPublicKey(buf.slice());
  }

  /** @internal */
  static fromRaw(raw: Uint8Array): KEMPublicKey {
    return new KEMPublicKey(prefixed(raw));
  }

  serialize(): Uint8Array {
    return this.serialized.slice();
  }

  /** @internal No copy; callers must not mutate. */
  serializedView(): Uint8Array {
    return this.serialized;
  }

  equals(other: KEMPublicKey): boolean {
    const a = this.serialized;
    const b = other.serialized;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /**
   * Encapsulates to this key: the ciphertext carries the 0x08 type byte, the secret is 32 bytes. A key failing the
   * FIPS 203 modulus check is an InvalidKey error (so a bundle carrying one is refused).
   */
  encapsulate(rng: Rng = defaultRng): { ciphertext: Uint8Array; sharedSecret: Uint8Array } {
    const { cipherText, sharedSecret } = checkedKey('KyberPublicKey_Encapsulate', () =>
      kyber1024Encapsulate(this.serialized.subarray(1), rng),
    );
    return { ciphertext: prefixed(cipherText), sharedSecret };
  }
}

export class KEMSecretKey {
  /** 0x08 ‖ the 3168-byte secret key; `#private` so that no property walk can reach it. */
  readonly #serialized: Uint8Array;

  private constructor(serialized: Uint8Array) {
    this.#serialized = serialized;
  }

  static deserialize(buf: Uint8Array): KEMSecretKey {
    checkType(buf, 'KyberSecretKey_Deserialize', KYBER1024_SECRET_KEY_LENGTH, 'key');
    return new KEMSecretKey(buf.slice());
  }

  /** @internal */
  static fromRaw(raw: Uint8Array): KEMSecretKey {
    return new KEMSecretKey(prefixed(raw));
  }

  serialize(): Uint8Array {
    return this.#serialized.slice();
  }

  /**
   * Decapsulates a 0x08-prefixed ciphertext; a wrong type or length is an InvalidMessage error, a secret key whose
   * embedded public key fails the modulus check an InvalidKey error.
   */
  decapsulate(ciphertext: Uint8Array): Uint8Array {
    if (ciphertext.length === 0 || ciphertext[0] !== KYBER1024_TYPE)
      fail(ErrorCode.InvalidMessage, 'KyberSecretKey_Decapsulate', 'wrong KEM key type');
    if (ciphertext.length !== KYBER1024_CIPHERTEXT_LENGTH + 1)
      fail(ErrorCode.InvalidMessage, 'KyberSecretKey_Decapsulate', 'bad KEM ciphertext length');
    return checkedKey('KyberSecretKey_Decapsulate', () =>
      kyber1024Decapsulate(ciphertext.subarray(1), this.#serialized.subarray(1)),
    );
  }

  /** Never the key (see redaction.ts). */
  toJSON(): RedactedJson {
    return redactedJson('KEMSecretKey', { secretKey: REDACTED });
  }

  toString(): string {
    return describeRedacted('KEMSecretKey', { secretKey: REDACTED });
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }
}

export class KEMKeyPair {
  readonly #pub: KEMPublicKey;
  readonly #sec: KEMSecretKey;

  private constructor(pub: KEMPublicKey, sec: KEMSecretKey) {
    this.#pub = pub;
    this.#sec = sec;
  }

  static generate(rng: Rng = defaultRng): KEMKeyPair {
    const { publicKey, secretKey } = kyber1024Keygen(rng);
    return new KEMKeyPair(KEMPublicKey.fromRaw(publicKey), KEMSecretKey.fromRaw(secretKey));
  }

  /** @internal Rebuilds a pair from its parts (records store both). */
  static fromParts(pub: KEMPublicKey, sec: KEMSecretKey): KEMKeyPair {
    return new KEMKeyPair(pub, sec);
  }

  getPublicKey(): KEMPublicKey {
    return this.#pub;
  }

  getSecretKey(): KEMSecretKey {
    return this.#sec;
  }

  /** Never the secret key (see redaction.ts); the 1.5 KiB public key is left out as noise. */
  toJSON(): RedactedJson {
    return redactedJson('KEMKeyPair', { secretKey: REDACTED });
  }

  toString(): string {
    return describeRedacted('KEMKeyPair', { secretKey: REDACTED });
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }
}
