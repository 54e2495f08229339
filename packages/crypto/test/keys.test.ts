import { beforeAll, describe, expect, it } from '@jest/globals';
import * as libsignal from '@signalapp/libsignal-client';

import {
  ErrorCode,
  IdentityKeyPair,
  KEMKeyPair,
  KEMPublicKey,
  KEMSecretKey,
  PrivateKey,
  PublicKey,
  ready,
} from '../src/index.js';
import { hex, seededRng } from './support/seeded-rng.js';

type AB = Uint8Array<ArrayBuffer>;
const ab = (u: Uint8Array): AB => new Uint8Array(u);

beforeAll(async () => {
  await ready();
});

describe('PublicKey / PrivateKey', () => {
  it('serializes with the 0x05 prefix, identically to libsignal', () => {
    const theirs = libsignal.PrivateKey.generate();
    const ours = PrivateKey.deserialize(theirs.serialize());
    expect(hex(ours.getPublicKey().serialize())).toBe(hex(theirs.getPublicKey().serialize()));
    expect(ours.getPublicKey().serialize()[0]).toBe(0x05);
    expect(hex(ours.getPublicKey().getPublicKeyBytes())).toBe(hex(theirs.getPublicKey().getPublicKeyBytes()));
  });

  it('agrees with libsignal on X25519', () => {
    const a = PrivateKey.generate();
    const b = libsignal.PrivateKey.generate();
    const bPub = PublicKey.deserialize(b.getPublicKey().serialize());
    expect(hex(a.agree(bPub))).toBe(hex(b.agree(libsignal.PublicKey.deserialize(ab(a.getPublicKey().serialize())))));
  });

  it('refuses bad encodings with InvalidKey', () => {
    for (const bad of [new Uint8Array(0), new Uint8Array(33), Uint8Array.of(5, 1, 2)]) {
      expect(() => PublicKey.deserialize(bad)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidKey }));
    }
    expect(() => PrivateKey.deserialize(new Uint8Array(31))).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidKey }),
    );
  });

  it('tolerates trailing bytes after the key, as libsignal does', () => {
    const k = PrivateKey.generate().getPublicKey();
    const extended = new Uint8Array(40);
    extended.set(k.serialize());
    expect(PublicKey.deserialize(extended).equals(k)).toBe(true);
    expect(
      libsignal.PublicKey.deserialize(ab(extended)).equals(libsignal.PublicKey.deserialize(ab(k.serialize()))),
    ).toBe(true);
  });

  it('clamps private keys on load', () => {
    const raw = new Uint8Array(32).fill(0xff);
    expect(hex(PrivateKey.deserialize(raw).serialize())).toBe(
      hex(libsignal.PrivateKey.deserialize(ab(raw)).serialize()),
    );
  });

  it('orders and compares keys', () => {
    const a = PrivateKey.generate().getPublicKey();
    const b = PrivateKey.generate().getPublicKey();
    expect(a.compare(a)).toBe(0);
    expect(a.compare(b)).toBe(-b.compare(a));
    expect(a.equals(PublicKey.deserialize(a.serialize()))).toBe(true);
    expect(a.equals(b)).toBe(false);
  });
});

