/**
 * Account creation: makes the identity key pair, a 14-bit registration id, the device credential (32 random
 * bytes), a signed prekey, a last-resort Kyber prekey and PREKEY_BATCH one-time EC and Kyber prekeys, registers them
 * (and the username) with the server, and stores everything in one commit. Also loads the stored account. It does
 * not connect or send.
 */
import { IdentityKeyPair, encryptDeviceName } from '@cove/crypto';
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
  /**
   * The single-use token of a finished single sign-on (`REGISTRATION=sso`): the server then takes the username from
   * the identity provider, so `username` should be the one the sign-on named (stored as this account's).
   */
  ssoToken?: string;
  /** One-time prekeys of each kind to upload (default PREKEY_BATCH); send-only bots and tests may use fewer. */
  oneTimePreKeys?: number;
  /** This device's name in the device list (encrypted: the server cannot read it). */
  deviceName?: string;
};

/** Device names: at most this many bytes of UTF-8 (the server's `DeviceName` bound minus the cipher's overhead). */
export const MAX_DEVICE_NAME_BYTES = 100;

/** The encrypted device name for a registration or link request (checked: 1..100 bytes, no control characters). */
export const sealDeviceName = (identity: IdentityKeyPair, name: string, random: Random): string => {
  const trimmed = name.trim();
  const bytes = new TextEncoder().encode(trimmed);
  // eslint-disable-next-line no-control-regex
  if (bytes.length === 0 || bytes.length > MAX_DEVICE_NAME_BYTES || /[\u0000-\u001f\u007f-\u009f]/.test(trimmed))
    throw new ClientError(ClientErrorCode.InvalidInput, `device names are 1-${MAX_DEVICE_NAME_BYTES} bytes of text`);
  return toBase64(encryptDeviceName(identity.privateKey, bytes, (n) => random.bytes(n)));
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
  const name = options.deviceName === undefined ? undefined : sealDeviceName(identity, options.deviceName, random);
  const keys = newDeviceKeys(identity, random, now, count);
  let created: { accountId: string; deviceId: number };
  try {
    created = await api.createAccount({
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.inviteCode === undefined ? {} : { inviteCode: options.inviteCode }),
      ...(options.ssoToken === undefined ? {} : { ssoToken: options.ssoToken }),
      ...keys.request,
      ...(name === undefined ? {} : { name }),
      identityKey: toBase64(identity.publicKey.serialize()),
    });
  } catch (error) {
    if (error instanceof ServerResponseError) {
      if (error.errorCode === 'username_taken')
        throw new ClientError(ClientErrorCode.UsernameTaken, `the username ${options.username ?? ''} is taken`);
      if (error.errorCode === 'account_disabled')
        throw new ClientError(ClientErrorCode.AccountDisabled, 'this account was disabled by an administrator');
      if (error.errorCode === 'sso_required')
        throw new ClientError(
          ClientErrorCode.SsoRequired,
          options.ssoToken === undefined
            ? 'this server registers through single sign-on only (cove register --sso)'
            : 'the single sign-on was used, expired or refused: sign in again',
        );
      if (error.errorCode === 'sso_account_exists')
        throw new ClientError(
          ClientErrorCode.SsoAccountExists,
          'you already have an account on this server: link this device to it instead',
        );
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
    registrationId: keys.registrationId,
    secret: keys.secret,
    identityKeyPair: identity.serialize(),
    createdAt: now,
  };
  await storage.commit(deviceWrites(keys, account, { username: options.username ?? null }));
  return account;
};

/** A new device's own keys: registration id, credential, signed and last-resort prekeys, one-time prekeys. */
type DeviceKeys = ReturnType<typeof newDeviceKeys>;

const newDeviceKeys = (identity: IdentityKeyPair, random: Random, now: number, count: number) => {
  const registrationId = randomRegistrationId(random);
  const secret = random.bytes(SECRET_BYTES);
  const signed = generateSignedPreKey(identity, 1, now);
  const lastResort = generateKyberPreKey(identity, 1, now, true);
  const preKeys = generatePreKeys(1, count, now);
  const kyberPreKeys = generateKyberPreKeys(identity, 2, count, now);
  return {
    registrationId,
    secret,
    signed,
    lastResort,
    preKeys,
    kyberPreKeys,
    /** The fields `POST /v1/accounts` and `POST /v1/devices` share. */
    request: {
      secret: toBase64(secret),
      registrationId,
      signedPreKey: signed.upload,
      kyberLastResortPreKey: lastResort.upload,
      ...(count > 0 ? { preKeys: preKeys.uploads, kyberPreKeys: kyberPreKeys.uploads } : {}),
    },
  };
};

