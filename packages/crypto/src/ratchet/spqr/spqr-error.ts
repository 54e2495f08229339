/**
 * The one error type of the SPQR (Sparse Post-Quantum Ratchet) module. `kind` names the failure class the
 * session layer may need to tell apart (an old key that was trimmed, a key already handed out, a jump too far, a
 * peer without SPQR, bad bytes, a corrupt stored state); everything else is `Other`. Messages name the failure
 * and, at most, counters or epochs: never keys or secrets.
 */

export type SpqrErrorKind =
  'MinimumVersion' | 'KeyTrimmed' | 'KeyAlreadyRequested' | 'KeyJump' | 'Malformed' | 'StateCorrupt' | 'Other';

export class SpqrError extends Error {
  override readonly name = 'SpqrError';
  readonly kind: SpqrErrorKind;

  constructor(kind: SpqrErrorKind, message: string, options?: { cause?: unknown }) {
    super(`post-quantum ratchet error: ${message}`, options);
    this.kind = kind;
  }
}