describe('XEdDSA', () => {
  const rng = seededRng('xeddsa');

  it('our signatures verify in libsignal, and libsignal signatures verify here (50 each way)', () => {
    for (let i = 0; i < 50; i++) {
      const msg = rng(i * 11);
      const ours = PrivateKey.generate(rng);
      const sig = ours.sign(msg, rng);
      const theirPub = libsignal.PublicKey.deserialize(ab(ours.getPublicKey().serialize()));
      expect(theirPub.verify(ab(msg), ab(sig))).toBe(true);
      expect(ours.getPublicKey().verify(msg, sig)).toBe(true);

      const theirs = libsignal.PrivateKey.generate();
      const theirSig = theirs.sign(ab(msg));
      expect(PublicKey.deserialize(theirs.getPublicKey().serialize()).verify(msg, theirSig)).toBe(true);
    }
  });

  it('rejects a wrong message, a wrong key, a flipped bit and a bad length', () => {
    const k = PrivateKey.generate(rng);
    const msg = rng(40);
    const sig = k.sign(msg, rng);
    expect(k.getPublicKey().verify(rng(40), sig)).toBe(false);
    expect(PrivateKey.generate(rng).getPublicKey().verify(msg, sig)).toBe(false);
    for (let bit = 0; bit < 512; bit += 7) {
      const bad = sig.slice();
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(k.getPublicKey().verify(msg, bad)).toBe(false);
    }
    expect(k.getPublicKey().verify(msg, sig.subarray(0, 63))).toBe(false);
  });

  it('refuses a malleated signature (s + L, still below 2^253) that libsignal accepts: the check is s < L', () => {
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    const le = (b: Uint8Array): bigint => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
    let checked = 0;
    for (let i = 0; checked < 5; i++) {
      const k = PrivateKey.generate(rng);
      const msg = rng(24);
      const sig = k.sign(msg, rng);
      const signBit = sig[63]! & 0x80;
      const s = le(Uint8Array.from(sig.subarray(32), (b, j) => (j === 31 ? b & 0x7f : b)));
      const malleated = s + L;
      if (malleated >= 1n << 253n) continue; // libsignal refuses these too (top bits set): not the edge case
      const bad = sig.slice();
      for (let j = 0; j < 32; j++) bad[32 + j] = Number((malleated >> BigInt(8 * j)) & 0xffn);
      bad[63] = bad[63]! | signBit;
      expect(libsignal.PublicKey.deserialize(ab(k.getPublicKey().serialize())).verify(ab(msg), ab(bad))).toBe(true);
      expect(k.getPublicKey().verify(msg, bad)).toBe(false);
      expect(k.getPublicKey().verify(msg, sig)).toBe(true);
      checked++;
    }
  });

  it('signs deterministically for a given randomness', () => {
    const k = PrivateKey.generate(seededRng(1));
    expect(hex(k.sign(Uint8Array.of(1, 2, 3), seededRng(2)))).toBe(hex(k.sign(Uint8Array.of(1, 2, 3), seededRng(2))));
  });

  it('alternate-identity signatures interoperate', () => {
    const ours = IdentityKeyPair.generate(rng);
    const other = libsignal.IdentityKeyPair.generate();
    const sig = ours.signAlternateIdentity(PublicKey.deserialize(other.publicKey.serialize()), rng);
    expect(
      libsignal.PublicKey.deserialize(ab(ours.publicKey.serialize())).verifyAlternateIdentity(other.publicKey, ab(sig)),
    ).toBe(true);
    const theirSig = other.signAlternateIdentity(libsignal.PublicKey.deserialize(ab(ours.publicKey.serialize())));
    expect(PublicKey.deserialize(other.publicKey.serialize()).verifyAlternateIdentity(ours.publicKey, theirSig)).toBe(
      true,
    );
  });
});

describe('IdentityKeyPair', () => {
  it('serializes in the same format as libsignal', () => {
    const theirs = libsignal.IdentityKeyPair.generate();
    const ours = IdentityKeyPair.deserialize(theirs.serialize());
    expect(hex(ours.serialize())).toBe(hex(theirs.serialize()));
    const back = libsignal.IdentityKeyPair.deserialize(ab(IdentityKeyPair.generate().serialize()));
    expect(back.publicKey.serialize().length).toBe(33);
  });
});

