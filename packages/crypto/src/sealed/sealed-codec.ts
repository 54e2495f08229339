/**
 * The few protobuf and byte helpers the sealed-sender modules share: a strict proto2 field walker that turns every
 * decoding defect into a typed `InvalidMessage` error, a small writer, the 10-byte truncated HMAC of v1, and the
 * ServiceId string ↔ fixed-width conversions of the v2 sent form. No cryptographic decisions live here.
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

import { ErrorCode, SignalClientError, fail } from '../errors.js';
import { PublicKey } from '../keys/curve.js';

export { BinaryWriter, WireType };

/** A protobuf field handler: reads the value of field `no` from `r`. */
export type FieldHandler = (no: number, r: BinaryReader) => void;

/** Decodes a proto2 body: known fields must have their wire type; unknown ones are skipped; any defect is InvalidMessage. */
export function decodeFields(
  body: Uint8Array,
  operation: string,
  what: string,
  known: Readonly<Record<number, WireType>>,
  onField: FieldHandler,
): void {
  try {
    const r = new BinaryReader(body);
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      const expected = known[no];
      if (expected === undefined) {
        r.skip(wt, no);
        continue;
      }
      if (expected !== wt) fail(ErrorCode.InvalidMessage, operation, `invalid ${what}: protobuf encoding was invalid`);
      onField(no, r);
    }
    if (r.pos !== r.len) fail(ErrorCode.InvalidMessage, operation, `invalid ${what}: protobuf encoding was invalid`);
  } catch (e) {
    if (e instanceof SignalClientError) throw e;
    fail(ErrorCode.InvalidMessage, operation, `invalid ${what}: protobuf encoding was invalid`, { cause: e });
  }
}

/** A 33-byte 0x05 key inside a sealed-sender structure; a bad key is an InvalidMessage, not an InvalidKey. */
export function readPublicKey(bytes: Uint8Array, operation: string, what: string): PublicKey {
  try {
    return PublicKey.deserialize(bytes);
  } catch (cause) {
    return fail(ErrorCode.InvalidMessage, operation, `invalid ${what}: bad public key`, { cause });
  }
}

/** Fails with InvalidMessage "invalid <what>: missing <field>" when a required field is absent. */
export function required<T>(value: T | undefined, operation: string, what: string, field: string): T {
  if (value === undefined) fail(ErrorCode.InvalidMessage, operation, `invalid ${what}: missing ${field}`);
  return value;
}

/** The UUID string (lower-case, hyphenated) of 16 bytes. */
export function uuidString(bytes: Uint8Array): string {
  const h = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The ServiceId string of a 17-byte fixed-width ServiceId (0x00 ACI → plain UUID, 0x01 PNI → "PNI:" + UUID), or null. */
export function serviceIdString(fixedWidth: Uint8Array): string | null {
  if (fixedWidth.length !== 17) return null;
  const uuid = uuidString(fixedWidth.subarray(1));
  if (fixedWidth[0] === 0) return uuid;
  if (fixedWidth[0] === 1) return `PNI:${uuid}`;
  return null;
}
