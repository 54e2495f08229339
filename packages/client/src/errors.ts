/**
 * The errors the messenger reports to its callers, each with a stable `code` that UIs and the CLI branch on (the CLI
 * maps them to exit codes). Messages name accounts and statuses only, never content or keys.
 */

export const ClientErrorCode = {
  /** No account in this storage: register first. */
  NotRegistered: 'not_registered',
  /** This storage already holds an account. */
  AlreadyRegistered: 'already_registered',
  /** The server could not be reached (connection refused, DNS, timeout). */
  ServerUnreachable: 'server_unreachable',
  /** The server answered with an error status this client cannot recover from. */
  ServerError: 'server_error',
  /** The server rejected the device credential. */
  Unauthorized: 'unauthorized',
  /** No account has this username (or account id). */
  UnknownUser: 'unknown_user',
  /** The username is taken. */
  UsernameTaken: 'username_taken',
  /** The server requires an invite code. */
  InviteRequired: 'invite_required',
  /** Too many requests; try again later. */
  RateLimited: 'rate_limited',
  /**
   * The recipient has too many undelivered messages waiting on the server (one of its devices has been offline for
   * long): nothing was stored; the message can be retried later ({@link QueueFullError}).
   */
  QueueFull: 'queue_full',
  /** The attachment is larger than the server accepts (`413 attachment_too_large`). */
  AttachmentTooLarge: 'attachment_too_large',
  /** The account's attachment storage on the server is full (`507 attachment_quota`). */
  AttachmentQuota: 'attachment_quota',
  /** A downloaded attachment failed its digest or tag check: nothing of it was decrypted or shown. */
  AttachmentUnverified: 'attachment_unverified',
  /** The attachment is gone from the server (expired or deleted) or not downloaded here. */
  AttachmentUnavailable: 'attachment_unavailable',
  /** This platform has no attachment support (no blob store or binary HTTP). */
  AttachmentsUnsupported: 'attachments_unsupported',
  /** Input that cannot be sent (too long, empty, bad username). */
  InvalidInput: 'invalid_input',
  /** A verified contact's identity key changed: compare safety numbers and verify again before sending. */
  IdentityChanged: 'identity_changed',
  /**
   * Linking failed: the link URI is malformed, the provisioning channel closed or expired, or its message was
   * tampered with, replayed or too old.
   */
  LinkFailed: 'link_failed',
  /** Only the account's primary device (device 1) may do this (link or remove devices). */
  NotPrimary: 'not_primary',
  /** The account already has as many devices as the server allows. */
  DeviceLimit: 'device_limit',
  /** The peer is on this user's block list: unblock them before sending. */
  Blocked: 'blocked',
  /** Only an organization administrator (by a valid role certificate) or its owner may do this. */
  NotAdmin: 'not_admin',
  /**
   * The organization key is missing here (no organization yet, or this device does not hold the private half that
   * granting roles needs), or the server now presents a different key than the one pinned (see `organization`).
   */
  OrganizationKey: 'organization_key',
  /** The account was disabled by an administrator. */
  AccountDisabled: 'account_disabled',
  /** The server's organization directory is off (`ORG_DIRECTORY=off`). */
  DirectoryDisabled: 'directory_disabled',
  /** The local data directory is used by another process. */
  StorageLocked: 'storage_locked',
  /** Local state is unreadable. */
  StorageCorrupt: 'storage_corrupt',
  /**
   * A password login failed: wrong password, or no such username, or no password set for it (OPAQUE does not let
   * anyone, the client included, tell these apart).
   */
  WrongPassword: 'wrong_password',
  /**
   * A history archive from a linking device was refused (docs/linking.md): it did not verify against its digest, was
   * too large, malformed, for another account, or held a message outside the conversation it was listed in. Nothing
   * of it was stored.
   */
  HistoryRefused: 'history_refused',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

export class ClientError extends Error {
  override readonly name: string = 'ClientError';
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * `Messenger.verify` was given a safety number that is not the current one: the user compared digits of a key that
 * is no longer the contact's (it changed meanwhile), or the numbers differ. Nothing was marked verified. The code is
 * `identity_changed`, so callers that branch on codes treat it as "do not trust this contact".
 */
export class SafetyNumberMismatchError extends ClientError {
  override readonly name = 'SafetyNumberMismatchError';
  constructor(readonly accountId: string) {
    super(ClientErrorCode.IdentityChanged, 'the safety numbers do not match: do not trust this contact');
  }
}

/** An HTTP error answer from the server, with its stable error code and parsed body. */
export class ServerResponseError extends Error {
  override readonly name = 'ServerResponseError';
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
  }
}

/** A send refused because the queue of one or more of the recipient's devices is full on the server (`507`). */
export class QueueFullError extends ClientError {
  constructor(
    /** The recipient's account id. */
    readonly recipient: string,
    /** Its devices whose queues are full. */
    readonly devices: number[],
  ) {
    super(
      ClientErrorCode.QueueFull,
      `the recipient has too many undelivered messages on the server (devices ${devices.join(', ')}); try again later`,
    );
  }
}

/**
 * A send without credentials (sealed sender) refused with `401 unidentified_access_denied`: the access key we hold
 * for the recipient is not theirs (or they take no sealed messages). The caller sends identified and remembers.
 */
export class UnidentifiedAccessDeniedError extends Error {
  override readonly name = 'UnidentifiedAccessDeniedError';
}