describe('Kyber1024 KEM keys', () => {
  it('have libsignal sizes and the 0x08 type byte', () => {
    const kp = KEMKeyPair.generate();
    expect(kp.getPublicKey().serialize().length).toBe(1569);
    expect(kp.getSecretKey().serialize().length).toBe(3169);
    expect(kp.getPublicKey().serialize()[0]).toBe(0x08);
    const theirs = libsignal.KEMKeyPair.generate();
    expect(hex(theirs.getPublicKey().serialize().subarray(0, 1))).toBe('08');
  });

  it('load in both directions', () => {
    const kp = KEMKeyPair.generate();
    expect(hex(libsignal.KEMPublicKey.deserialize(ab(kp.getPublicKey().serialize())).serialize())).toBe(
      hex(kp.getPublicKey().serialize()),
    );
    expect(hex(libsignal.KEMSecretKey.deserialize(ab(kp.getSecretKey().serialize())).serialize())).toBe(
      hex(kp.getSecretKey().serialize()),
    );
    const theirs = libsignal.KEMKeyPair.generate();
    expect(hex(KEMPublicKey.deserialize(theirs.getPublicKey().serialize()).serialize())).toBe(
      hex(theirs.getPublicKey().serialize()),
    );
  });

  it('encapsulates to a libsignal-generated key and decapsulates with its secret key', () => {
    const theirs = libsignal.KEMKeyPair.generate();
    const pub = KEMPublicKey.deserialize(theirs.getPublicKey().serialize());
    const sec = KEMSecretKey.deserialize(theirs.getSecretKey().serialize());
    const { ciphertext, sharedSecret } = pub.encapsulate();
    expect(ciphertext.length).toBe(1569);
    expect(ciphertext[0]).toBe(0x08);
    expect(hex(sec.decapsulate(ciphertext))).toBe(hex(sharedSecret));
    const tampered = ciphertext.slice();
    tampered[100]! ^= 1;
    expect(hex(sec.decapsulate(tampered))).not.toBe(hex(sharedSecret));
  });

  it('reports a key failing the FIPS 203 modulus check as InvalidKey on use (deserialize accepts it, like libsignal)', () => {
    const kp = KEMKeyPair.generate();
    const bytes = kp.getPublicKey().serialize();
    bytes[1] = 0xff; // coefficient 0 of t̂ = 0xfff ≥ q
    bytes[2] = bytes[2]! | 0x0f;
    const bad = KEMPublicKey.deserialize(bytes);
    expect(() => libsignal.KEMPublicKey.deserialize(ab(bytes))).not.toThrow();
    expect(() => bad.encapsulate()).toThrow(
      expect.objectContaining({ name: 'SignalClientError', code: ErrorCode.InvalidKey }),
    );
    const secret = kp.getSecretKey().serialize();
    const embedded = 1 + 1536; // the secret key embeds the public key after dk_pke
    secret[embedded] = 0xff;
    secret[embedded + 1] = secret[embedded + 1]! | 0x0f;
    const { ciphertext } = kp.getPublicKey().encapsulate();
    expect(() => KEMSecretKey.deserialize(secret).decapsulate(ciphertext)).toThrow(
      expect.objectContaining({ name: 'SignalClientError', code: ErrorCode.InvalidKey }),
    );
  });

  it('refuses other KEM type bytes like libsignal (0x0A, 0x07)', () => {
    const bytes = KEMKeyPair.generate().getPublicKey().serialize();
    for (const t of [0x0a, 0x07]) {
      bytes[0] = t;
      expect(() => KEMPublicKey.deserialize(bytes)).toThrow(/bad KEM key type/);
      expect(() => libsignal.KEMPublicKey.deserialize(ab(bytes))).toThrow(/bad KEM key type/);
    }
  });
});

