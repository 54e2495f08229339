/**
 * The provisioning channel `/v1/provisioning`: a WebSocket a device that is not yet part of any account opens to
 * receive exactly one opaque message from a device that is. The server answers the connection with its address
 * (`provisioning-address`), relays the one body that an authenticated device puts to `PUT /v1/provisioning/{address}`
 * as `provisioning-message`, then closes with `1000`; with no message after `expiresAt` it closes with
 * {@link ProvisioningCloseCode.Expired}. The new device never sends a frame. The body's meaning (an encrypted
 * provisioning message) is the clients' business; this module does no I/O and no crypto.
 */
import { z } from 'zod';

import { BASE64_PATTERN, base64Length } from './base64.js';
import { HistoryArchivePointer } from './history-archive.js';
import { AccountId, Username } from './http.js';
import { MAX_PROVISIONING_MESSAGE_BYTES } from './limits.js';

/** 16 random bytes, base64url without padding: unguessable, and safe in a URL path and a `cove://link` URI. */
export const ProvisioningAddress = z
  .string()
  .regex(/^[A-Za-z0-9_-]{22}$/, 'must be a provisioning address (22 base64url characters)');

export const ProvisioningAddressFrame = z.strictObject({
  type: z.literal('provisioning-address'),
  address: ProvisioningAddress,
  expiresAt: z.number().int(),
});

export const ProvisioningMessageFrame = z.strictObject({
  type: z.literal('provisioning-message'),
  /** Standard base64 of the opaque body. */
  body: z.string(),
});

export const ProvisioningServerFrame = z.discriminatedUnion('type', [
  ProvisioningAddressFrame,
  ProvisioningMessageFrame,
]);

/** `PUT /v1/provisioning/{address}`: the opaque body, standard base64, at most {@link MAX_PROVISIONING_MESSAGE_BYTES}. */
export const ProvisioningSendRequest = z.strictObject({
  body: z
    .string()
    .min(1)
    .max(base64Length(MAX_PROVISIONING_MESSAGE_BYTES))
    .regex(BASE64_PATTERN, 'must be standard base64'),
});

export const ProvisioningCloseCode = {
  /** The message was relayed: the channel's work is done. */
  Delivered: 1000,
  /** No message arrived in time. */
  Expired: 4008,
  /** The new device sent a frame: it has nothing to say on this channel. */
  Unexpected: 1008,
  /** Too many channels opened from this address; the reason says after how many seconds to retry. */
  RateLimited: 4029,
} as const;

export type ProvisioningAddressFrame = z.infer<typeof ProvisioningAddressFrame>;
export type ProvisioningMessageFrame = z.infer<typeof ProvisioningMessageFrame>;
export type ProvisioningServerFrame = z.infer<typeof ProvisioningServerFrame>;
export type ProvisioningSendRequest = z.infer<typeof ProvisioningSendRequest>;

/** A contact as the existing device hands it to the new one: who, the identity key it trusts, and how. */
export const ProvisionedContact = z.strictObject({
  accountId: AccountId,
  username: Username.nullable(),
  /** Standard base64 of the serialized identity public key (33 bytes), or null when none is known yet. */
  identityKey: z.string().max(64).nullable(),
  trust: z.enum(['trusted-first-use', 'verified', 'unverified']),
  /** Sending stays blocked until the user verifies again (a verified key changed). */
  blocked: z.boolean(),
  /** Standard base64 of the contact's profile key (32 bytes), when we hold it (docs/profiles.md). */
  profileKey: z.string().length(base64Length(32)).optional(),
});

/** Contacts in one provisioning message: as many as fit in {@link MAX_PROVISIONING_MESSAGE_BYTES}. */
export const MAX_PROVISIONED_CONTACTS = 800;

/**
 * The plaintext of a provisioning message (JSON, sealed with the provisioning cipher of `@cove/crypto`): the account's
 * identity key pair, ids, a fresh provisioning code, and the contacts with their verified states. `createdAt` lets the
 * new device refuse a message older than a channel lives.
 */
export const ProvisioningPayload = z.strictObject({
  version: z.literal(1),
  createdAt: z.number().int().min(0).max(8.64e15),
  accountId: AccountId,
  username: Username.nullable(),
  /** Standard base64 of the serialized identity key pair. */
  identityKeyPair: z.string().min(1).max(256),
  provisioningCode: z.string().min(1).max(128),
  contacts: z.array(ProvisionedContact).max(MAX_PROVISIONED_CONTACTS),
  /**
   * Standard base64 of the account's profile key (32 bytes; docs/profiles.md): every device of the account shares one,
   * so a linked device neither replaces the profile nor the access key the server holds. Absent from older devices.
   */
  profileKey: z.string().length(base64Length(32)).optional(),
  /**
   * The organization key the existing device pinned (standard base64 of the 33-byte public key), so the new device
   * inherits the pin instead of trusting the server on first use; on the owner's devices also the private half (32
   * bytes), kept like the identity key (docs/organizations.md). Absent when the device knows no organization key.
   */
  organizationKey: z
    .strictObject({
      publicKey: z.string().length(base64Length(33)),
      privateKey: z.string().length(base64Length(32)).optional(),
    })
    .optional(),
  /**
   * Recent history, when the user chose to transfer it (docs/linking.md): where the encrypted archive was uploaded and
   * its attachment key and digest. Absent: no history comes.
   */
  history: HistoryArchivePointer.optional(),
});

export type ProvisionedContact = z.infer<typeof ProvisionedContact>;
export type ProvisioningPayload = z.infer<typeof ProvisioningPayload>;
