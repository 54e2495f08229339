/**
 * The account backup cipher: a sealed backup opens only with the key derived from the same export key and account
 * id; a flipped byte anywhere, a truncation, another version byte, another account's id (a server swapping blobs
 * between accounts) and another export key are refused with `InvalidMessage`; keys differ per account; the digest
 * is keyed and tells contents apart.
 */
import { randomBytes } from 'node:crypto';

import { beforeAll, describe, expect, it } from '@jest/globals';

import {
  accountBackupDigest,
  deriveAccountBackupKey,
  ErrorCode,
  openAccountBackup,
  ready,
  sealAccountBackup,
  SignalClientError,
} from '../src/index.js';

const ACCOUNT = '3f2b8c1e-7a5d-4e0f-9b1a-2c3d4e5f6a7b';
const OTHER = '11111111-2222-4333-8444-555555555555';

function expectInvalid(run: () => unknown): void {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(SignalClientError);
  expect((error as SignalClientError).code).toBe(ErrorCode.InvalidMessage);
}

describe('account backup cipher', () => {
  const exportKey = new Uint8Array(randomBytes(64));
  let key: Uint8Array;

  beforeAll(async () => {
    await ready();
    key = deriveAccountBackupKey(exportKey, ACCOUNT);
  });

  const plaintext = new TextEncoder().encode('{"version":1,"identityKeyPair":"secret"}');

  it('should round-trip and bind the account id (in any case)', () => {
    const sealed = sealAccountBackup(key, ACCOUNT, plaintext);
    expect(sealed[0]).toBe(1);
    expect(sealed.length).toBe(1 + 12 + plaintext.length + 16);
    expect(openAccountBackup(key, ACCOUNT.toUpperCase(), sealed)).toEqual(plaintext);
    expect(deriveAccountBackupKey(exportKey, ACCOUNT.toUpperCase())).toEqual(key);
  });

  it('should refuse every flipped byte, truncations and another version', () => {
    const sealed = sealAccountBackup(key, ACCOUNT, plaintext);
    for (let i = 0; i < sealed.length; i++) {
      const copy = sealed.slice();
      copy[i] = (copy[i] ?? 0) ^ 0x01;
      expectInvalid(() => openAccountBackup(key, ACCOUNT, copy));
    }
    expectInvalid(() => openAccountBackup(key, ACCOUNT, sealed.subarray(0, 28)));
    expectInvalid(() => openAccountBackup(key, ACCOUNT, sealed.subarray(0, sealed.length - 1)));
  });

  it('should refuse another account’s id and another export key', () => {
    const sealed = sealAccountBackup(key, ACCOUNT, plaintext);
    expectInvalid(() => openAccountBackup(key, OTHER, sealed));
    expectInvalid(() => openAccountBackup(deriveAccountBackupKey(exportKey, OTHER), OTHER, sealed));
    expectInvalid(() =>
      openAccountBackup(deriveAccountBackupKey(new Uint8Array(randomBytes(64)), ACCOUNT), ACCOUNT, sealed),
    );
    expect(deriveAccountBackupKey(exportKey, OTHER)).not.toEqual(key);
  });

  it('should refuse short export keys and wrong-sized backup keys', () => {
    expect(() => deriveAccountBackupKey(new Uint8Array(16), ACCOUNT)).toThrow(SignalClientError);
    expect(() => sealAccountBackup(new Uint8Array(16), ACCOUNT, plaintext)).toThrow(SignalClientError);
  });

  it('should digest contents under the key', () => {
    const other = new TextEncoder().encode('{"version":1}');
    expect(accountBackupDigest(key, plaintext)).toEqual(accountBackupDigest(key, plaintext));
    expect(accountBackupDigest(key, plaintext)).not.toEqual(accountBackupDigest(key, other));
    expect(accountBackupDigest(deriveAccountBackupKey(exportKey, OTHER), plaintext)).not.toEqual(
      accountBackupDigest(key, plaintext),
    );
  });
});
