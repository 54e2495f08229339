/**
 * Server-side cryptography: XEdDSA signature checks on uploaded prekeys (through `@cove/crypto`, the same code
 * clients run), parsing of serialized public keys, credential hashing, keyed digests of configured secrets,
 * constant-time comparison and randomness.
 * The server never holds a private key of any user; this module has none to hold.
 */
import { Injectable } from '@nestjs/common';
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';

import { KEMPublicKey, PublicKey, ready } from '@cove/crypto';

import type { Bytes } from './database.repository.js';

/** Random bytes drawn at once for envelope ids: one system call per ~400 ids instead of one each. */
const ENTROPY_POOL_BYTES = 4096;

@Injectable()
export class CryptoRepository {
  /** Loads libsodium (WebAssembly) once; call before verifying. */
  init(): Promise<void> {
    return ready();
  }

  /** Whether `bytes` is a well-formed serialized EC public key (0x05 + 32 bytes). */
  isEcPublicKey(bytes: Uint8Array): boolean {
    try {
      PublicKey.deserialize(bytes);
      return true;
    } catch {
      return false;
    }
  }

  /** Whether `bytes` is a well-formed serialized Kyber1024 public key (0x08 + 1568 bytes). */
  isKemPublicKey(bytes: Uint8Array): boolean {
    try {
      KEMPublicKey.deserialize(bytes);
      return true;
    } catch {
      return false;
    }
  }

  /** XEdDSA verification of `signature` over `message` by the serialized identity key; false on any malformed input. */
  verify(identityKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    try {
      return PublicKey.deserialize(identityKey).verify(message, signature);
    } catch {
      return false;
    }
  }

  /**
   * Hash of a device credential, ticket or code. These are at least 32 random bytes (256 bits), so one SHA-256 is
   * a sound one-way function for them: a slow password hash would only add cost, not security.
   */
  hash(secret: Uint8Array): Bytes {
    return createHash('sha256').update(secret).digest();
  }

  /** Key of `keyedDigest`: random per process, so its digests mean nothing outside it and cannot be precomputed. */
  private readonly digestKey = randomBytes(32);

  /**
   * HMAC-SHA-256 of a secret of any length (an invite code, a token) under this process's random key: 32 bytes
   * whatever went in, so comparing two digests with `equal` says nothing about either secret's length or content.
   */
  keyedDigest(secret: Uint8Array): Bytes {
    return createHmac('sha256', this.digestKey).update(secret).digest();
  }

  /** Constant-time for inputs of equal length (digests, hashes); unequal lengths return false at once. */
  equal(a: Uint8Array, b: Uint8Array): boolean {
    return a.length === b.length && timingSafeEqual(a, b);
  }

  randomBytes(length: number): Buffer {
    return randomBytes(length);
  }

  randomUUID(): string {
    return randomUUID();
  }

  private pool = Buffer.alloc(0);
  private poolOffset = 0;

  /**
   * A time-ordered UUID (version 7, RFC 9562) for envelopes: consecutive ids land next to each other in the unique
   * index, which keeps inserts cheap. It reveals the acceptance time, which `serverTimestamp` states anyway.
   */
  envelopeId(): string {
    if (this.poolOffset + 10 > this.pool.length) {
      this.pool = randomBytes(ENTROPY_POOL_BYTES);
      this.poolOffset = 0;
    }
    const id = Buffer.allocUnsafe(16);
    id.writeUIntBE(Date.now(), 0, 6);
    this.pool.copy(id, 6, this.poolOffset, this.poolOffset + 10);
    this.poolOffset += 10;
    id[6] = ((id[6] ?? 0) & 0x0f) | 0x70;
    id[8] = ((id[8] ?? 0) & 0x3f) | 0x80;
    const h = id.toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
}
