/**
 * The package's one error type, `SignalClientError`, whose `code` mirrors libsignal-client's `ErrorCode`: codes
 * both libraries share keep libsignal's numeric values (so `err.code === ErrorCode.DuplicatedMessage` holds for
 * either implementation); finer codes libsignal reports as `Generic` get values from 1000 up. Messages never
 * contain key material or plaintext.
 */

export enum ErrorCode {
  Generic = 0,
  DuplicatedMessage = 1,
  SealedSenderSelfSend = 2,
  UntrustedIdentity = 3,
  InvalidRegistrationId = 4,
  InvalidProtocolAddress = 5,
  VerificationFailed = 6,
  InvalidSession = 7,
  InvalidSenderKeySession = 8,
  /** A message failed to parse, authenticate or decrypt. libsignal: Generic. */
  InvalidMessage = 1001,
  /** A key failed to parse or has the wrong type. libsignal: Generic. */
  InvalidKey = 1002,
  /** No usable session for the address. libsignal: Generic. */
  SessionNotFound = 1003,
  /** A bundle's prekey signature does not verify. libsignal: Generic. */
  InvalidSignature = 1004,
  /** Message version below 3. libsignal: Generic. */
  LegacyCiphertextVersion = 1005,
  /** Message version above 4. libsignal: Generic. */
  UnrecognizedCiphertextVersion = 1006,
  /** A prekey referenced by a message is not in the store. libsignal: Generic. */
  InvalidPreKeyId = 1007,
  /** A record's bytes do not parse. libsignal: Generic. */
  InvalidRecord = 1008,
  /** An argument is out of range. libsignal: Generic. */
  InvalidArgument = 1009,
  /** Fingerprint versions differ. libsignal: Generic. */
  FingerprintVersionMismatch = 1010,
  /** The key agreement produced an invalid (all-zero) secret or a non-canonical key. libsignal: Generic. */
  InvalidKeyAgreement = 1011,
  /** No sender-key state for the sender, distribution id and chain id (group/). libsignal: Generic. */
  NoSenderKeyState = 1020,
}

export class SignalClientError extends Error {
  override readonly name = 'SignalClientError';
  readonly code: ErrorCode;
  readonly operation: string;
  /** For UntrustedIdentity / InvalidProtocolAddress: the address name involved. */
  readonly addr?: string;

  constructor(code: ErrorCode, operation: string, message: string, extra?: { addr?: string; cause?: unknown }) {
    super(message, extra?.cause === undefined ? undefined : { cause: extra.cause });
    this.code = code;
    this.operation = operation;
    if (extra?.addr !== undefined) this.addr = extra.addr;
  }

  is(code: ErrorCode): boolean {
    return this.code === code;
  }

  static is(error: unknown, code: ErrorCode): error is SignalClientError {
    return error instanceof SignalClientError && error.code === code;
  }
}

/** libsignal-client's name for the same class. */
export { SignalClientError as LibSignalErrorBase };

export function fail(
  code: ErrorCode,
  operation: string,
  message: string,
  extra?: { addr?: string; cause?: unknown },
): never {
  throw new SignalClientError(code, operation, message, extra);
}

/** libsignal's refusal of a wire message whose protobuf does not parse (every message decoder says it the same way). */
export function failInvalidProtobuf(operation: string, cause?: unknown): never {
  return fail(
    ErrorCode.InvalidMessage,
    operation,
    'protobuf encoding was invalid',
    cause === undefined ? undefined : { cause },
  );
}
