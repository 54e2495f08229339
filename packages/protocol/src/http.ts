/**
 * Schemas (zod) and types of every HTTP request and response body of the Cove API (`/v1/...`). Binary values are
 * standard base64 strings; the schemas check their shape and length, the server additionally decodes them and checks
 * key type bytes and signatures. This module does not know routes or statuses (see `openapi.ts`) and does no I/O.
 */
import { z } from 'zod';

import { BASE64_PATTERN, base64Length } from './base64.js';
import { ErrorCode } from './errors.js';
import {
  EC_PUBLIC_KEY_BYTES,
  KYBER_PUBLIC_KEY_BYTES,
  MAX_DEVICE_ID,
  MAX_DEVICES_PER_ACCOUNT,
  DIRECTORY_QUERY_PATTERN,
  MAX_DIRECTORY_RESULTS,
  MAX_ENVELOPE_CONTENT_BYTES,
  MAX_MULTI_RECIPIENT_ACCOUNTS,
  MAX_MULTI_RECIPIENT_DEVICES,
  MAX_PREKEY_ID,
  MAX_PREKEYS_PER_UPLOAD,
  MAX_REGISTRATION_ID,
  MAX_SEALED_MULTI_RECIPIENT_BYTES,
  MAX_SECRET_BYTES,
  MIN_SECRET_BYTES,
  PROFILE_CIPHERTEXT_SIZES,
  PROFILE_VERSION_PATTERN,
  SIGNATURE_BYTES,
  UNIDENTIFIED_ACCESS_KEY_BYTES,
  USERNAME_PATTERN,
} from './limits.js';

const B64 = '[A-Za-z0-9+/]';

/** Base64 of exactly `bytes` bytes whose first byte has top six bits given by `firstChar` (a type byte). */
function fixedBase64(bytes: number, description: string, firstChar?: string): z.ZodString {
  const length = base64Length(bytes);
  const padding = bytes % 3 === 0 ? '' : bytes % 3 === 1 ? '==' : '=';
  const head = firstChar ?? B64;
  const pattern = new RegExp(`^${head}${B64}{${length - padding.length - 1}}${padding}$`);
  return z.string().regex(pattern, `must be base64 of ${bytes} bytes`).describe(description);
}

/** Base64 of between `min` and `max` bytes. */
function base64Bytes(min: number, max: number, description: string): z.ZodString {
  return z
    .string()
    .min(base64Length(min))
    .max(base64Length(max))
    .regex(BASE64_PATTERN, 'must be standard base64')
    .describe(description);
}

/**
 * Ids are UUIDs in one canonical spelling, lower case: PostgreSQL compares uuids regardless of case, so a server
 * keying rate limits, sockets, presence or acks on the raw string would see `ABC…` and `abc…` as two ids. Every
 * schema below that carries an id lower-cases it while parsing (the JSON schema and the type stay a plain uuid).
 */
export const AccountId = z
  .uuid()
  .toLowerCase()
  .describe('Account id (UUID; read in any case, canonical in lower case)');
export const DeviceId = z.number().int().min(1).max(MAX_DEVICE_ID).describe('Device id within the account');
export const RegistrationId = z.number().int().min(1).max(MAX_REGISTRATION_ID);
export const KeyId = z.number().int().min(0).max(MAX_PREKEY_ID);
export const Timestamp = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).describe('Milliseconds since the epoch');
export const Guid = z.uuid().toLowerCase().describe('Envelope id assigned by the server (canonical in lower case)');
export const Username = z.string().regex(USERNAME_PATTERN, '3-32 letters, digits, "_" or "."');

/** A serialized libsignal EC public key: 0x05 then 32 bytes. */
export const EcPublicKey = fixedBase64(EC_PUBLIC_KEY_BYTES, 'EC public key (0x05 + 32 bytes), base64', 'B');
/** A serialized libsignal Kyber1024 public key: 0x08 then 1,568 bytes. */
export const KyberPublicKey = fixedBase64(KYBER_PUBLIC_KEY_BYTES, 'Kyber1024 public key (0x08 + 1568 bytes)', 'C');
/** An XEdDSA signature. */
export const Signature = fixedBase64(SIGNATURE_BYTES, 'XEdDSA signature (64 bytes), base64');
/** A device credential (random bytes made by the client). */
export const Secret = base64Bytes(MIN_SECRET_BYTES, MAX_SECRET_BYTES, 'Device credential: 32-64 random bytes, base64');
export const EnvelopeContent = base64Bytes(1, MAX_ENVELOPE_CONTENT_BYTES, 'Opaque encrypted message, base64');

