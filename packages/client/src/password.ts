/**
 * Username and password login (docs/password-login.md). Setting a password runs OPAQUE registration with the server
 * (`@serenity-kit/opaque`: the password never leaves this device, not even hashed), derives the account backup key
 * from OPAQUE's export key, and uploads the record with the account backup sealed under that key (identity key pair,
 * ids, profile key, contacts with their trust states, chat settings, the pinned organization key but never its private
 * half; never messages or sessions). The device keeps the backup key, so that it re-seals the backup when contacts or
 * settings change (`refreshPasswordBackup`, on upkeep). A new device logs in by username: OPAQUE login (a wrong password, an unknown username and an account
 * without a password all fail alike, on this device, before the server learns anything), then the server releases
 * the sealed backup and a single-use link token, the backup is opened and checked, and the device registers with
 * the token as its provisioning code and stores the account in one commit. Removing the password deletes the record
 * and the backup on the server and the key here. It does not prompt, read stdin or render: the shells do.
 */
import {
  IdentityKeyPair,
  PublicKey,
  accountBackupDigest,
  equalBytes,
  constantTimeEqual,
  deriveAccountBackupKey,
  openAccountBackup,
  sealAccountBackup,
} from '@cove/crypto';
import { AccountBackup, fromBase64, toBase64, type BackupChatSettings } from '@cove/protocol';
import type * as OpaqueLibrary from '@serenity-kit/opaque';

import { createLinkedAccount } from './account.js';
import type { ApiClient } from './api-client.js';
import { CHAT_PREFERENCES_PREFIX, readChatPreferences } from './chat-preferences.js';
import type { MessengerContext } from './context.js';
import { ClientError, ClientErrorCode, ServerResponseError } from './errors.js';
import { contactWrites, provisionedContacts } from './linking.js';
import { metaPut, readMeta } from './meta.js';
import type { Platform, WriteOp } from './platform.js';
import { metaKeys, type AccountRecord, type ChatPreferencesRecord, type OrganizationRecord } from './tables.js';

/** NIST SP 800-63B's floor for a chosen secret: shorter ones fall to an online guess within the throttle's budget. */
export const MIN_PASSWORD_LENGTH = 8;
/** Long passphrases are welcome; this only keeps a pasted file out of the key stretching. */
export const MAX_PASSWORD_LENGTH = 1024;

type OpaqueModule = typeof OpaqueLibrary;

/**
 * OPAQUE's WASM (about 400 KB of script), loaded on first use: a browser that never touches passwords never fetches
 * it (bundlers split a dynamic import into its own chunk).
 */
const loadOpaque = async (): Promise<OpaqueModule> => {
  const opaque = await import('@serenity-kit/opaque');
  await opaque.ready;
  return opaque;
};

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

const fromBase64Url = (text: string): Uint8Array =>
  fromBase64(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));

/** Refuses a password that is too short or too long (counted in characters, as a person types them). */
export const validatePassword = (password: string): void => {
  const length = [...password].length;
  if (length < MIN_PASSWORD_LENGTH)
    throw new ClientError(ClientErrorCode.InvalidInput, `a password has at least ${MIN_PASSWORD_LENGTH} characters`);
  if (length > MAX_PASSWORD_LENGTH)
    throw new ClientError(ClientErrorCode.InvalidInput, `a password has at most ${MAX_PASSWORD_LENGTH} characters`);
};

/** What a backup holds, read from this device's storage (`createdAt` apart: it is not part of the digest). */
const backupContent = async (platform: Platform, account: AccountRecord): Promise<Omit<AccountBackup, 'createdAt'>> => {
  const profile = await readMeta(platform.storage, 'profile');
  const own = await readMeta(platform.storage, 'ownProfile');
  const organization = await readMeta(platform.storage, 'organization');
  const chats: BackupChatSettings[] = [];
  for (const [conversationId, p] of await readChatPreferences(platform.storage)) {
    if (p.mutedUntil === null && p.pinnedAt === null && p.archivedAfter === null) continue;
    chats.push({ conversationId, mutedUntil: p.mutedUntil, pinnedAt: p.pinnedAt, archived: p.archivedAfter !== null });
  }
  return {
    version: 1,
    accountId: account.accountId,
    username: profile?.username ?? null,
    identityKeyPair: toBase64(account.identityKeyPair),
    ...(own?.profileKey ? { profileKey: toBase64(own.profileKey) } : {}),
    contacts: await provisionedContacts(platform, account.accountId),
    settings: { chats },
    ...(organization
      ? {
          organization: {
            publicKey: toBase64(organization.pinnedKey),
            pinnedAt: organization.pinnedAt,
            presentedKey: organization.presentedKey ? toBase64(organization.presentedKey) : null,
          },
        }
      : {}),
  };
};

