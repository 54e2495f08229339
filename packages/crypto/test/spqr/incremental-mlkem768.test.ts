/**
 * Incremental ML-KEM-768 (on libsodium's ML-KEM-768) against @noble/post-quantum as the oracle: key generation
 * from a seed gives byte-identical FIPS 203 keys; for the same m, ct1 is the first 960 bytes of the standard
 * ciphertext and ct1 ‖ ct2 is that ciphertext; the shared secret matches both sides, including implicit
 * rejection of a tampered ciphertext; the header binds the key; bad keys are refused.
 */
import { randomBytes } from 'node:crypto';

import { beforeAll, describe, expect, it } from '@jest/globals';
import { sha3_256 } from '@noble/hashes/sha3.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';

import { ready } from '../../src/primitives/sodium.js';
import {
  CT1_SIZE,
  CT2_SIZE,
  decaps,
  ekMatchesHeader,
  encaps1,
  encaps2,
  generate,
} from '../../src/ratchet/spqr/incremental-mlkem768.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const rand = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

describe('incremental ML-KEM-768', () => {
  beforeAll(ready);

  it('generates byte-identical FIPS 203 keys to the oracle for fixed and random seeds', () => {
    const seeds: Uint8Array[] = [
      new Uint8Array(64),
      new Uint8Array(64).fill(0xff),
      Uint8Array.from({ length: 64 }, (_, i) => i),
    ];
    for (let i = 0; i < 20; i++) seeds.push(rand(64));
    for (const seed of seeds) {
      const { publicKey, secretKey } = ml_kem768.keygen(seed);
      const keys = generate(seed);
      expect(hex(keys.dk)).toBe(hex(secretKey));
      expect(hex(keys.ek) + hex(keys.header.subarray(0, 32))).toBe(hex(publicKey));
    }
    expect(() => generate(rand(32))).toThrow(RangeError);
  });

  it("decapsulates tampered ciphertexts to the oracle's implicit-rejection secret", () => {
    const seed = rand(64);
    const keys = generate(seed);
    const m = rand(32);
    const good = encaps1(keys.header, m);
    const ct2 = encaps2(keys.header, keys.ek, m);
    expect(hex(decaps(keys.dk, good.ct1, ct2))).toBe(hex(good.sharedSecret));
    for (let i = 0; i < 20; i++) {
      const t1 = good.ct1.slice();
      const t2 = ct2.slice();
      const pos = (i * 53) % (CT1_SIZE + CT2_SIZE);
      if (pos < CT1_SIZE) t1[pos] = t1[pos]! ^ (1 << (i % 8));
      else t2[pos - CT1_SIZE] = t2[pos - CT1_SIZE]! ^ (1 << (i % 8));
      const oracle = ml_kem768.decapsulate(Uint8Array.of(...t1, ...t2), ml_kem768.keygen(seed).secretKey);
      const ours = decaps(keys.dk, t1, t2);
      expect(hex(ours)).toBe(hex(oracle));
      expect(hex(ours)).not.toBe(hex(good.sharedSecret));
    }
  });

  it('refuses a decapsulation key whose embedded H(ek) does not match, as the oracle does', () => {
    const keys = generate(rand(64));
    const m = rand(32);
    const { ct1 } = encaps1(keys.header, m);
    const ct2 = encaps2(keys.header, keys.ek, m);
    const bad = keys.dk.slice();
    bad[1500] = bad[1500]! ^ 1;
    expect(() => decaps(bad, ct1, ct2)).toThrow();
    expect(() => ml_kem768.decapsulate(Uint8Array.of(...ct1, ...ct2), bad)).toThrow();
  });
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