export const PreKey = z.strictObject({ keyId: KeyId, publicKey: EcPublicKey });
export const SignedPreKey = z.strictObject({ keyId: KeyId, publicKey: EcPublicKey, signature: Signature });
export const KyberPreKey = z.strictObject({ keyId: KeyId, publicKey: KyberPublicKey, signature: Signature });

const preKeyList = z.array(PreKey).max(MAX_PREKEYS_PER_UPLOAD);
const kyberPreKeyList = z.array(KyberPreKey).max(MAX_PREKEYS_PER_UPLOAD);

/** Organization roles (docs/organizations.md). */
export const OrganizationRole = z.enum(['owner', 'admin', 'member']);
/** The 34-byte body of a role certificate (see @cove/crypto role-certificate.ts), base64. */
export const RoleCertificateBody = fixedBase64(34, 'Role certificate body (34 bytes), base64');

/** `PUT /v1/org/key`: the owner publishes the organization key's public half (once). */
export const SetOrganizationKeyRequest = z.strictObject({ publicKey: EcPublicKey });
/** A role certificate and its XEdDSA signature by the organization key. */
export const RoleCertificateRequest = z.strictObject({ certificate: RoleCertificateBody, signature: Signature });
export const RoleCertificateResponse = z.object({
  accountId: AccountId,
  certificate: RoleCertificateBody,
  signature: Signature,
});
export const RoleCertificateListResponse = z.object({ certificates: z.array(RoleCertificateResponse) });

/** Invites: at most this many uses per code and this long a validity (a year). */
export const MAX_INVITE_USES = 10_000;
export const MAX_INVITE_LIFETIME_SECONDS = 366 * 24 * 3600;
export const InviteId = z.uuid().toLowerCase();
export const CreateInviteRequest = z.strictObject({
  uses: z.number().int().min(1).max(MAX_INVITE_USES).default(1),
  expiresInSeconds: z
    .number()
    .int()
    .min(60)
    .max(MAX_INVITE_LIFETIME_SECONDS)
    .default(7 * 24 * 3600),
});
export const InviteEntry = z.object({
  id: InviteId,
  uses: z.number().int(),
  usesLeft: z.number().int(),
  expiresAt: Timestamp,
  createdAt: Timestamp,
  revoked: z.boolean(),
});
/** The code is shown once, in the answer to the creation; the server keeps only its hash. */
export const CreateInviteResponse = InviteEntry.extend({ code: z.string() });
export const InviteListResponse = z.object({ invites: z.array(InviteEntry) });

/** One device of a member as the admin console lists it: its id, when it was linked and the day it was last active. */
export const MemberDevice = z.object({
  deviceId: DeviceId,
  createdAt: Timestamp,
  lastActiveDay: z.string().describe('YYYY-MM-DD (UTC) of its last activity'),
});
export const MemberEntry = z.object({
  accountId: AccountId,
  username: Username.nullable(),
  role: OrganizationRole.describe('The role the server enforces (clients believe only certificates)'),
  joinedAt: Timestamp,
  lastActiveDay: z.string().nullable().describe('YYYY-MM-DD (UTC) of the last device activity; null without devices'),
  devices: z.number().int(),
  deviceList: z.array(MemberDevice).describe('The devices, oldest first (no names: those are encrypted)'),
  disabled: z.boolean(),
});
export const MemberListResponse = z.object({ members: z.array(MemberEntry) });

/**
 * `GET /v1/org/directory?q=`: a username prefix, read in any case and canonical in lower case (usernames are unique
 * regardless of case).
 */
export const DirectoryQuery = z
  .string()
  .regex(DIRECTORY_QUERY_PATTERN, '1-32 letters, digits, "_" or "."')
  .toLowerCase()
  .describe('Username prefix (case-insensitive)');
export const DirectoryEntry = z.object({ accountId: AccountId, username: Username });
/** Enabled members whose username starts with the prefix, in username order, at most `MAX_DIRECTORY_RESULTS`. */
export const DirectoryResponse = z.object({ entries: z.array(DirectoryEntry).max(MAX_DIRECTORY_RESULTS) });

