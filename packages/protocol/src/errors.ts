/**
 * The stable error codes the server returns in `{ error, message }` bodies (HTTP) and `error`/`result` frames
 * (WebSocket). Clients branch on the code, never on the message text. This module does not map codes to statuses
 * beyond documenting them; the server does.
 */

export const ErrorCode = {
  /** 400: the body is not JSON. */
  MalformedJson: 'malformed_json',
  /** 400: the body or parameters do not match the schema. */
  InvalidRequest: 'invalid_request',
  /** 400: a public key has the wrong type byte or length. */
  InvalidKey: 'invalid_key',
  /** 400: a prekey signature does not verify against the identity key. */
  InvalidSignature: 'invalid_signature',
  /** 401: missing, malformed or wrong credentials, or an unknown / used ticket. */
  Unauthorized: 'unauthorized',
  /**
   * 401: a send without credentials (sealed sender) whose `Unidentified-Access-Key` is missing, malformed or not the
   * recipient's (for a multi-recipient send: not the XOR of every recipient's key). Fall back to an identified send.
   */
  UnidentifiedAccessDenied: 'unidentified_access_denied',
  /** 403: authenticated but not allowed (e.g. a linked device removing devices, wrong invite code). */
  Forbidden: 'forbidden',
  /** 403: the invite code is missing or unknown while registration is by invitation. */
  InviteRequired: 'invite_required',
  /** 403: the account was disabled by an administrator: it cannot register, log in or link devices again. */
  AccountDisabled: 'account_disabled',
  /** 403: the caller's organization role (by a certificate the server verified) does not allow this. */
  AdminRequired: 'admin_required',
  /** 404: the organization directory is off on this server (`ORG_DIRECTORY=off`). */
  DirectoryDisabled: 'directory_disabled',
  /** 409: the organization key is already published (it changes never through the API). */
  OrganizationKeyExists: 'organization_key_exists',
  /**
   * 403: registration is by single sign-on (`REGISTRATION=sso`) and the request carries no valid single-use
   * `ssoToken`, or (linking a device) one issued to another person than the account's.
   */
  SsoRequired: 'sso_required',
  /** 403: the identity provider's user is not allowed here (e-mail domain or group claim not accepted). */
  SsoNotAllowed: 'sso_not_allowed',
  /** 409: this identity provider's user already has an account: link a new device to it instead. */
  SsoAccountExists: 'sso_account_exists',
  /** 428: the device authorization grant is still waiting for the user; poll again after `interval` seconds. */
  SsoPending: 'sso_pending',
  /** 404: the account, device, envelope or username does not exist (or is not the caller's). */
  NotFound: 'not_found',
  /** 409: the username belongs to another account. */
  UsernameTaken: 'username_taken',
  /** 409: the send does not cover exactly the recipient's current devices. */
  MismatchedDevices: 'mismatched_devices',
  /** 409: the account already has the maximum number of devices, or a key upload exceeds the stored-key cap. */
  LimitReached: 'limit_reached',
  /** 410: a destination registration id no longer matches the device. */
  StaleDevices: 'stale_devices',
  /** 413: a body, frame or envelope is larger than allowed. */
  PayloadTooLarge: 'payload_too_large',
  /** 413: an attachment upload declares more bytes than `ATTACHMENT_MAX_BYTES` (or no length at all: 400). */
  AttachmentTooLarge: 'attachment_too_large',
  /** 507: the account's attachments (finished and in progress) would exceed `ATTACHMENT_QUOTA_BYTES`. */
  AttachmentQuota: 'attachment_quota',
  /** 429: too many requests; retry after the `Retry-After` header. */
  RateLimited: 'rate_limited',
  /**
   * 507: a recipient device has too many undelivered envelopes (count or bytes); nothing of the send was stored. The
   * body names the recipient (`accountId`) and the full devices (`fullDevices`). Retry later: it clears as the
   * device receives its queue.
   */
  QueueFull: 'queue_full',
  /** 500: a bug or an infrastructure failure; nothing about it is disclosed. */
  Internal: 'internal_error',
  /** 503: the server is shutting down or its database is unreachable. */
  Unavailable: 'unavailable',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
