/**
 * The `cove` CLI's exit codes (documented in the package README) and the mapping from client errors to them, so
 * scripts can tell "try again later" from "fix your input" from "stop: the safety number changed".
 */
import { ClientError, ClientErrorCode, ServerResponseError } from '../../errors.js';

export const ExitCode = {
  Ok: 0,
  /** An unexpected failure (a bug). */
  Failure: 1,
  /** Wrong command-line usage or invalid input. */
  Usage: 2,
  /** The server could not be reached; queued messages are sent on the next run. */
  Unreachable: 3,
  /** No account in the data directory (run `cove register`). */
  NotRegistered: 4,
  /** No such user. */
  UnknownUser: 5,
  /**
   * The server refused: bad credentials, username taken, invite required, rate limited, the recipient's queue full,
   * server error.
   */
  Refused: 6,
  /** A contact's safety number changed or did not match: verify before trusting. */
  IdentityChanged: 7,
  /** The data directory is in use by another process, or unreadable. */
  Storage: 8,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const exitCodeFor = (error: unknown): ExitCode => {
  if (error instanceof ClientError) {
    switch (error.code) {
      case ClientErrorCode.ServerUnreachable:
        return ExitCode.Unreachable;
      case ClientErrorCode.NotRegistered:
        return ExitCode.NotRegistered;
      case ClientErrorCode.UnknownUser:
        return ExitCode.UnknownUser;
      case ClientErrorCode.InvalidInput:
      case ClientErrorCode.AlreadyRegistered:
      case ClientErrorCode.Blocked:
        return ExitCode.Usage;
      case ClientErrorCode.IdentityChanged:
        return ExitCode.IdentityChanged;
      case ClientErrorCode.StorageLocked:
      case ClientErrorCode.StorageCorrupt:
        return ExitCode.Storage;
      case ClientErrorCode.Unauthorized:
      case ClientErrorCode.UsernameTaken:
      case ClientErrorCode.InviteRequired:
      case ClientErrorCode.RateLimited:
      case ClientErrorCode.QueueFull:
      case ClientErrorCode.ServerError:
      case ClientErrorCode.AttachmentTooLarge:
      case ClientErrorCode.AttachmentQuota:
      case ClientErrorCode.AttachmentUnverified:
      case ClientErrorCode.AttachmentUnavailable:
      case ClientErrorCode.LinkFailed:
      case ClientErrorCode.WrongPassword:
      case ClientErrorCode.HistoryRefused:
      case ClientErrorCode.NotPrimary:
      case ClientErrorCode.DeviceLimit:
      case ClientErrorCode.NotAdmin:
      case ClientErrorCode.OrganizationKey:
      case ClientErrorCode.AccountDisabled:
      case ClientErrorCode.DirectoryDisabled:
        return ExitCode.Refused;
      case ClientErrorCode.AttachmentsUnsupported:
        return ExitCode.Failure;
    }
  }
  if (error instanceof ServerResponseError) return ExitCode.Refused;
  return ExitCode.Failure;
};

/** A stable error code for `--json` output. */
export const errorCodeFor = (error: unknown): string => {
  if (error instanceof ClientError) return error.code;
  if (error instanceof ServerResponseError) return error.errorCode;
  return 'internal_error';
};
