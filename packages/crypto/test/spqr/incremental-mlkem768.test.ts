/**
 * Incremental ML-KEM-768 against @noble/post-quantum as the oracle: for the same m, ct1 is the first 960 bytes
 * of the standard ciphertext and ct1 ‖ ct2 is that ciphertext; the shared secret matches both sides; the header
 * binds the key.
 */
import { randomBytes } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';

import {
  CT1_SIZE,
  decaps,
  ekMatchesHeader,
  encaps1,
  encaps2,
  generate,
} from '../../src/ratchet/spqr/incremental-mlkem768.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const rand = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

describe('incremental ML-KEM-768', () => {
  it('splits keys into header = ρ ‖ SHA3-256(ek), ek = t, dk = FIPS 203 layout', () => {
    const seed = rand(64);
    const keys = generate(seed);
    const { publicKey, secretKey } = ml_kem768.keygen(seed);
    expect(hex(keys.dk)).toBe(hex(secretKey));
    expect(hex(keys.ek)).toBe(hex(publicKey.subarray(0, 1152)));
    expect(hex(keys.header)).toBe(hex(publicKey.subarray(1152)) + hex(sha3_256(publicKey)));
    expect(ekMatchesHeader(keys.ek, keys.header)).toBe(true);
  });

  it('encaps1 from the header alone equals the first 960 bytes of the standard ciphertext (oracle)', () => {
    for (let i = 0; i < 25; i++) {
      const keys = generate(rand(64));
      const m = rand(32);
      const oracle = ml_kem768.encapsulate(Uint8Array.of(...keys.ek, ...keys.header.subarray(0, 32)), m);
      const { ct1, sharedSecret } = encaps1(keys.header, m);
      expect(hex(ct1)).toBe(hex(oracle.cipherText.subarray(0, CT1_SIZE)));
      expect(hex(sharedSecret)).toBe(hex(oracle.sharedSecret));
      const ct2 = encaps2(keys.header, keys.ek, m);
      expect(hex(ct2)).toBe(hex(oracle.cipherText.subarray(CT1_SIZE)));
      expect(hex(decaps(keys.dk, ct1, ct2))).toBe(hex(sharedSecret));
    }
  });

  it('detects an encapsulation key that does not belong to the header', () => {
    const a = generate(rand(64));
    const b = generate(rand(64));
    expect(ekMatchesHeader(b.ek, a.header)).toBe(false);
    const flipped = a.ek.slice();
    flipped[100] = flipped[100]! ^ 1;
    expect(ekMatchesHeader(flipped, a.header)).toBe(false);
    expect(ekMatchesHeader(a.ek.subarray(1), a.header)).toBe(false);
  });

  it('refuses a key with an out-of-range coefficient in encaps2', () => {
    const a = generate(rand(64));
    const bad = a.ek.slice();
    bad[0] = 0xff;
    bad[1] = 0x0f; // first 12-bit coefficient = 4095 ≥ q
    expect(() => encaps2(a.header, bad, rand(32))).toThrow();
  });
});