export const AuditEntry = z.object({
  seq: z.number().int(),
  at: Timestamp,
  event: z.string(),
  actor: z.string().nullable(),
  target: z.string().nullable(),
  prevHash: z.string().describe('Hex SHA-256 of the previous entry (64 zeros for the first)'),
  hash: z.string().describe('Hex SHA-256 over this entry and prevHash'),
});
/** `GET /v1/org/audit?after=`: entries after this sequence number (absent: from the start). */
export const AuditAfterQuery = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional();
export const AuditListResponse = z.object({ entries: z.array(AuditEntry), more: z.boolean() });

/**
 * Retention overrides (`PUT /v1/org/retention`): seconds, or null to fall back to `ENVELOPE_TTL` / `ATTACHMENT_TTL`.
 * At least an hour (shorter would drop messages for a phone that is merely off for the evening), at most a year
 * (longer keeps ciphertext and metadata around for no one).
 */
export const MIN_RETENTION_SECONDS = 3600;
export const MAX_RETENTION_SECONDS = 366 * 24 * 3600;
const retentionSeconds = z.number().int().min(MIN_RETENTION_SECONDS).max(MAX_RETENTION_SECONDS).nullable();
export const RetentionRequest = z.strictObject({
  envelopeTtlSeconds: retentionSeconds,
  attachmentTtlSeconds: retentionSeconds,
});
const RetentionValue = z.object({
  effectiveSeconds: z.number().int().describe('What the server applies now'),
  defaultSeconds: z.number().int().describe('The environment setting'),
  overrideSeconds: z.number().int().nullable().describe("The administrators' override, if any"),
});
export const RetentionResponse = z.object({ envelope: RetentionValue, attachment: RetentionValue });

/** `GET /v1/org/status`: counts only — never content, accounts, addresses or push endpoints. */
export const ServerStatusResponse = z.object({
  version: z.string(),
  uptimeSeconds: z.number().int(),
  connections: z.number().int().describe('Authenticated WebSocket connections on the answering instance'),
  queues: z.array(
    z.object({
      name: z.string(),
      waiting: z.number().int(),
      active: z.number().int(),
      delayed: z.number().int(),
      failed: z.number().int(),
    }),
  ),
  pendingEnvelopes: z.number().int().describe('Envelopes stored and not yet acknowledged, across all devices'),
  accounts: z.number().int(),
  devices: z.number().int(),
});

export const ErrorResponse = z.object({
  error: z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]),
  message: z.string(),
});

export const InfoResponse = z.object({
  name: z.string(),
  version: z.string(),
  registration: z.enum(['open', 'invite', 'sso']),
  sso: z
    .object({ name: z.string().describe('What the sign-in button names: the organization or its identity provider') })
    .optional()
    .describe('Present when registration is by single sign-on (`REGISTRATION=sso`)'),
  vapidPublicKey: z.string().nullable().describe('Web Push application server key (base64url), null until enabled'),
  sealedSenderTrustRoot: EcPublicKey.optional().describe(
    'Public key of the sealed-sender trust root: sender certificates are valid only under it (clients pin it)',
  ),
  organizationKey: EcPublicKey.nullable()
    .optional()
    .describe(
      "Public half of the organization key (the owner's clients made it); role certificates are valid only under it. " +
        'Clients pin it on first use; null until the owner published one',
    ),
  directory: z
    .boolean()
    .optional()
    .describe('Members may search members by username prefix (`ORG_DIRECTORY`; GET /v1/org/directory)'),
  limits: z.object({
    maxDevicesPerAccount: z.number().int(),
    maxEnvelopeContentBytes: z.number().int(),
    maxSendContentBytes: z.number().int(),
    maxHttpBodyBytes: z.number().int(),
    maxWebSocketFrameBytes: z.number().int(),
    maxStoredPreKeys: z.number().int(),
    maxPreKeysPerUpload: z.number().int(),
    maxMultiRecipientAccounts: z
      .number()
      .int()
      .optional()
      .describe('Recipient accounts of one multi-recipient send (PUT /v1/messages/multi)'),
    maxMultiRecipientDevices: z
      .number()
      .int()
      .optional()
      .describe('Recipient devices, all accounts together, of one multi-recipient send'),
    maxAttachmentBytes: z.number().int().optional().describe('Largest attachment upload (ATTACHMENT_MAX_BYTES)'),
    attachmentQuotaBytes: z
      .number()
      .int()
      .optional()
      .describe('Attachment bytes one account may hold, unfinished uploads included (ATTACHMENT_QUOTA_BYTES)'),
  }),
});