/** Seals the current content under `key`; returns the sealed bytes (base64) and the content's digest. */
const sealCurrent = async (ctx: MessengerContext, key: Uint8Array): Promise<{ backup: string; digest: Uint8Array }> => {
  const { platform, account } = ctx;
  const content = await backupContent(platform, account);
  const digest = accountBackupDigest(key, utf8.encode(JSON.stringify(content)));
  const plaintext = utf8.encode(JSON.stringify({ ...content, createdAt: platform.clock.now() }));
  const sealed = sealAccountBackup(key, account.accountId, plaintext, (n) => platform.random.bytes(n));
  return { backup: toBase64(sealed), digest };
};

/** Sets (or changes) the account's password: OPAQUE registration and a backup sealed under the new export key. */
export const setPassword = async (ctx: MessengerContext, password: string): Promise<void> => {
  validatePassword(password);
  const opaque = await loadOpaque();
  const { api, account, platform } = ctx;
  const started = opaque.client.startRegistration({ password });
  const { registrationResponse } = await api.passwordRegistrationStart({
    registrationRequest: started.registrationRequest,
  });
  const finished = opaque.client.finishRegistration({
    clientRegistrationState: started.clientRegistrationState,
    registrationResponse,
    password,
  });
  const key = deriveAccountBackupKey(fromBase64Url(finished.exportKey), account.accountId);
  const { backup, digest } = await sealCurrent(ctx, key);
  await api.passwordRegistrationFinish({ registrationRecord: finished.registrationRecord, backup });
  await platform.storage.commit([metaPut('passwordBackup', { key, digest, uploadedAt: platform.clock.now() })]);
};

/** Removes the password: the server deletes the record and the backup; this device forgets the backup key. */
export const removePassword = async (ctx: MessengerContext): Promise<void> => {
  await ctx.api.removePassword();
  await ctx.platform.storage.commit([{ op: 'delete', table: 'meta', key: metaKeys.passwordBackup }]);
};

/** Whether the account has a password (asks the server: another device may have set or removed it). */
export const hasPassword = async (ctx: MessengerContext): Promise<boolean> => (await ctx.api.passwordStatus()).enabled;

/**
 * Re-seals and uploads the backup when this device holds the backup key and the content changed since the last
 * upload; forgets the key when the server says the password is gone. Returns whether it uploaded.
 */
export const refreshPasswordBackup = async (ctx: MessengerContext): Promise<boolean> => {
  const { platform, api } = ctx;
  const stored = await readMeta(platform.storage, 'passwordBackup');
  if (!stored) return false;
  const { backup, digest } = await sealCurrent(ctx, stored.key);
  if (constantTimeEqual(digest, stored.digest)) return false;
  if (!(await api.putPasswordBackup({ backup }))) {
    await platform.storage.commit([{ op: 'delete', table: 'meta', key: metaKeys.passwordBackup }]);
    return false;
  }
  await platform.storage.commit([
    metaPut('passwordBackup', { key: stored.key, digest, uploadedAt: platform.clock.now() }),
  ]);
  return true;
};

/** An opened, checked backup: what a new device stores beside its own keys. */
export type RestoredAccount = {
  accountId: string;
  username: string | null;
  identity: IdentityKeyPair;
  profileKey?: Uint8Array;
  writes: WriteOp[];
};