describe('Montgomery → Edwards map and base-key canonicity', () => {
  it('inverts libsodium’s Edwards → Montgomery map', async () => {
    const { montgomeryToEdwardsY } = await import('../src/primitives/xeddsa.js');
    const { sodium } = await import('../src/primitives/sodium.js');
    const rng = seededRng('mont');
    for (let i = 0; i < 20; i++) {
      const u = PrivateKey.generate(rng).getPublicKey().getPublicKeyBytes();
      const y = montgomeryToEdwardsY(u)!;
      expect(hex(sodium().crypto_sign_ed25519_pk_to_curve25519(y))).toBe(hex(u));
    }
  });

  it('maps any u (on or off the curve, edge values, unreduced) to (u − 1)/(u + 1) mod p, null for u = −1', async () => {
    const { montgomeryToEdwardsY } = await import('../src/primitives/xeddsa.js');
    const P = (1n << 255n) - 19n;
    const toBig = (b: Uint8Array): bigint => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
    const pow = (b: bigint, e: bigint): bigint => {
      let r = 1n;
      for (b %= P; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) r = (r * b) % P;
      return r;
    };
    const rng = seededRng('mont-any');
    const inputs: Uint8Array[] = [
      new Uint8Array(32),
      Uint8Array.of(1, ...new Uint8Array(31)),
      Uint8Array.of(2, ...new Uint8Array(31)),
    ];
    for (let i = 0; i < 30; i++) inputs.push(rng(32));
    const near = new Uint8Array(32).fill(0xff); // 2^256 − 1: top bit ignored, 2^255 − 1 ≡ 18 (unreduced)
    inputs.push(near);
    for (const u of inputs) {
      const x = (toBig(u) & ((1n << 255n) - 1n)) % P;
      const want = (((x - 1n + P) % P) * pow(x + 1n, P - 2n)) % P;
      expect(toBig(montgomeryToEdwardsY(u)!)).toBe(want);
    }
    const minusOne = new Uint8Array(32).fill(0xff);
    minusOne[0] = 0xec;
    minusOne[31] = 0x7f;
    expect(montgomeryToEdwardsY(minusOne)).toBeNull();
  });

  it('inverts exactly like the plain extended Euclidean algorithm and Fermat (Lehmer steps), on random and edge inputs', async () => {
    const { invertPublic } = await import('../src/primitives/xeddsa.js');
    const P = (1n << 255n) - 19n;
    const plain = (z: bigint): bigint => {
      let [r0, r1, t0, t1] = [P, z, 0n, 1n];
      while (r1 !== 0n) {
        const q = r0 / r1;
        [r0, r1] = [r1, r0 - q * r1];
        [t0, t1] = [t1, t0 - q * t1];
      }
      return t0 < 0n ? t0 + P : t0;
    };
    const fermat = (z: bigint): bigint => {
      let r = 1n;
      for (let b = z, e = P - 2n; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) r = (r * b) % P;
      return r;
    };
    const toBig = (b: Uint8Array): bigint => b.reduce((acc, x) => (acc << 8n) | BigInt(x), 0n);
    // Edge values: tiny, near p, near powers of two (where the leading 48 bits and the bit-length bound change),
    // Lehmer's single-precision boundary (2^48, 2^53) and the curve constants.
    const inputs: bigint[] = [1n, 2n, 3n, 19n, 121665n, 486662n, P - 1n, P - 2n, (P - 1n) / 2n, (P + 1n) / 2n];
    for (let k = 1n; k < 255n; k++) inputs.push(1n << k, (1n << k) - 1n, P - (1n << k));
    const rng = seededRng('lehmer');
    for (let i = 0; i < 400; i++) {
      const z = toBig(rng(33)) % (i % 2 === 0 ? P : 1n << BigInt(1 + (i % 254)));
      if (z !== 0n) inputs.push(z);
    }
    for (const z of inputs) {
      const inv = invertPublic(z);
      expect(inv).toBe(plain(z));
      expect((inv * z) % P).toBe(1n);
    }
    for (const z of inputs.slice(0, 40)) expect(invertPublic(z)).toBe(fermat(z));
  });

  it('accepts generated keys and refuses high-bit, unreduced and low-order base keys, as libsignal does', async () => {
    const { isCanonicalBaseKey } = await import('../src/handshake/pqxdh.js');
    const k = PrivateKey.generate().getPublicKey();
    expect(isCanonicalBaseKey(k)).toBe(true);
    const highBit = k.getPublicKeyBytes();
    highBit[31]! |= 0x80;
    const p = new Uint8Array(32).fill(0xff);
    p[0] = 0xed;
    p[31] = 0x7f;
    for (const raw of [highBit, p, new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
      expect(isCanonicalBaseKey(PublicKey.deserialize(Uint8Array.of(5, ...raw)))).toBe(false);
    }
  });
});