/**
 * A device name encrypted by the client (nonce, ciphertext and tag; the server cannot read it): 28 bytes of overhead
 * plus a name of at most 100 bytes of UTF-8.
 */
export const DeviceName = base64Bytes(29, 128, 'Device name, encrypted with a key derived from the identity key');

/** A single-use registration token the server issued after a single sign-on (43 base64url characters). */
export const SsoToken = z
  .string()
  .regex(/^[A-Za-z0-9_-]{43}$/, 'must be 43 base64url characters')
  .describe('Single-use token from a single sign-on (`REGISTRATION=sso`)');

export const CreateAccountRequest = z.strictObject({
  username: Username.optional(),
  inviteCode: z.string().min(1).max(128).optional(),
  ssoToken: SsoToken.optional(),
  secret: Secret,
  registrationId: RegistrationId,
  identityKey: EcPublicKey,
  signedPreKey: SignedPreKey,
  kyberLastResortPreKey: KyberPreKey,
  preKeys: preKeyList.optional(),
  kyberPreKeys: kyberPreKeyList.optional(),
  name: DeviceName.optional(),
});
export const CreateAccountResponse = z.object({ accountId: AccountId, deviceId: DeviceId });

export const SetUsernameRequest = z.strictObject({ username: Username });
export const UsernameResponse = z.object({ username: Username });
export const UsernameLookupResponse = z.object({
  accountId: AccountId,
  username: Username.optional().describe('The username as its owner spelled it (the canonical display spelling)'),
});

export const ProfileVersion = z
  .string()
  .regex(PROFILE_VERSION_PATTERN, 'must be 64 lower-case hex digits')
  .describe('Profile version derived from the profile key (64 hex digits)');

const profileField = (field: keyof typeof PROFILE_CIPHERTEXT_SIZES, description: string): z.ZodString => {
  const sizes = PROFILE_CIPHERTEXT_SIZES[field];
  return base64Bytes(
    Math.min(...sizes),
    Math.max(...sizes),
    `${description}, encrypted with the profile key, base64 of ${sizes.join(', ')} bytes`,
  );
};
export const ProfileName = profileField('name', 'Display name');
export const ProfileAbout = profileField('about', 'About line with its emoji');
export const ProfileAvatar = profileField('avatar', 'Avatar image');

/** The caller's profile: ciphertext only, under the version of its current profile key. Absent fields are cleared. */
export const SetProfileRequest = z.strictObject({
  version: ProfileVersion,
  name: ProfileName.optional(),
  about: ProfileAbout.optional(),
  avatar: ProfileAvatar.optional(),
});
export const ProfileResponse = z.object({
  accountId: AccountId,
  version: ProfileVersion,
  name: ProfileName.optional(),
  about: ProfileAbout.optional(),
  avatar: ProfileAvatar.optional(),
});

export const UploadKeysRequest = z.strictObject({
  preKeys: preKeyList.optional(),
  kyberPreKeys: kyberPreKeyList.optional(),
  signedPreKey: SignedPreKey.optional(),
  kyberLastResortPreKey: KyberPreKey.optional(),
});
export const KeyStatusResponse = z.object({
  preKeyCount: z.number().int(),
  kyberPreKeyCount: z.number().int(),
});

export const PreKeyBundleDevice = z.object({
  deviceId: DeviceId,
  registrationId: RegistrationId,
  signedPreKey: SignedPreKey,
  preKey: PreKey.optional().describe('Absent when the device has no one-time EC prekey left'),
  kyberPreKey: KyberPreKey.describe('A one-time Kyber prekey, or the last-resort one when none is left'),
});
export const PreKeyBundleResponse = z.object({ identityKey: EcPublicKey, devices: z.array(PreKeyBundleDevice) });

/**
 * Envelope types a recipient may receive; the server never looks inside `content`. `prekey` and `whisper` are 1:1
 * Signal messages (one ciphertext per device, `PUT /v1/messages/{accountId}`); `senderkey` is a libsignal
 * SenderKeyMessage (a group message, the same bytes for every recipient device, `PUT /v1/messages/multi`).
 */
export const EnvelopeType = z.enum(['prekey', 'whisper', 'senderkey', 'unidentified-sender']);
/**
 * Types of a 1:1 send: each device gets its own ciphertext. `unidentified-sender` (a sealed-sender message: libsignal's
 * v1 envelope, or a recipient's part of a v2 one) is the only type of a send without credentials, and only there.
 */
