/**
 * The Double Ratchet's key derivations against libsignal's known answers, and the key roles: a chain key, raw
 * bytes or an SPQR key is refused (at compile time, checked by `npm run typecheck`) where another role belongs.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';

import { asChainKey, asRootKey, asSpqrMessageKey } from '../src/ratchet/key-roles.js';
import { deriveMessageKeys, messageSeed, nextChainKey, rootStep } from '../src/ratchet/keys.js';
import { ready } from '../src/index.js';
import { hex, unhex } from './support/seeded-rng.js';

beforeAll(async () => {
  await ready();
});

describe('Double Ratchet chain derivation (libsignal ratchet/keys.rs test_chain_key_derivation)', () => {
  it('derives the known cipher key, MAC key and next chain key (no SPQR salt)', () => {
    const ck = asChainKey(unhex('8ab72d6f4cc5ac0d387eaf463378ddb28edd07385b1cb01250c715982e7ad48f'));
    const keys = deriveMessageKeys(messageSeed(ck), null);
    expect(hex(keys.cipherKey)).toBe('bf51e9d75e0e31031051f82a2491ffc084fa298b7793bd9db620056febf45217');
    expect(hex(keys.macKey)).toBe('c6c77d6a73a354337a56435e34607dfe48e3ace14e77314dc6abc172e7a7030b');
    expect(hex(nextChainKey(ck))).toBe('28e8f8fee54b801eef7c5cfb2f17f32c7b334485bbb70fac6ec10342a246d15d');
    expect(keys.iv.length).toBe(16);
  });

  it('changes every key when the SPQR salt changes', () => {
    const seed = messageSeed(asChainKey(new Uint8Array(32).fill(1)));
    const a = deriveMessageKeys(seed, asSpqrMessageKey(new Uint8Array(32).fill(2)));
    const b = deriveMessageKeys(seed, asSpqrMessageKey(new Uint8Array(32).fill(3)));
    expect(hex(a.cipherKey)).not.toBe(hex(b.cipherKey));
    expect(hex(a.macKey)).not.toBe(hex(b.macKey));
    expect(hex(a.iv)).not.toBe(hex(b.iv));
  });
});

describe('key roles', () => {
  it('should refuse a key of one role where another is expected', () => {
    const { rootKey, chainKey } = rootStep(asRootKey(new Uint8Array(32)), new Uint8Array(32).fill(9));
    const seed = messageSeed(chainKey);
    const bytes = new Uint8Array(32);
    // Each line below fails to compile unless the role is refused; at run time they would all compute something.
    const refused = [
      // @ts-expect-error a chain key is not a root key
      () => rootStep(chainKey, bytes),
      // @ts-expect-error bare bytes are not a root key
      () => rootStep(bytes, bytes),
      // @ts-expect-error a root key is not a chain key
      () => nextChainKey(rootKey),
      // @ts-expect-error a message seed is not a chain key
      () => messageSeed(seed),
      // @ts-expect-error a chain key is not a message seed
      () => deriveMessageKeys(chainKey, null),
      // @ts-expect-error a Double Ratchet message seed is not an SPQR message key
      () => deriveMessageKeys(seed, seed),
    ];
    expect(refused).toHaveLength(6);
    // The roles exist only for the compiler: the values are the derivations' plain bytes.
    expect(rootKey).toBeInstanceOf(Uint8Array);
    expect(hex(chainKey)).toHaveLength(64);
  });
});
