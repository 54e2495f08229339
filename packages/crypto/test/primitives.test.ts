import { beforeAll, describe, expect, it } from '@jest/globals';
import { sha3_256, sha3_512 } from '@noble/hashes/sha3.js';
import * as libsignal from '@signalapp/libsignal-client';

import * as C from '../src/index.js';
import { aes256CbcDecrypt, aes256CbcEncrypt } from '../src/primitives/aes.js';
import { hkdf, hmacSha256 } from '../src/primitives/hash.js';
import { ready } from '../src/primitives/sodium.js';
import { x25519Agree, x25519PublicFromPrivate } from '../src/primitives/x25519.js';
import { hex, seededRng, unhex } from './support/seeded-rng.js';

beforeAll(async () => {
  await ready();
});

describe('X25519 (RFC 7748 §6.1)', () => {
  const alicePriv = unhex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const alicePub = '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a';
  const bobPriv = unhex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
  const bobPub = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
  const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

  it('derives the public keys', () => {
    expect(hex(x25519PublicFromPrivate(alicePriv))).toBe(alicePub);
    expect(hex(x25519PublicFromPrivate(bobPriv))).toBe(bobPub);
  });

  it('agrees on the shared secret from both sides', () => {
    expect(hex(x25519Agree(alicePriv, unhex(bobPub))!)).toBe(shared);
    expect(hex(x25519Agree(bobPriv, unhex(alicePub))!)).toBe(shared);
  });

  it('refuses a low-order public key (all-zero output)', () => {
    expect(x25519Agree(alicePriv, new Uint8Array(32))).toBeNull();
    // u = 1 (order 4) and a point of order 8 (from the list in libsodium's and curve25519-dalek's tests).
    expect(x25519Agree(alicePriv, unhex(`01${'00'.repeat(31)}`))).toBeNull();
    expect(
      x25519Agree(alicePriv, unhex('e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800')),
    ).toBeNull();
  });
});

describe('HKDF-SHA256 (RFC 5869)', () => {
  it('test case 1', () => {
    const okm = hkdf(unhex('0b'.repeat(22)), unhex('000102030405060708090a0b0c'), unhex('f0f1f2f3f4f5f6f7f8f9'), 42);
    expect(hex(okm)).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });

  it('test case 3 (empty salt and info)', () => {
    const okm = hkdf(unhex('0b'.repeat(22)), new Uint8Array(0), new Uint8Array(0), 42);
    expect(hex(okm)).toBe('8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8');
  });

  it('matches libsignal hkdf for random inputs and lengths', () => {
    const rng = seededRng('hkdf');
    for (let i = 0; i < 20; i++) {
      const ikm = rng(1 + i * 7);
      const salt = i % 3 === 0 ? null : rng(i % 2 === 0 ? 32 : 13);
      const info = rng(i);
      const len = 1 + i * 13;
      expect(hex(hkdf(ikm, salt, info, len))).toBe(
        hex(
          libsignal.hkdf(
            len,
            ikm as Uint8Array<ArrayBuffer>,
            info as Uint8Array<ArrayBuffer>,
            salt as Uint8Array<ArrayBuffer> | null,
          ),
        ),
      );
    }
  });
});

describe('top-level hkdf export', () => {
  it('takes libsignal-client arguments in the same order', async () => {
    const ours = await import('../src/index.js');
    const ikm = seededRng('top')(40);
    const info = Uint8Array.of(1, 2, 3);
    expect(hex(ours.hkdf(50, ikm, info, null))).toBe(
      hex(libsignal.hkdf(50, new Uint8Array(ikm), new Uint8Array(info), null)),
    );
  });
});