export const DirectEnvelopeType = z.enum(['prekey', 'whisper', 'unidentified-sender']);
/**
 * Types of a multi-recipient send: one ciphertext for every recipient device, stored once. `sealed-v2` (libsignal's
 * multi-recipient sealed sender, from which the server extracts each recipient's part) is reserved for this path.
 */
export const MultiRecipientEnvelopeType = z.enum(['senderkey']);

export const OutgoingMessage = z.strictObject({
  destinationDeviceId: DeviceId,
  destinationRegistrationId: RegistrationId,
  type: DirectEnvelopeType,
  content: EnvelopeContent,
});
export const SendMessagesRequest = z.strictObject({
  timestamp: Timestamp,
  messages: z.array(OutgoingMessage).min(1).max(MAX_DEVICES_PER_ACCOUNT),
  urgent: z.boolean().optional(),
  notice: z
    .boolean()
    .optional()
    .describe(
      'The envelopes carry an organization notice: only an admin or the owner (by a certificate the server verified) ' +
        'may send one (403 otherwise); never with sealed (unidentified-sender) envelopes',
    ),
});
export const SendMessagesResponse = z.object({ serverTimestamp: Timestamp });
export const MismatchedDevicesResponse = ErrorResponse.extend({
  missingDevices: z.array(DeviceId),
  extraDevices: z.array(DeviceId),
});
export const StaleDevicesResponse = ErrorResponse.extend({ staleDevices: z.array(DeviceId) });
/** `507 queue_full`: the recipient and which of its devices have no room for the send. */
export const QueueFullResponse = ErrorResponse.extend({ accountId: AccountId, fullDevices: z.array(DeviceId) });

/** One recipient device of a multi-recipient send, with the registration id the sender believes it has. */
export const MultiRecipientDevice = z.strictObject({ deviceId: DeviceId, registrationId: RegistrationId });
/**
 * One recipient account of a multi-recipient send and the devices addressed: exactly its current devices (for the
 * sender's own account, all its other devices), each once.
 */
export const MultiRecipient = z.strictObject({
  accountId: AccountId,
  devices: z.array(MultiRecipientDevice).min(1).max(MAX_DEVICES_PER_ACCOUNT),
});

/** The fields of a multi-recipient send (`PUT /v1/messages/multi`, and the `message` of a `send-multi` frame). */
const sendMultiFields = {
  type: MultiRecipientEnvelopeType,
  content: EnvelopeContent.describe('The one ciphertext every recipient device receives, base64'),
  timestamp: Timestamp,
  urgent: z.boolean().optional().describe('Wake offline devices at once (default true)'),
  online: z
    .boolean()
    .optional()
    .describe('Deliver only to devices connected now and store nothing (e.g. typing indicators); default false'),
  recipients: z.array(MultiRecipient).min(1).max(MAX_MULTI_RECIPIENT_ACCOUNTS),
  notice: z
    .boolean()
    .optional()
    .describe(
      "The one ciphertext is an organization notice (under the sender device's organization-notice sender key): only " +
        'an admin or the owner (by a certificate the server verified) may send one (403 otherwise)',
    ),
};

/**
 * Refuses what a schema of one field cannot: an account listed twice, a device listed twice within its account
 * (`invalid_request`), and more recipient devices than {@link MAX_MULTI_RECIPIENT_DEVICES} all accounts together
 * (`too_big`, answered `413` like the other size limits). Ids are compared in their canonical (lower-case) form.
 */
function checkMultiRecipients(
  value: { recipients: Array<z.infer<typeof MultiRecipient>> },
  ctx: z.RefinementCtx,
): void {
  const accounts = new Set<string>();
  let devices = 0;
  value.recipients.forEach((recipient, index) => {
    if (accounts.has(recipient.accountId)) {
      ctx.addIssue({ code: 'custom', path: ['recipients', index, 'accountId'], message: 'an account appears twice' });
    }
    accounts.add(recipient.accountId);
    const ids = new Set(recipient.devices.map((d) => d.deviceId));
    if (ids.size !== recipient.devices.length) {
      ctx.addIssue({ code: 'custom', path: ['recipients', index, 'devices'], message: 'a device appears twice' });
    }
    devices += recipient.devices.length;
  });
  if (devices > MAX_MULTI_RECIPIENT_DEVICES) {
    ctx.addIssue({
      code: 'too_big',
      origin: 'array',
      maximum: MAX_MULTI_RECIPIENT_DEVICES,
      inclusive: true,
      input: devices,
      path: ['recipients'],
      message: `more than ${MAX_MULTI_RECIPIENT_DEVICES} recipient devices`,
    });
  }
}

