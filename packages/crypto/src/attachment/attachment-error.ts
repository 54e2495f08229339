/**
 * The attachment layer's one error type. `kind` says what was refused; messages name sizes and positions, never
 * key bytes, digests or content. Does not wrap the session layer's `SignalClientError`: an attachment is not a
 * protocol message, and callers show a different error for it ("this file could not be verified").
 */

/**
 * - `InvalidArgument`: a key, digest or size that cannot be valid (wrong length, out of range, plain > padded).
 * - `SizeMismatch`: the blob is shorter or longer than the pointer's padded size implies.
 * - `DigestMismatch`: the blob is not the one the sender described (any changed, missing or extra byte).
 * - `MacMismatch`: a chunk fails its AES-GCM tag under the pointer's key (wrong key, or a sender that built it so).
 * - `SourceChanged`: a re-read of the source returned other bytes than the verified pass.
 * - `TooLarge`: more plaintext than the encryptor's limit.
 */
export type AttachmentErrorKind =
  'InvalidArgument' | 'SizeMismatch' | 'DigestMismatch' | 'MacMismatch' | 'SourceChanged' | 'TooLarge';

export class AttachmentError extends Error {
  override readonly name = 'AttachmentError';
  readonly kind: AttachmentErrorKind;

  constructor(kind: AttachmentErrorKind, message: string) {
    super(message);
    this.kind = kind;
  }

  static is(error: unknown, kind?: AttachmentErrorKind): error is AttachmentError {
    return error instanceof AttachmentError && (kind === undefined || error.kind === kind);
  }
}
