/**
 * Prekey generation and upkeep. Generation makes signed EC, one-time EC and (signed) Kyber prekeys with
 * @cove/crypto, keeping the private halves as storage writes and returning the public halves in the server's upload
 * format. Upkeep runs on every connect (and after PreKey messages consumed keys): it tops up one-time keys when the
 * server holds fewer than PREKEY_LOW_WATER, rotates the signed and last-resort Kyber prekeys every
 * SIGNED_PREKEY_ROTATION_MS, and deletes retired private halves after OLD_PREKEY_GRACE_MS so late PreKey messages
 * still decrypt. Private halves are committed BEFORE the public halves are uploaded, so the server never hands out a
 * key this device cannot use. It does not decide when to connect.
 */
import { KEMKeyPair, KyberPreKeyRecord, PreKeyRecord, PrivateKey, SignedPreKeyRecord } from '@cove/crypto';
import type { IdentityKeyPair } from '@cove/crypto';
import { MAX_PREKEY_ID, toBase64 } from '@cove/protocol';
import type { KyberPreKey, PreKey, SignedPreKey, UploadKeysRequest } from '@cove/protocol';

import type { ApiClient } from './api-client.js';
import { OLD_PREKEY_GRACE_MS, PREKEY_BATCH, PREKEY_LOW_WATER, SIGNED_PREKEY_ROTATION_MS } from './constants.js';
import type { KeyValueStorage, Logger, WriteOp } from './platform.js';
import type { KyberPreKeyEntry, PreKeyEntry, PrekeyStateRecord, SignedPreKeyEntry } from './tables.js';
import { metaKeys, pad } from './tables.js';
import { readMeta } from './meta.js';

/** Ids wrap within libsignal's 24-bit range, skipping 0. */
const nextId = (id: number): number => (id >= MAX_PREKEY_ID ? 1 : id + 1);

export const generateSignedPreKey = (
  identity: IdentityKeyPair,
  id: number,
  now: number,
): { write: WriteOp; upload: SignedPreKey } => {
  const privateKey = PrivateKey.generate();
  const publicKey = privateKey.getPublicKey();
  const signature = identity.privateKey.sign(publicKey.serialize());
  const record = SignedPreKeyRecord.new(id, now, publicKey, privateKey, signature);
  const entry: SignedPreKeyEntry = { record: record.serialize(), createdAt: now, retiredAt: null };
  return {
    write: { op: 'put', table: 'signedPreKeys', key: pad(id, 8), value: entry },
    upload: { keyId: id, publicKey: toBase64(publicKey.serialize()), signature: toBase64(signature) },
  };
};

export const generateKyberPreKey = (
  identity: IdentityKeyPair,
  id: number,
  now: number,
  lastResort: boolean,
): { write: WriteOp; upload: KyberPreKey } => {
  const keyPair = KEMKeyPair.generate();
  const publicKey = keyPair.getPublicKey().serialize();
  const signature = identity.privateKey.sign(publicKey);
  const record = KyberPreKeyRecord.new(id, now, keyPair, signature);
  const entry: KyberPreKeyEntry = { record: record.serialize(), createdAt: now, lastResort, retiredAt: null };
  return {
    write: { op: 'put', table: 'kyberPreKeys', key: pad(id, 8), value: entry },
    upload: { keyId: id, publicKey: toBase64(publicKey), signature: toBase64(signature) },
  };
};

export const generatePreKeys = (
  firstId: number,
  count: number,
  now: number,
): { writes: WriteOp[]; uploads: PreKey[]; nextId: number } => {
  const writes: WriteOp[] = [];
  const uploads: PreKey[] = [];
  let id = firstId;
  for (let i = 0; i < count; i += 1) {
    const privateKey = PrivateKey.generate();
    const publicKey = privateKey.getPublicKey();
    const record = PreKeyRecord.new(id, publicKey, privateKey);
    const entry: PreKeyEntry = { record: record.serialize(), createdAt: now };
    writes.push({ op: 'put', table: 'preKeys', key: pad(id, 8), value: entry });
    uploads.push({ keyId: id, publicKey: toBase64(publicKey.serialize()) });
    id = nextId(id);
  }
  return { writes, uploads, nextId: id };
};

export const generateKyberPreKeys = (
  identity: IdentityKeyPair,
  firstId: number,
  count: number,
  now: number,
): { writes: WriteOp[]; uploads: KyberPreKey[]; nextId: number } => {
  const writes: WriteOp[] = [];
  const uploads: KyberPreKey[] = [];
  let id = firstId;
  for (let i = 0; i < count; i += 1) {
    const key = generateKyberPreKey(identity, id, now, false);
    writes.push(key.write);
    uploads.push(key.upload);
    id = nextId(id);
  }
  return { writes, uploads, nextId: id };
};

export type UpkeepResult = { preKeys: number; kyberPreKeys: number; signedPreKey: boolean; kyberLastResort: boolean };

