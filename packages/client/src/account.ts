/**
 * Account creation: makes the identity key pair, a 14-bit registration id, the device credential (32 random
 * bytes), a signed prekey, a last-resort Kyber prekey and PREKEY_BATCH one-time EC and Kyber prekeys, registers them
 * (and the username) with the server, and stores everything in one commit. Also loads the stored account. It does
 * not connect or send.
 */
import { IdentityKeyPair } from '@cove/crypto';
import { MAX_REGISTRATION_ID, USERNAME_PATTERN, toBase64 } from '@cove/protocol';

import type { ApiClient } from './api-client.js';
import { PREKEY_BATCH } from './constants.js';
import { ClientError, ClientErrorCode, ServerResponseError } from './errors.js';
import type { KeyValueStorage, Random, WriteOp } from './platform.js';
import { generateKyberPreKey, generateKyberPreKeys, generatePreKeys, generateSignedPreKey } from './prekeys.js';
import type { AccountRecord, PrekeyStateRecord, ProfileRecord } from './tables.js';
import { metaKeys } from './tables.js';
import { layoutWrite } from './storage-migrations.js';
import { readMeta } from './meta.js';

/** Bytes of the device credential: the server requires at least 32 (256 bits). */
const SECRET_BYTES = 32;

export type RegisterOptions = {
  serverUrl: string;
  username?: string;
  inviteCode?: string;
  /** One-time prekeys of each kind to upload (default PREKEY_BATCH); send-only bots and tests may use fewer. */
  oneTimePreKeys?: number;
};

/** A uniformly random registration id in 1..16383 (rejection sampling on 14 bits). */
export const randomRegistrationId = (random: Random): number => {
  for (;;) {
    const bytes = random.bytes(2);
    const value = (((bytes[0] ?? 0) << 8) | (bytes[1] ?? 0)) & 0x3fff;
    if (value >= 1 && value <= MAX_REGISTRATION_ID) return value;
  }
};

export const validateUsername = (username: string): void => {
  if (!USERNAME_PATTERN.test(username)) {
    throw new ClientError(ClientErrorCode.InvalidInput, 'usernames are 3-32 letters, digits, "_" or "."');
  }
};

export const loadAccount = (storage: KeyValueStorage): Promise<AccountRecord | undefined> =>
  readMeta(storage, 'account');

export const createAccount = async (
  storage: KeyValueStorage,
  api: ApiClient,
  random: Random,
  now: number,
  options: RegisterOptions,
): Promise<AccountRecord> => {
  if (await loadAccount(storage))
    throw new ClientError(ClientErrorCode.AlreadyRegistered, 'this data already holds an account');
  if (options.username !== undefined) validateUsername(options.username);
  const count = options.oneTimePreKeys ?? PREKEY_BATCH;
  if (!Number.isInteger(count) || count < 0 || count > PREKEY_BATCH) {
    throw new ClientError(ClientErrorCode.InvalidInput, `oneTimePreKeys must be 0..${PREKEY_BATCH}`);
  }

  const identity = IdentityKeyPair.generate();
  const registrationId = randomRegistrationId(random);
  const secret = random.bytes(SECRET_BYTES);
  const signed = generateSignedPreKey(identity, 1, now);
  const lastResort = generateKyberPreKey(identity, 1, now, true);
  const preKeys = generatePreKeys(1, count, now);
  const kyberPreKeys = generateKyberPreKeys(identity, 2, count, now);

  let created: { accountId: string; deviceId: number };
  try {
    created = await api.createAccount({
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.inviteCode === undefined ? {} : { inviteCode: options.inviteCode }),
      secret: toBase64(secret),
      registrationId,
      identityKey: toBase64(identity.publicKey.serialize()),
      signedPreKey: signed.upload,
      kyberLastResortPreKey: lastResort.upload,
      ...(count > 0 ? { preKeys: preKeys.uploads, kyberPreKeys: kyberPreKeys.uploads } : {}),
    });
  } catch (error) {
    if (error instanceof ServerResponseError) {
      if (error.errorCode === 'username_taken')
        throw new ClientError(ClientErrorCode.UsernameTaken, `the username ${options.username ?? ''} is taken`);
      if (error.errorCode === 'invite_required' || error.errorCode === 'forbidden') {
        throw new ClientError(ClientErrorCode.InviteRequired, 'this server requires a valid invite code');
      }
    }
    throw error;
  }

  const account: AccountRecord = {
    serverUrl: api.serverUrl,
    accountId: created.accountId,
    deviceId: created.deviceId,
    registrationId,
    secret,
    identityKeyPair: identity.serialize(),
    createdAt: now,
  };
  const prekeyState: PrekeyStateRecord = {
    nextPreKeyId: preKeys.nextId,
    nextKyberPreKeyId: kyberPreKeys.nextId,
    nextSignedPreKeyId: 2,
    currentSignedPreKeyId: 1,
    currentKyberLastResortId: 1,
    signedPreKeyRotatedAt: now,
    kyberLastResortRotatedAt: now,
  };
  const profile: ProfileRecord = { username: options.username ?? null };
  const writes: WriteOp[] = [
    signed.write,
    lastResort.write,
    ...preKeys.writes,
    ...kyberPreKeys.writes,
    { op: 'put', table: 'meta', key: metaKeys.prekeyState, value: prekeyState },
    { op: 'put', table: 'meta', key: metaKeys.profile, value: profile },
    { op: 'put', table: 'meta', key: metaKeys.account, value: account },
    layoutWrite(),
  ];
  await storage.commit(writes);
  return account;
};
