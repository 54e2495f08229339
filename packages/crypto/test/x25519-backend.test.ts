import { beforeAll, afterEach, describe, expect, it } from '@jest/globals';

import { ErrorCode, PrivateKey, libsodiumX25519, ready, useX25519Backend, x25519Backend } from '../src/index.js';
import type { X25519Backend } from '../src/index.js';
import { seededRng } from './support/seeded-rng.js';

/** libsodium with counters on every call, to see what a key prepares and when. */
function counting(overrides: Partial<X25519Backend> = {}) {
  const calls = { privateHandle: 0, publicHandle: 0, agree: 0 };
  const backend: X25519Backend = {
    name: 'counting',
    privateHandle: (k) => {
      calls.privateHandle++;
      return { k };
    },
    publicHandle: (u) => {
      calls.publicHandle++;
      return { u };
    },
    publicFromPrivate: (h) => libsodiumX25519.publicFromPrivate((h as { k: Uint8Array }).k),
    agree: (p, q) => {
      calls.agree++;
      return libsodiumX25519.agree((p as { k: Uint8Array }).k, (q as { u: Uint8Array }).u);
    },
    ...overrides,
  };
  return { backend, calls };
}

beforeAll(async () => {
  await ready();
});

/** Whatever the project runs with (libsodium, or node:crypto in `crypto-node-x25519`) is restored after each test. */
const initial = { backend: null as X25519Backend | null };
beforeAll(() => {
  initial.backend = x25519Backend();
});
afterEach(() => {
  useX25519Backend(initial.backend === libsodiumX25519 ? null : initial.backend);
});

describe('useX25519Backend', () => {
  it('should prepare each key once per implementation and agree as libsodium does', () => {
    const rng = seededRng(1);
    const alice = PrivateKey.generate(rng);
    const bob = PrivateKey.generate(rng);
    useX25519Backend(null);
    const expected = alice.agree(bob.getPublicKey());
    const { backend, calls } = counting();
    useX25519Backend(backend);
    const before = { ...calls };
    expect(alice.agree(bob.getPublicKey())).toEqual(expected);
    expect(alice.agree(bob.getPublicKey())).toEqual(expected);
    expect(bob.agree(alice.getPublicKey())).toEqual(expected);
    // Prepared under libsodium first: each key prepares again once under the new implementation, then reuses it.
    expect(calls.privateHandle - before.privateHandle).toBe(2);
    expect(calls.publicHandle - before.publicHandle).toBe(2);
    expect(calls.agree - before.agree).toBe(3);
  });

  it('should refuse an implementation that computes another shared secret, and keep the one in use', () => {
    const inUse = x25519Backend();
    const { backend } = counting({ agree: () => new Uint8Array(32).fill(7) });
    expect(() => useX25519Backend(backend, seededRng(2))).toThrow('RFC 7748');
    expect(x25519Backend()).toBe(inUse);
  });

  it('should refuse an implementation that derives another public key', () => {
    const { backend } = counting({ publicFromPrivate: () => new Uint8Array(32).fill(9) });
    expect(() => useX25519Backend(backend, seededRng(3))).toThrow('public-key derivation');
  });

  it('should refuse an implementation that accepts a low-order public key', () => {
    const { backend } = counting({
      agree: (p, q) => {
        const u = (q as { u: Uint8Array }).u;
        if (u.every((v) => v === 0)) return new Uint8Array(32).fill(1);
        return libsodiumX25519.agree((p as { k: Uint8Array }).k, u);
      },
    });
    expect(() => useX25519Backend(backend, seededRng(4))).toThrow('low-order');
  });

  it('should refuse an all-zero shared secret from any implementation as an invalid key agreement', () => {
    const { backend } = counting();
    useX25519Backend(backend);
    const rng = seededRng(5);
    const alice = PrivateKey.generate(rng);
    const bob = PrivateKey.generate(rng).getPublicKey();
    backend.agree = () => new Uint8Array(32);
    expect(() => alice.agree(bob)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidKeyAgreement }));
  });
});