/** `PUT /v1/messages/multi`: one ciphertext for many devices of many accounts (a group message). */
export const SendMultiRequest = z.strictObject(sendMultiFields).superRefine(checkMultiRecipients);
/**
 * `200`: stored for `stored` devices (0 for an `online` send, which stores nothing). Devices whose queue was full
 * are skipped (the others still get the message) and listed in `queueFull`. No envelope guids: the sender never
 * needs them, and only the recipient device may acknowledge its envelope.
 */
export const SendMultiResponse = z.object({
  serverTimestamp: Timestamp,
  stored: z.number().int().min(0).describe('Devices the message was stored for'),
  queueFull: z
    .array(z.object({ accountId: AccountId, fullDevices: z.array(DeviceId) }))
    .optional()
    .describe('Devices skipped because their queue is full (present only when there are any)'),
});
/**
 * `409 mismatched_devices` of a multi-recipient send: every recipient whose current devices the send does not cover
 * exactly. `staleDevices` lists that recipient's addressed devices with a changed registration id too, and recipients
 * with only stale devices are listed with empty `missingDevices`/`extraDevices`, so one answer repairs everything.
 */
export const MultiRecipientMismatchedDevicesResponse = ErrorResponse.extend({
  accounts: z.array(
    z.object({
      accountId: AccountId,
      missingDevices: z.array(DeviceId),
      extraDevices: z.array(DeviceId),
      staleDevices: z.array(DeviceId),
    }),
  ),
});
/** `410 stale_devices` of a multi-recipient send (nothing missing or extra anywhere): every recipient concerned. */
export const MultiRecipientStaleDevicesResponse = ErrorResponse.extend({
  accounts: z.array(z.object({ accountId: AccountId, staleDevices: z.array(DeviceId) })),
});
/** `404 not_found` of a multi-recipient send: every recipient account that does not exist. */
export const MultiRecipientNotFoundResponse = ErrorResponse.extend({
  accounts: z.array(z.object({ accountId: AccountId })),
});

/**
 * `PUT /v1/messages/multi` without credentials and with `Unidentified-Access-Key` (the XOR of every recipient's key):
 * libsignal's SealedSenderMultiRecipientMessage (sent form), from which the server takes the recipients, their devices
 * and registration ids, and cuts each recipient's part; every device gets an `unidentified-sender` envelope.
 */
export const SendSealedMultiRequest = z.strictObject({
  type: z.literal('unidentified-sender'),
  content: base64Bytes(1, MAX_SEALED_MULTI_RECIPIENT_BYTES, 'SealedSenderMultiRecipientMessage (sent form), base64'),
  timestamp: Timestamp,
  urgent: z.boolean().optional().describe('Wake offline devices at once (default true)'),
  online: z
    .boolean()
    .optional()
    .describe('Deliver only to devices connected now and store nothing (e.g. typing indicators); default false'),
  notice: z
    .boolean()
    .optional()
    .describe('Always refused when true (403): organization notices are sent identified, so the server sees who sends'),
});

/** The body of `PUT /v1/messages/multi`: an identified send, or (without credentials) a sealed v2 one. */
export const SendMultiRouteRequest = z.discriminatedUnion('type', [SendMultiRequest, SendSealedMultiRequest]);

/** An unidentified access key: 16 bytes, base64. */
export const UnidentifiedAccessKey = fixedBase64(UNIDENTIFIED_ACCESS_KEY_BYTES, 'Unidentified access key (16 bytes)');

/**
 * `PUT /v1/accounts/attributes`: the account's unidentified access key (derived from its profile key; null removes
 * it) and whether anyone may send it sealed messages without the key. Absent fields are left as they are.
 */
export const AccountAttributesRequest = z.strictObject({
  unidentifiedAccessKey: UnidentifiedAccessKey.nullable().optional(),
  unrestrictedUnidentifiedAccess: z.boolean().optional(),
});
/**
 * `GET /v1/accounts/attributes`: the caller's own sealed-sender setting, as its devices last set it (the account's
 * state on the server, so every device of the account reads the same). The access key itself is not echoed.
 */