/** Everything a new device stores in its first commit (the caller adds what else belongs to it). */
const deviceWrites = (keys: DeviceKeys, account: AccountRecord, profile: ProfileRecord): WriteOp[] => {
  const prekeyState: PrekeyStateRecord = {
    nextPreKeyId: keys.preKeys.nextId,
    nextKyberPreKeyId: keys.kyberPreKeys.nextId,
    nextSignedPreKeyId: 2,
    currentSignedPreKeyId: 1,
    currentKyberLastResortId: 1,
    signedPreKeyRotatedAt: account.createdAt,
    kyberLastResortRotatedAt: account.createdAt,
  };
  return [
    keys.signed.write,
    keys.lastResort.write,
    ...keys.preKeys.writes,
    ...keys.kyberPreKeys.writes,
    { op: 'put', table: 'meta', key: metaKeys.prekeyState, value: prekeyState },
    { op: 'put', table: 'meta', key: metaKeys.profile, value: profile },
    { op: 'put', table: 'meta', key: metaKeys.account, value: account },
    layoutWrite(),
  ];
};

/**
 * Registers this storage as a new device of an existing account (`POST /v1/devices` with the provisioning code the
 * existing device sent), with the account's identity key pair and its own fresh prekeys, and stores it together with
 * `extra` (the contacts the existing device handed over) in one commit.
 */
export const createLinkedAccount = async (
  storage: KeyValueStorage,
  api: ApiClient,
  random: Random,
  now: number,
  link: { accountId: string; username: string | null; identity: IdentityKeyPair; provisioningCode: string },
  extra: WriteOp[],
  options: {
    oneTimePreKeys?: number | undefined;
    deviceName?: string | undefined;
    /** Under single sign-on: the token of the owner's fresh sign-on, which the server requires to link. */
    ssoToken?: string | undefined;
  } = {},
): Promise<AccountRecord> => {
  if (await loadAccount(storage))
    throw new ClientError(ClientErrorCode.AlreadyRegistered, 'this data already holds an account');
  const name = options.deviceName === undefined ? undefined : sealDeviceName(link.identity, options.deviceName, random);
  const keys = newDeviceKeys(link.identity, random, now, options.oneTimePreKeys ?? PREKEY_BATCH);
  let created: { accountId: string; deviceId: number };
  try {
    created = await api.linkDevice({
      ...keys.request,
      ...(name === undefined ? {} : { name }),
      provisioningCode: link.provisioningCode,
      ...(options.ssoToken === undefined ? {} : { ssoToken: options.ssoToken }),
    });
  } catch (error) {
    if (error instanceof ServerResponseError) {
      if (error.errorCode === 'sso_required')
        throw new ClientError(
          ClientErrorCode.SsoRequired,
          'linking a device to this account needs a fresh single sign-on as its owner: sign in again',
        );
      if (error.errorCode === 'limit_reached')
        throw new ClientError(ClientErrorCode.DeviceLimit, 'the account already has as many devices as allowed');
      if (error.errorCode === 'forbidden')
        throw new ClientError(ClientErrorCode.LinkFailed, 'the provisioning code was refused (used or expired)');
    }
    throw error;
  }
  if (created.accountId !== link.accountId)
    throw new ClientError(ClientErrorCode.LinkFailed, 'the server linked this device to another account');
  const account: AccountRecord = {
    serverUrl: api.serverUrl,
    accountId: created.accountId,
    deviceId: created.deviceId,
    registrationId: keys.registrationId,
    secret: keys.secret,
    identityKeyPair: link.identity.serialize(),
    createdAt: now,
  };
  await storage.commit([...extra, ...deviceWrites(keys, account, { username: link.username })]);
  return account;
};