/** Checks the server's counts and the rotation schedule; uploads what is missing. */
export const runPrekeyUpkeep = async (options: {
  storage: KeyValueStorage;
  api: ApiClient;
  identity: IdentityKeyPair;
  now: number;
  logger: Logger;
  /** Force a rotation regardless of age (tests, and after a suspected key compromise). */
  forceRotation?: boolean;
}): Promise<UpkeepResult> => {
  const { storage, api, identity, now } = options;
  const state = await readMeta(storage, 'prekeyState');
  if (!state) throw new Error('prekey state missing');
  const status = await api.keyStatus();
  const writes: WriteOp[] = [];
  const request: UploadKeysRequest = {};
  const next: PrekeyStateRecord = { ...state };
  const result: UpkeepResult = { preKeys: 0, kyberPreKeys: 0, signedPreKey: false, kyberLastResort: false };

  if (status.preKeyCount < PREKEY_LOW_WATER) {
    const made = generatePreKeys(state.nextPreKeyId, PREKEY_BATCH, now);
    writes.push(...made.writes);
    request.preKeys = made.uploads;
    next.nextPreKeyId = made.nextId;
    result.preKeys = made.uploads.length;
  }
  if (status.kyberPreKeyCount < PREKEY_LOW_WATER) {
    const made = generateKyberPreKeys(identity, next.nextKyberPreKeyId, PREKEY_BATCH, now);
    writes.push(...made.writes);
    request.kyberPreKeys = made.uploads;
    next.nextKyberPreKeyId = made.nextId;
    result.kyberPreKeys = made.uploads.length;
  }
  if (options.forceRotation || now - state.signedPreKeyRotatedAt >= SIGNED_PREKEY_ROTATION_MS) {
    const id = state.nextSignedPreKeyId;
    const made = generateSignedPreKey(identity, id, now);
    writes.push(made.write);
    request.signedPreKey = made.upload;
    writes.push(...(await retire(storage, 'signedPreKeys', state.currentSignedPreKeyId, now)));
    next.nextSignedPreKeyId = nextId(id);
    next.currentSignedPreKeyId = id;
    next.signedPreKeyRotatedAt = now;
    result.signedPreKey = true;
  }
  if (options.forceRotation || now - state.kyberLastResortRotatedAt >= SIGNED_PREKEY_ROTATION_MS) {
    const id = next.nextKyberPreKeyId;
    const made = generateKyberPreKey(identity, id, now, true);
    writes.push(made.write);
    request.kyberLastResortPreKey = made.upload;
    writes.push(...(await retire(storage, 'kyberPreKeys', state.currentKyberLastResortId, now)));
    next.nextKyberPreKeyId = nextId(id);
    next.currentKyberLastResortId = id;
    next.kyberLastResortRotatedAt = now;
    result.kyberLastResort = true;
  }
  writes.push(...(await expireRetired(storage, now)));
  if (writes.length === 0) return result;
  writes.push({ op: 'put', table: 'meta', key: metaKeys.prekeyState, value: next });
  await storage.commit(writes);
  if (Object.keys(request).length > 0) {
    await api.uploadKeys(request);
    options.logger.info('prekeys uploaded', { ...result });
  }
  return result;
};

const retire = async (
  storage: KeyValueStorage,
  table: 'signedPreKeys' | 'kyberPreKeys',
  id: number,
  now: number,
): Promise<WriteOp[]> => {
  const key = pad(id, 8);
  if (table === 'signedPreKeys') {
    const entry = await storage.get(table, key);
    return entry && entry.retiredAt === null ? [{ op: 'put', table, key, value: { ...entry, retiredAt: now } }] : [];
  }
  const entry = await storage.get(table, key);
  return entry && entry.retiredAt === null ? [{ op: 'put', table, key, value: { ...entry, retiredAt: now } }] : [];
};

/** Deletes retired signed and last-resort keys (and their used-base-key marks) past the grace period. */
const expireRetired = async (storage: KeyValueStorage, now: number): Promise<WriteOp[]> => {
  const writes: WriteOp[] = [];
  for (const { key, value } of await storage.list('signedPreKeys')) {
    if (value.retiredAt !== null && now - value.retiredAt >= OLD_PREKEY_GRACE_MS)
      writes.push({ op: 'delete', table: 'signedPreKeys', key });
  }
  for (const { key, value } of await storage.list('kyberPreKeys')) {
    if (value.lastResort && value.retiredAt !== null && now - value.retiredAt >= OLD_PREKEY_GRACE_MS) {
      writes.push({ op: 'delete', table: 'kyberPreKeys', key });
      for (const used of await storage.list('kyberPreKeysUsed', { prefix: `${key}/` })) {
        writes.push({ op: 'delete', table: 'kyberPreKeysUsed', key: used.key });
      }
    }
  }
  return writes;
};
