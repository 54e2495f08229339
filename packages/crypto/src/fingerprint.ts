/**
 * Safety numbers (libsignal's fingerprint version 2): per side, SHA-512 iterated over (0x0000 ‖ key ‖ id ‖ key)
 * then (hash ‖ key); the displayable form is 60 digits (sorted halves), the scannable form is the
 * CombinedFingerprints protobuf with `compare()`. Identifiers are opaque bytes chosen by the caller.
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

import { FINGERPRINT_MAX_ITERATIONS, FINGERPRINT_MIN_ITERATIONS } from './constants.js';
import { ErrorCode, fail } from './errors.js';
import type { PublicKey } from './keys/curve.js';
import { constantTimeEqual } from './primitives/bytes.js';
import { sodium } from './primitives/sodium.js';

function iterateHash(iterations: number, id: Uint8Array, key: PublicKey): Uint8Array {
  const s = sodium();
  const k = key.serializedView();
  const first = new Uint8Array(2 + k.length + id.length + k.length);
  first.set(k, 2);
  first.set(id, 2 + k.length);
  first.set(k, 2 + k.length + id.length);
  let buf = s.crypto_hash_sha512(first);
  const next = new Uint8Array(64 + k.length);
  next.set(k, 64);
  for (let i = 1; i < iterations; i++) {
    next.set(buf, 0);
    buf = s.crypto_hash_sha512(next);
  }
  return buf;
}

function displayHalf(hash: Uint8Array): string {
  let out = '';
  for (let i = 0; i < 30; i += 5) {
    let v = 0;
    for (let j = 0; j < 5; j++) v = v * 256 + (hash[i + j] as number);
    out += String(v % 100000).padStart(5, '0');
  }
  return out;
}

export class DisplayableFingerprint {
  private constructor(private readonly display: string) {}
  static _fromString(display: string): DisplayableFingerprint {
    return new DisplayableFingerprint(display);
  }
  toString(): string {
    return this.display;
  }
}

function encodeScannable(version: number, local: Uint8Array, remote: Uint8Array): Uint8Array {
  const inner = (c: Uint8Array): Uint8Array => new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(c).finish();
  return new BinaryWriter()
    .tag(1, WireType.Varint)
    .uint32(version)
    .tag(2, WireType.LengthDelimited)
    .bytes(inner(local))
    .tag(3, WireType.LengthDelimited)
    .bytes(inner(remote))
    .finish();
}

function decodeScannable(buf: Uint8Array): { version: number; local: Uint8Array; remote: Uint8Array } {
  const op = 'ScannableFingerprint_Compare';
  const content = (b: Uint8Array): Uint8Array => {
    const r = new BinaryReader(b);
    let c: Uint8Array | undefined;
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      if (no === 1 && wt === WireType.LengthDelimited) c = r.bytes();
      else r.skip(wt, no);
    }
    if (!c) fail(ErrorCode.InvalidArgument, op, 'fingerprint missing content');
    return c;
  };
  try {
    const r = new BinaryReader(buf);
    let version: number | undefined;
    let local: Uint8Array | undefined;
    let remote: Uint8Array | undefined;
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      if (no === 1 && wt === WireType.Varint) version = r.uint32();
      else if (no === 2 && wt === WireType.LengthDelimited) local = content(r.bytes());
      else if (no === 3 && wt === WireType.LengthDelimited) remote = content(r.bytes());
      else r.skip(wt, no);
    }
    if (version === undefined || !local || !remote) fail(ErrorCode.InvalidArgument, op, 'fingerprint parsing error');
    return { version, local, remote };
  } catch (cause) {
    if (cause instanceof Error && 'code' in cause) throw cause;
    return fail(ErrorCode.InvalidArgument, op, 'fingerprint parsing error', { cause });
  }
}

export class ScannableFingerprint {
  private constructor(private readonly scannable: Uint8Array) {}

  static _fromBuffer(scannable: Uint8Array): ScannableFingerprint {
    return new ScannableFingerprint(scannable.slice());
  }

  /** True when `other` (the peer's scannable fingerprint) is the mirror image of ours. */
  compare(other: ScannableFingerprint): boolean {
    const ours = decodeScannable(this.scannable);
    const theirs = decodeScannable(other.scannable);
    if (ours.version !== theirs.version) {
      fail(
        ErrorCode.FingerprintVersionMismatch,
        'ScannableFingerprint_Compare',
        `fingerprint version number mismatch them ${theirs.version} us ${ours.version}`,
      );
    }
    const a = constantTimeEqual(theirs.local, ours.remote);
    const b = constantTimeEqual(theirs.remote, ours.local);
    return a && b;
  }

  toBuffer(): Uint8Array {
    return this.scannable.slice();
  }
}

export class Fingerprint {
  private constructor(
    private readonly display: DisplayableFingerprint,
    private readonly scannable: ScannableFingerprint,
  ) {}

  static new(
    iterations: number,
    version: number,
    localIdentifier: Uint8Array,
    localKey: PublicKey,
    remoteIdentifier: Uint8Array,
    remoteKey: PublicKey,
  ): Fingerprint {
    if (
      !Number.isInteger(iterations) ||
      iterations < FINGERPRINT_MIN_ITERATIONS ||
      iterations > FINGERPRINT_MAX_ITERATIONS
    ) {
      fail(ErrorCode.InvalidArgument, 'Fingerprint_New', `invalid fingerprint iterations ${iterations}`);
    }
    // The scannable form carries the version as a uint32 (libsignal-client refuses anything else too).
    if (!Number.isInteger(version) || version < 0 || version > 0xffff_ffff) {
      fail(ErrorCode.InvalidArgument, 'Fingerprint_New', `invalid fingerprint version ${version}`);
    }
    const local = iterateHash(iterations, localIdentifier, localKey);
    const remote = iterateHash(iterations, remoteIdentifier, remoteKey);
    const l = displayHalf(local);
    const r = displayHalf(remote);
    return new Fingerprint(
      DisplayableFingerprint._fromString(l <= r ? l + r : r + l),
      ScannableFingerprint._fromBuffer(encodeScannable(version, local.subarray(0, 32), remote.subarray(0, 32))),
    );
  }

  displayableFingerprint(): DisplayableFingerprint {
    return this.display;
  }

  scannableFingerprint(): ScannableFingerprint {
    return this.scannable;
  }
}
