import { beforeAll, describe, expect, it } from '@jest/globals';

import { deriveMessageKeys, messageSeed, nextChainKey } from '../src/ratchet/keys.js';
import { ready } from '../src/index.js';
import { hex, unhex } from './support/seeded-rng.js';

beforeAll(async () => {
  await ready();
});

describe('Double Ratchet chain derivation (libsignal ratchet/keys.rs test_chain_key_derivation)', () => {
  it('derives the known cipher key, MAC key and next chain key (no SPQR salt)', () => {
    const ck = unhex('8ab72d6f4cc5ac0d387eaf463378ddb28edd07385b1cb01250c715982e7ad48f');
    const keys = deriveMessageKeys(messageSeed(ck), null);
    expect(hex(keys.cipherKey)).toBe('bf51e9d75e0e31031051f82a2491ffc084fa298b7793bd9db620056febf45217');
    expect(hex(keys.macKey)).toBe('c6c77d6a73a354337a56435e34607dfe48e3ace14e77314dc6abc172e7a7030b');
    expect(hex(nextChainKey(ck))).toBe('28e8f8fee54b801eef7c5cfb2f17f32c7b334485bbb70fac6ec10342a246d15d');
    expect(keys.iv.length).toBe(16);
  });

  it('changes every key when the SPQR salt changes', () => {
    const seed = messageSeed(new Uint8Array(32).fill(1));
    const a = deriveMessageKeys(seed, new Uint8Array(32).fill(2));
    const b = deriveMessageKeys(seed, new Uint8Array(32).fill(3));
    expect(hex(a.cipherKey)).not.toBe(hex(b.cipherKey));
    expect(hex(a.macKey)).not.toBe(hex(b.macKey));
    expect(hex(a.iv)).not.toBe(hex(b.iv));
  });
});