export const AccountAttributesResponse = z.object({ unrestrictedUnidentifiedAccess: z.boolean() });

/** `GET /v1/certificate/delivery`: a short-lived sender certificate of the caller's device, signed by the server. */
export const SenderCertificateResponse = z.object({
  certificate: z
    .string()
    .describe("libsignal SenderCertificate (the caller's account, device and identity key), base64"),
  expiresAt: Timestamp.describe('When the certificate expires (ms since the epoch)'),
});

export const Envelope = z.object({
  guid: Guid,
  type: EnvelopeType,
  sourceAccountId: AccountId.optional().describe('The sender; absent for `unidentified-sender` (sealed sender)'),
  sourceDeviceId: DeviceId.optional().describe("The sender's device; absent for `unidentified-sender`"),
  timestamp: Timestamp.describe("The sender's timestamp"),
  serverTimestamp: Timestamp.describe('When the server accepted it'),
  content: z.string().describe('Opaque encrypted message, base64'),
});
export const EnvelopeListResponse = z.object({ envelopes: z.array(Envelope), more: z.boolean() });

export const DeviceInfo = z.object({
  deviceId: DeviceId,
  registrationId: RegistrationId,
  createdAt: Timestamp,
  lastSeenAt: Timestamp,
  /** The encrypted device name (standard base64), or null when the device gave none. */
  name: z.string().nullable(),
});
export const DeviceListResponse = z.object({ devices: z.array(DeviceInfo) });

export const ProvisioningCodeResponse = z.object({
  code: z.string().describe('Single-use code that lets a new device join this account'),
  expiresAt: Timestamp,
});
export const LinkDeviceRequest = z.strictObject({
  provisioningCode: z.string().min(1).max(128),
  ssoToken: SsoToken.optional(),
  secret: Secret,
  registrationId: RegistrationId,
  signedPreKey: SignedPreKey,
  kyberLastResortPreKey: KyberPreKey,
  preKeys: preKeyList.optional(),
  kyberPreKeys: kyberPreKeyList.optional(),
  name: DeviceName.optional(),
});
export const LinkDeviceResponse = CreateAccountResponse;

/** The start of a device authorization grant (RFC 8628) that the server runs with the identity provider. */
export const SsoDeviceStartResponse = z.object({
  handle: z.string().describe('Names this sign-in when polling (not the identity provider’s device code)'),
  userCode: z.string(),
  verificationUri: z.string().url(),
  verificationUriComplete: z.string().url().optional(),
  interval: z.number().int().positive().describe('Seconds to wait between polls'),
  expiresAt: Timestamp,
});
export const SsoDevicePollRequest = z.strictObject({ handle: z.string().regex(/^[A-Za-z0-9_-]{22}$/) });
/** A finished single sign-on: the username the organization gives this person, and the token to register with. */
export const SsoGrantResponse = z.object({
  username: Username,
  ssoToken: SsoToken,
  existingAccount: z.boolean().describe('This person already has an account: the token links a device to it'),
  expiresAt: Timestamp,
});

export const WebSocketTicketResponse = z.object({
  ticket: z.string().describe('Single-use, short-lived ticket for the WebSocket auth frame'),
  expiresAt: Timestamp,
});

export const HealthResponse = z.object({ status: z.enum(['ok', 'unavailable']) });

