/**
 * Profile key derivations and the profile field cipher: the unidentified access key against a fixed vector, Node's
 * own AES-GCM and libsignal's zkgroup `ProfileKey.deriveAccessKey`; versions bound to key and account; field
 * ciphertexts that refuse the wrong key, account or field, truncation, tampering and unknown formats, and whose
 * lengths show only a bucket.
 */
import { createCipheriv } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';
import { ProfileKey } from '@signalapp/libsignal-client/dist/zkgroup/index.js';

import * as C from '../../src/index.js';
import { seededRng } from '../support/seeded-rng.js';

const ACCOUNT = '0c0e1a2b-3c4d-4e5f-8a6b-00000000beef';
const OTHER_ACCOUNT = '0c0e1a2b-3c4d-4e5f-8a6b-00000000cafe';
const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('deriveAccessKey', () => {
  it('should match the fixed vector (profile key 00 01 … 1f), computed by libsignal and by Node', () => {
    expect(hex(C.deriveAccessKey(KEY))).toBe('0ebcb5deb52c83bd08a8a935182c9199');
  });

  it("should equal libsignal's ProfileKey.deriveAccessKey and Node's AES-GCM for random keys", () => {
    const rng = seededRng('access-key');
    for (let i = 0; i < 20; i++) {
      const key = C.generateProfileKey(rng);
      const cipher = createCipheriv('aes-256-gcm', key, Buffer.alloc(12));
      const node = cipher.update(Buffer.alloc(16));
      cipher.final();
      expect(hex(C.deriveAccessKey(key))).toBe(node.toString('hex'));
      expect(hex(C.deriveAccessKey(key))).toBe(hex(new ProfileKey(Buffer.from(key)).deriveAccessKey()));
    }
  });

  it('should refuse a key of the wrong length', () => {
    expect(() => C.deriveAccessKey(new Uint8Array(31))).toThrow(C.SignalClientError);
    expect(() => C.deriveAccessKey(new Uint8Array(33))).toThrow(C.SignalClientError);
  });
});

describe('profileKeyVersion', () => {
  it('should be 64 hex digits, stable, and differ by key and by account', () => {
    const v = C.profileKeyVersion(KEY, ACCOUNT);
    expect(v).toMatch(/^[0-9a-f]{64}$/);
    expect(C.profileKeyVersion(KEY, ACCOUNT.toUpperCase())).toBe(v);
    expect(C.profileKeyVersion(KEY, OTHER_ACCOUNT)).not.toBe(v);
    const rotated = C.generateProfileKey(seededRng('rotate'));
    expect(C.profileKeyVersion(rotated, ACCOUNT)).not.toBe(v);
    // Nothing of the access key or the key shows in the version.
    expect(v).not.toContain(hex(C.deriveAccessKey(KEY)));
    expect(v).not.toContain(hex(KEY).slice(0, 16));
  });
});

describe('profile field cipher', () => {
  const rng = seededRng('profile-cipher');

  it('should round-trip every field and pad to the field buckets', () => {
    for (const [field, content] of [
      ['name', utf8('Bob Ux')],
      ['name', utf8('鲍勃')],
      ['about', utf8('\x04🚀 on the move')],
      ['avatar', new Uint8Array(20_000).fill(7)],
      ['avatar', new Uint8Array(0)],
    ] as const) {
      const sealed = C.encryptProfileField(KEY, ACCOUNT, field, content, rng);
      expect(C.profileCiphertextSizes(field)).toContain(sealed.length);
      expect(C.decryptProfileField(KEY, ACCOUNT, field, sealed)).toEqual(content);
    }
    // Lengths inside one bucket give equal ciphertext lengths.
    const a = C.encryptProfileField(KEY, ACCOUNT, 'name', utf8('Al'), rng);
    const b = C.encryptProfileField(KEY, ACCOUNT, 'name', utf8('Maximilian Alexander Brown'), rng);
    expect(a.length).toBe(b.length);
    expect(a.length).toBe(64 + 4 + C.PROFILE_CIPHER_OVERHEAD);
    // Fresh nonce each time: the same name twice gives different bytes.
    expect(hex(C.encryptProfileField(KEY, ACCOUNT, 'name', utf8('Al'), rng))).not.toBe(hex(a));
  });

  it('should refuse content beyond the largest bucket', () => {
    expect(() => C.encryptProfileField(KEY, ACCOUNT, 'name', new Uint8Array(257), rng)).toThrow(/exceeds/);
    expect(() =>
      C.encryptProfileField(KEY, ACCOUNT, 'avatar', new Uint8Array(C.profileFieldMaxBytes('avatar') + 1), rng),
    ).toThrow(/exceeds/);
  });

  it('should refuse the wrong key, another account, another field, truncation, tampering and unknown formats', () => {
    const sealed = C.encryptProfileField(KEY, ACCOUNT, 'name', utf8('Bob'), rng);
    const invalid = expect.objectContaining({ code: C.ErrorCode.InvalidMessage });
    const attempt = (f: () => unknown): unknown => {
      try {
        f();
      } catch (error) {
        return error;
      }
      return 'no error';
    };
    const wrongKey = C.generateProfileKey(rng);
    expect(attempt(() => C.decryptProfileField(wrongKey, ACCOUNT, 'name', sealed))).toEqual(invalid);
    expect(attempt(() => C.decryptProfileField(KEY, OTHER_ACCOUNT, 'name', sealed))).toEqual(invalid);
    // An about ciphertext of the same size bucket cannot pass for a name (associated data names the field).
    const about = C.encryptProfileField(KEY, ACCOUNT, 'about', utf8('\x00hi'), rng);
    const name256 = C.encryptProfileField(KEY, ACCOUNT, 'name', new Uint8Array(200), rng);
    expect(about.length).not.toBe(name256.length);
    const about256 = C.encryptProfileField(KEY, ACCOUNT, 'about', new Uint8Array(200), rng);
    expect(about256.length).toBe(name256.length);
    expect(attempt(() => C.decryptProfileField(KEY, ACCOUNT, 'name', about256))).toEqual(invalid);
    expect(attempt(() => C.decryptProfileField(KEY, ACCOUNT, 'name', sealed.subarray(0, sealed.length - 1)))).toEqual(
      invalid,
    );
    const flipped = sealed.slice();
    flipped[30] = (flipped[30] as number) ^ 1;
    expect(attempt(() => C.decryptProfileField(KEY, ACCOUNT, 'name', flipped))).toEqual(invalid);
    const format = sealed.slice();
    format[0] = 2;
    expect(attempt(() => C.decryptProfileField(KEY, ACCOUNT, 'name', format))).toEqual(invalid);
    expect(attempt(() => C.decryptProfileField(KEY, ACCOUNT, 'name', new Uint8Array(0)))).toEqual(invalid);
  });
});
