/**
 * Username and password login (OPAQUE, RFC 9807, as `@serenity-kit/opaque` implements it; docs/password-login.md):
 * the bodies of registering a password (an authenticated device), logging in by username on a new device
 * (unauthenticated), refreshing and removing the account backup, and the account backup's plaintext, which clients
 * seal with a key from OPAQUE's export key before the server ever holds it. OPAQUE messages are the library's
 * base64url strings, opaque to this module; the server only checks their shape here. No I/O, no crypto.
 */
import { z } from 'zod';

import { BASE64_PATTERN, base64Length } from './base64.js';
import { AccountId, Timestamp, Username } from './http.js';
import { MAX_PROVISIONED_CONTACTS, ProvisionedContact } from './provisioning.js';

/** A sealed backup's largest size: 800 contacts with keys and names, and per-chat settings, with room to spare. */
export const MAX_ACCOUNT_BACKUP_BYTES = 192 * 1024;
/** Chats whose settings (muted, pinned, archived) a backup carries. */
export const MAX_BACKUP_CHAT_SETTINGS = 2000;
/** How long the link token a successful password login returns authorizes `POST /v1/devices`. */
export const PASSWORD_LINK_TOKEN_TTL_MS = 5 * 60 * 1000;

/** An OPAQUE protocol message (base64url, no padding); the largest, a registration record, is 192 bytes. */
export const OpaqueMessage = z
  .string()
  .min(16)
  .max(512)
  .regex(/^[A-Za-z0-9_-]+$/, 'must be an OPAQUE message (base64url)')
  .describe('OPAQUE protocol message, base64url as @serenity-kit/opaque encodes it');

/** A sealed account backup, standard base64, at most {@link MAX_ACCOUNT_BACKUP_BYTES}. */
export const SealedAccountBackup = z
  .string()
  .min(base64Length(29))
  .max(base64Length(MAX_ACCOUNT_BACKUP_BYTES))
  .regex(BASE64_PATTERN, 'must be standard base64')
  .describe('The account backup sealed by the client (docs/password-login.md); the server cannot open it');

/** 16 random bytes naming one login in progress, base64url. */
export const PasswordLoginId = z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'must be a login id');

/** `POST /v1/accounts/password/registration/start`. */
export const PasswordRegistrationStartRequest = z.strictObject({ registrationRequest: OpaqueMessage });
export const PasswordRegistrationStartResponse = z.object({ registrationResponse: OpaqueMessage });

/** `POST /v1/accounts/password/registration/finish`: the record and the backup sealed under the new export key. */
export const PasswordRegistrationFinishRequest = z.strictObject({
  registrationRecord: OpaqueMessage,
  backup: SealedAccountBackup,
});

/** `PUT /v1/accounts/password/backup`: a fresher backup under the same password (contacts changed). */
export const PasswordBackupRequest = z.strictObject({ backup: SealedAccountBackup });

/** `GET /v1/accounts/password`: whether this account has a password, since when. */
export const PasswordStatusResponse = z.object({ enabled: z.boolean(), updatedAt: Timestamp.nullable() });

/** `POST /v1/accounts/password/login/start` (unauthenticated). */
export const PasswordLoginStartRequest = z.strictObject({ username: Username, startLoginRequest: OpaqueMessage });
export const PasswordLoginStartResponse = z.object({
  loginId: PasswordLoginId,
  loginResponse: OpaqueMessage,
  expiresAt: Timestamp,
});

/** `POST /v1/accounts/password/login/finish` (unauthenticated). */
export const PasswordLoginFinishRequest = z.strictObject({
  loginId: PasswordLoginId,
  finishLoginRequest: OpaqueMessage,
});
export const PasswordLoginFinishResponse = z.object({
  accountId: AccountId,
  backup: SealedAccountBackup,
  /** Single-use: `provisioningCode` of `POST /v1/devices`, until `linkTokenExpiresAt`. */
  linkToken: z.string().min(1).max(128),
  linkTokenExpiresAt: Timestamp,
});

/** One chat's settings in a backup (the chat preferences of the device that made it). */
export const BackupChatSettings = z.strictObject({
  conversationId: z.string().min(1).max(128),
  mutedUntil: z.number().int().min(0).max(8.64e15).nullable(),
  pinnedAt: z.number().int().min(0).max(8.64e15).nullable(),
  archived: z.boolean(),
});

/**
 * The plaintext of an account backup (JSON, sealed with the account backup cipher of `@cove/crypto`): everything a
 * new device needs to be the account, and nothing of the conversations themselves (no messages, no sessions).
 */
export const AccountBackup = z.strictObject({
  version: z.literal(1),
  createdAt: z.number().int().min(0).max(8.64e15),
  accountId: AccountId,
  username: Username.nullable(),
  /** Standard base64 of the serialized identity key pair. */
  identityKeyPair: z.string().min(1).max(256),
  /** Standard base64 of the account's profile key (32 bytes). */
  profileKey: z.string().length(base64Length(32)).optional(),
  contacts: z.array(ProvisionedContact).max(MAX_PROVISIONED_CONTACTS),
  settings: z.strictObject({ chats: z.array(BackupChatSettings).max(MAX_BACKUP_CHAT_SETTINGS) }),
  /**
   * The organization key this account's devices pinned (standard base64 of the 33-byte public key), when it was
   * pinned, and a different key the server presented since (the warning, kept), so a restored device inherits the pin
   * instead of trusting the server on first use. Never the private half: a backup is only as strong as the password
   * against whoever holds the OPAQUE record (the server), and the organization key is everyone's root of trust; the
   * owner's other devices get it by linking (docs/organizations.md).
   */
  organization: z
    .strictObject({
      publicKey: z.string().length(base64Length(33)),
      pinnedAt: z.number().int().min(0).max(8.64e15),
      presentedKey: z.string().length(base64Length(33)).nullable(),
    })
    .optional(),
});

export type PasswordRegistrationStartRequest = z.infer<typeof PasswordRegistrationStartRequest>;
export type PasswordRegistrationStartResponse = z.infer<typeof PasswordRegistrationStartResponse>;
export type PasswordRegistrationFinishRequest = z.infer<typeof PasswordRegistrationFinishRequest>;
export type PasswordBackupRequest = z.infer<typeof PasswordBackupRequest>;
export type PasswordStatusResponse = z.infer<typeof PasswordStatusResponse>;
export type PasswordLoginStartRequest = z.infer<typeof PasswordLoginStartRequest>;
export type PasswordLoginStartResponse = z.infer<typeof PasswordLoginStartResponse>;
export type PasswordLoginFinishRequest = z.infer<typeof PasswordLoginFinishRequest>;
export type PasswordLoginFinishResponse = z.infer<typeof PasswordLoginFinishResponse>;
export type BackupChatSettings = z.infer<typeof BackupChatSettings>;
export type AccountBackup = z.infer<typeof AccountBackup>;