describe('byte comparisons', () => {
  it.each([
    ['equalBytes', C.equalBytes],
    ['constantTimeEqual', C.constantTimeEqual],
  ])('%s should tell equal strings from any difference in content or length', (_name, equal) => {
    const a = Uint8Array.from({ length: 33 }, (_, i) => i);
    expect(equal(a, a.slice())).toBe(true);
    expect(equal(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    for (const at of [0, 16, 32]) {
      const b = a.slice();
      b[at] = (b[at] as number) ^ 0x80;
      expect(equal(a, b)).toBe(false);
    }
    expect(equal(a, a.subarray(0, 32))).toBe(false);
    expect(equal(a.subarray(0, 32), a)).toBe(false);
  });
});

describe('HMAC-SHA256 (RFC 4231 test case 2)', () => {
  it('handles keys that are not 32 bytes', () => {
    const mac = hmacSha256(new TextEncoder().encode('Jefe'), new TextEncoder().encode('what do ya want for nothing?'));
    expect(hex(mac)).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});

describe('libsodium called directly (sodium-direct.ts) equals the wrappers', () => {
  it('for X25519, SHA-2, HMAC, HKDF, SHA-3 and SHAKE, on short inputs and on ones larger than the scratch region', async () => {
    const d = await import('../src/primitives/sodium-direct.js');
    const { hkdf: nobleHkdf } = await import('@noble/hashes/hkdf.js');
    const { sha256: nobleSha256 } = await import('@noble/hashes/sha2.js');
    const { sodium } = await import('../src/primitives/sodium.js');
    const s = sodium();
    const rng = seededRng('sodium-direct');
    for (const n of [0, 1, 33, 200, 1568, 9000]) {
      const m = rng(n);
      const k = rng(32);
      expect(hex(d.sha256(m))).toBe(hex(s.crypto_hash_sha256(m)));
      expect(hex(d.sha512(m))).toBe(hex(s.crypto_hash_sha512(m)));
      expect(hex(d.sha3_256(m))).toBe(hex(s.crypto_hash_sha3256(m)));
      expect(hex(d.sha3_512(m))).toBe(hex(s.crypto_hash_sha3512(m)));
      expect(hex(d.hmacSha256Key32(k, [m]))).toBe(hex(s.crypto_auth_hmacsha256(m, k)));
      expect(hex(d.shakeInto(128, new Uint8Array(504), m))).toBe(hex(s.crypto_xof_shake128(504, m)));
      expect(hex(d.shakeInto(256, new Uint8Array(32), m, k))).toBe(
        hex(s.crypto_xof_shake256(32, Uint8Array.from([...m, ...k]))),
      );
      const info = rng(n % 50);
      expect(hex(hkdf(m, k, info, 80))).toBe(hex(nobleHkdf(nobleSha256, m, k, info, 80)));
    }
    const a = s.randombytes_buf(32);
    const b = s.crypto_scalarmult_base(s.randombytes_buf(32));
    expect(hex(d.x25519(a, b)!)).toBe(hex(s.crypto_scalarmult(a, b)));
    expect(hex(d.x25519Base(a))).toBe(hex(s.crypto_scalarmult_base(a)));
    expect(d.x25519(a, new Uint8Array(32))).toBeNull();
  });
});

describe('AES-256-CBC', () => {
  it('round-trips and rejects bad padding or length', () => {
    const rng = seededRng('aes');
    const key = rng(32);
    const iv = rng(16);
    for (const n of [0, 1, 15, 16, 17, 100]) {
      const pt = rng(n);
      const ct = aes256CbcEncrypt(key, iv, pt);
      expect(ct.length).toBe((Math.floor(n / 16) + 1) * 16);
      expect(hex(aes256CbcDecrypt(key, iv, ct)!)).toBe(hex(pt));
    }
    expect(aes256CbcDecrypt(key, iv, new Uint8Array(15))).toBeNull();
    expect(aes256CbcDecrypt(key, iv, new Uint8Array(0))).toBeNull();
  });

  it('matches FIPS 197 Appendix C.3 (AES-256, one block under a zero IV)', () => {
    const key = unhex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
    const ct = aes256CbcEncrypt(key, new Uint8Array(16), unhex('00112233445566778899aabbccddeeff'));
    expect(hex(ct.subarray(0, 16))).toBe('8ea2b7ca516745bfeafc49904b496089');
  });

  it('encrypts, decrypts and judges padding exactly like @noble/ciphers (the oracle) on random and hostile input', async () => {
    const { cbc } = await import('@noble/ciphers/aes.js');
    const rng = seededRng('aes-oracle');
    for (let t = 0; t < 300; t++) {
      const key = rng(32);
      const iv = rng(16);
      const pt = rng(t % 200);
      const ct = aes256CbcEncrypt(key, iv, pt);
      expect(hex(ct)).toBe(hex(cbc(key, iv).encrypt(pt)));
      // A forged ciphertext: random blocks, with a plausible padding byte in some.
      const forged = rng(16 * (1 + (t % 4)));
      if (t % 3 === 0) forged[forged.length - 1] = 1 + (t % 16);
      let theirs: Uint8Array | null;
      try {
        theirs = cbc(key, iv).decrypt(forged);
      } catch {
        theirs = null;
      }
      const ours = aes256CbcDecrypt(key, iv, forged);
      expect(ours === null ? null : hex(ours)).toBe(theirs === null ? null : hex(theirs));
    }
  });
});

describe('ML-KEM-1024 core of the Kyber1024 KEM (oracle: @noble/post-quantum)', () => {
  it('encapsulates and decapsulates exactly like noble, including implicit rejection', async () => {
    const { ml_kem1024 } = await import('@noble/post-quantum/ml-kem.js');
    const { mlkem1024Decapsulate, mlkem1024EncapsulateWith } = await import('../src/primitives/kyber.js');
    const rng = seededRng('mlkem');
    for (let i = 0; i < 12; i++) {
      const kp = ml_kem1024.keygen(rng(64));
      const m = rng(32);
      const theirs = ml_kem1024.encapsulate(kp.publicKey, m);
      const ours = mlkem1024EncapsulateWith(kp.publicKey, m);
      expect(hex(ours.cipherText)).toBe(hex(theirs.cipherText));
      expect(hex(ours.sharedSecret)).toBe(hex(theirs.sharedSecret));
      expect(hex(mlkem1024Decapsulate(ours.cipherText, kp.secretKey))).toBe(hex(theirs.sharedSecret));
      const bad = ours.cipherText.slice();
      bad[i * 97]! ^= 0x10;
      expect(hex(mlkem1024Decapsulate(bad, kp.secretKey))).toBe(hex(ml_kem1024.decapsulate(bad, kp.secretKey)));
    }
  });

  it('should run ML-KEM-768 on the same core exactly like noble (both parameter sets share one core)', async () => {
    const { ml_kem768 } = await import('@noble/post-quantum/ml-kem.js');
    const { ML_KEM_768, encryptUOnly, mlKemDecapsulate, mlKemEncapsulateWith } =
      await import('../src/primitives/ml-kem.js');
    const rng = seededRng('mlkem768');
    for (let i = 0; i < 8; i++) {
      const kp = ml_kem768.keygen(rng(64));
      const m = rng(32);
      const theirs = ml_kem768.encapsulate(kp.publicKey, m);
      const ours = mlKemEncapsulateWith(ML_KEM_768, kp.publicKey, m)!;
      expect(hex(ours.cipherText)).toBe(hex(theirs.cipherText));
      expect(hex(ours.sharedSecret)).toBe(hex(theirs.sharedSecret));
      expect(hex(mlKemDecapsulate(ML_KEM_768, kp.secretKey, ours.cipherText)!)).toBe(hex(theirs.sharedSecret));
      const bad = ours.cipherText.slice();
      bad[i * 131]! ^= 0x01;
      expect(hex(mlKemDecapsulate(ML_KEM_768, kp.secretKey, bad)!)).toBe(hex(ml_kem768.decapsulate(bad, kp.secretKey)));
      // u alone, from ρ and the randomness r of G(m ‖ H(ek)), is the ciphertext's first 960 bytes.
      const g = sha3_512(new Uint8Array([...m, ...sha3_256(kp.publicKey)]));
      const u = encryptUOnly(ML_KEM_768, kp.publicKey.subarray(1152), g.subarray(32));
      expect(hex(u)).toBe(hex(theirs.cipherText.subarray(0, 960)));
    }
  });

  it('compresses every coefficient exactly like the FIPS 203 formula, without a division (all of [0, q), every d used)', async () => {
    const { compressCoefficient, divideByQ } = await import('../src/primitives/ml-kem.js');
    const q = 3329;
    for (const d of [1, 4, 5, 10, 11]) {
      for (let x = 0; x < q; x++) {
        expect(compressCoefficient(x, d)).toBe(Math.floor((x * 2 ** d + 1664) / q) % 2 ** d);
      }
    }
    // The division itself over its whole stated range near every multiple of q (where an error would show).
    for (let k = 0; k * q < 41_000_000; k += 97) {
      for (const n of [k * q - 1, k * q, k * q + 1, k * q + q - 1])
        if (n >= 0) expect(divideByQ(n)).toBe(Math.floor(n / q));
    }
  });

  it('refuses a public key that fails the modulus check', async () => {
    const { KyberKeyCheckError, mlkem1024EncapsulateWith } = await import('../src/primitives/kyber.js');
    const pk = new Uint8Array(1568).fill(0xff);
    expect(() => mlkem1024EncapsulateWith(pk, new Uint8Array(32))).toThrow(KyberKeyCheckError);
    expect(() => mlkem1024EncapsulateWith(pk, new Uint8Array(32))).toThrow(/modulus/);
  });
});