export type ErrorResponse = z.infer<typeof ErrorResponse>;
export type InfoResponse = z.infer<typeof InfoResponse>;
export type OrganizationRole = z.infer<typeof OrganizationRole>;
export type SetOrganizationKeyRequest = z.infer<typeof SetOrganizationKeyRequest>;
export type RoleCertificateRequest = z.infer<typeof RoleCertificateRequest>;
export type RoleCertificateResponse = z.infer<typeof RoleCertificateResponse>;
export type RoleCertificateListResponse = z.infer<typeof RoleCertificateListResponse>;
export type CreateInviteRequest = z.infer<typeof CreateInviteRequest>;
export type InviteEntry = z.infer<typeof InviteEntry>;
export type CreateInviteResponse = z.infer<typeof CreateInviteResponse>;
export type InviteListResponse = z.infer<typeof InviteListResponse>;
export type MemberEntry = z.infer<typeof MemberEntry>;
export type MemberListResponse = z.infer<typeof MemberListResponse>;
export type DirectoryEntry = z.infer<typeof DirectoryEntry>;
export type DirectoryResponse = z.infer<typeof DirectoryResponse>;
export type AuditEntry = z.infer<typeof AuditEntry>;
export type AuditListResponse = z.infer<typeof AuditListResponse>;
export type MemberDevice = z.infer<typeof MemberDevice>;
export type RetentionRequest = z.infer<typeof RetentionRequest>;
export type RetentionResponse = z.infer<typeof RetentionResponse>;
export type ServerStatusResponse = z.infer<typeof ServerStatusResponse>;
export type PreKey = z.infer<typeof PreKey>;
export type SignedPreKey = z.infer<typeof SignedPreKey>;
export type KyberPreKey = z.infer<typeof KyberPreKey>;
export type CreateAccountRequest = z.infer<typeof CreateAccountRequest>;
export type CreateAccountResponse = z.infer<typeof CreateAccountResponse>;
export type SetUsernameRequest = z.infer<typeof SetUsernameRequest>;
export type UsernameResponse = z.infer<typeof UsernameResponse>;
export type UsernameLookupResponse = z.infer<typeof UsernameLookupResponse>;
export type SetProfileRequest = z.infer<typeof SetProfileRequest>;
export type ProfileResponse = z.infer<typeof ProfileResponse>;
export type UploadKeysRequest = z.infer<typeof UploadKeysRequest>;
export type KeyStatusResponse = z.infer<typeof KeyStatusResponse>;
export type PreKeyBundleDevice = z.infer<typeof PreKeyBundleDevice>;
export type PreKeyBundleResponse = z.infer<typeof PreKeyBundleResponse>;
export type EnvelopeType = z.infer<typeof EnvelopeType>;
export type DirectEnvelopeType = z.infer<typeof DirectEnvelopeType>;
export type MultiRecipientEnvelopeType = z.infer<typeof MultiRecipientEnvelopeType>;
export type MultiRecipientDevice = z.infer<typeof MultiRecipientDevice>;
export type MultiRecipient = z.infer<typeof MultiRecipient>;
export type SendMultiRequest = z.infer<typeof SendMultiRequest>;
export type SendMultiResponse = z.infer<typeof SendMultiResponse>;
export type MultiRecipientMismatchedDevicesResponse = z.infer<typeof MultiRecipientMismatchedDevicesResponse>;
export type MultiRecipientStaleDevicesResponse = z.infer<typeof MultiRecipientStaleDevicesResponse>;
export type MultiRecipientNotFoundResponse = z.infer<typeof MultiRecipientNotFoundResponse>;
export type OutgoingMessage = z.infer<typeof OutgoingMessage>;
export type SendMessagesRequest = z.infer<typeof SendMessagesRequest>;
export type SendMessagesResponse = z.infer<typeof SendMessagesResponse>;
export type MismatchedDevicesResponse = z.infer<typeof MismatchedDevicesResponse>;
export type StaleDevicesResponse = z.infer<typeof StaleDevicesResponse>;
export type QueueFullResponse = z.infer<typeof QueueFullResponse>;
export type Envelope = z.infer<typeof Envelope>;
export type SendSealedMultiRequest = z.infer<typeof SendSealedMultiRequest>;
export type SendMultiRouteRequest = z.infer<typeof SendMultiRouteRequest>;
export type AccountAttributesRequest = z.infer<typeof AccountAttributesRequest>;
export type AccountAttributesResponse = z.infer<typeof AccountAttributesResponse>;
export type SenderCertificateResponse = z.infer<typeof SenderCertificateResponse>;
export type EnvelopeListResponse = z.infer<typeof EnvelopeListResponse>;
export type DeviceInfo = z.infer<typeof DeviceInfo>;
export type DeviceListResponse = z.infer<typeof DeviceListResponse>;
export type ProvisioningCodeResponse = z.infer<typeof ProvisioningCodeResponse>;
export type LinkDeviceRequest = z.infer<typeof LinkDeviceRequest>;
export type SsoDeviceStartResponse = z.infer<typeof SsoDeviceStartResponse>;
export type SsoDevicePollRequest = z.infer<typeof SsoDevicePollRequest>;
export type SsoGrantResponse = z.infer<typeof SsoGrantResponse>;
export type LinkDeviceResponse = z.infer<typeof LinkDeviceResponse>;
export type WebSocketTicketResponse = z.infer<typeof WebSocketTicketResponse>;