/** Opens and checks a sealed backup of `accountId`; anything wrong is `link_failed` (the server sent garbage). */
export const openBackup = (key: Uint8Array, accountId: string, sealed: Uint8Array, now: number): RestoredAccount => {
  const fail = (why: string): never => {
    throw new ClientError(ClientErrorCode.LinkFailed, `refused the account backup: ${why}`);
  };
  let parsed: AccountBackup;
  try {
    const result = AccountBackup.safeParse(JSON.parse(fromUtf8.decode(openAccountBackup(key, accountId, sealed))));
    if (!result.success) return fail('malformed content');
    parsed = result.data;
  } catch {
    return fail('it does not authenticate');
  }
  if (parsed.accountId !== accountId.toLowerCase()) return fail('it is another account’s');
  let identity: IdentityKeyPair;
  try {
    identity = IdentityKeyPair.deserialize(fromBase64(parsed.identityKeyPair));
  } catch {
    return fail('bad identity key');
  }
  let profileKey: Uint8Array | undefined;
  if (parsed.profileKey !== undefined) {
    profileKey = fromBase64(parsed.profileKey);
    if (profileKey.length !== 32) return fail('bad profile key');
  }
  const writes = contactWrites(parsed.contacts, parsed.accountId, now, fail);
  for (const chat of parsed.settings.chats) {
    const value: ChatPreferencesRecord = {
      mutedUntil: chat.mutedUntil,
      pinnedAt: chat.pinnedAt,
      // The conversation has no messages here yet: archived "after nothing", so it stays archived until one arrives.
      archivedAfter: chat.archived ? '' : null,
    };
    writes.push({ op: 'put', table: 'meta', key: CHAT_PREFERENCES_PREFIX + chat.conversationId, value });
  }
  if (parsed.organization) {
    // The pin (and a warning already raised) carry over: this device never pins the server's word on first use.
    const keyOf = (text: string): Uint8Array => {
      try {
        return PublicKey.deserialize(fromBase64(text)).serialize();
      } catch {
        return fail('bad organization key');
      }
    };
    const pinnedKey = keyOf(parsed.organization.publicKey);
    const presented = parsed.organization.presentedKey === null ? null : keyOf(parsed.organization.presentedKey);
    const record: OrganizationRecord = {
      pinnedKey,
      pinnedAt: parsed.organization.pinnedAt,
      presentedKey: presented && !equalBytes(presented, pinnedKey) ? presented : null,
      privateKey: null,
      auditHead: null,
    };
    writes.push(metaPut('organization', record));
  }
  return {
    accountId: parsed.accountId,
    username: parsed.username,
    identity,
    writes,
    ...(profileKey ? { profileKey } : {}),
  };
};

/**
 * A new device's login: OPAQUE with the server for `username`, then the backup and the link token, then this device
 * registered on the account with its own fresh keys. `extraWrites` come with the account's commit (the own profile).
 */
export const loginWithPassword = async (
  platform: Platform,
  api: ApiClient,
  username: string,
  password: string,
  ownProfileWrites: (restored: RestoredAccount) => WriteOp[],
  options: { oneTimePreKeys?: number | undefined; deviceName?: string | undefined },
): Promise<{ account: AccountRecord; restored: RestoredAccount }> => {
  if (password.length === 0) throw new ClientError(ClientErrorCode.InvalidInput, 'the password is empty');
  const opaque = await loadOpaque();
  const started = opaque.client.startLogin({ password });
  let response;
  try {
    response = await api.passwordLoginStart({ username, startLoginRequest: started.startLoginRequest });
  } catch (error) {
    if (error instanceof ServerResponseError && error.errorCode === 'invalid_request')
      throw new ClientError(ClientErrorCode.InvalidInput, `not a username: ${username}`);
    throw error;
  }
  const finished = opaque.client.finishLogin({
    clientLoginState: started.clientLoginState,
    loginResponse: response.loginResponse,
    password,
  });
  const wrong = (): ClientError =>
    new ClientError(ClientErrorCode.WrongPassword, 'wrong username or password (or no password set for it)');
  if (!finished) throw wrong();
  let released;
  try {
    released = await api.passwordLoginFinish({
      loginId: response.loginId,
      finishLoginRequest: finished.finishLoginRequest,
    });
  } catch (error) {
    if (error instanceof ClientError && error.code === ClientErrorCode.Unauthorized) throw wrong();
    throw error;
  }
  const key = deriveAccountBackupKey(fromBase64Url(finished.exportKey), released.accountId);
  const now = platform.clock.now();
  const restored = openBackup(key, released.accountId, fromBase64(released.backup), now);
  const digest = accountBackupDigest(key, new Uint8Array(0));
  const account = await createLinkedAccount(
    platform.storage,
    api,
    platform.random,
    now,
    {
      accountId: restored.accountId,
      username: restored.username,
      identity: restored.identity,
      provisioningCode: released.linkToken,
    },
    [
      ...restored.writes,
      ...ownProfileWrites(restored),
      // This device now holds the backup key too; an empty-content digest makes its first upkeep re-seal the backup.
      metaPut('passwordBackup', { key, digest, uploadedAt: 0 }),
    ],
    options,
  );
  return { account, restored };
};
