/**
 * Walks protobuf bytes along a message descriptor generated from a .proto (generated/content_pb.ts) and refuses,
 * with a ContentError, what @bufbuild/protobuf's `fromBinary` would read silently or too late: a known field with
 * the wrong wire type, a second member (or copy) of a oneof, invalid UTF-8 in a string, a 64-bit number over its
 * bound, a repeated field with more entries than its limit (counted while they are read), an enum value the schema
 * does not declare, nesting deeper than a bound. Unknown fields are skipped, so older clients read newer content
 * that only adds fields.
 * It does not build a message (the generated decoder does that afterwards) and it checks no field-specific window,
 * length or format (content.bounds.ts).
 */
import { ScalarType } from '@bufbuild/protobuf';
import type { DescField, DescMessage, DescOneof } from '@bufbuild/protobuf';
import { BinaryReader, WireType, getTextEncoding } from '@bufbuild/protobuf/wire';

import { ContentError, ContentErrorReason } from './content.types.js';

/** The limits a walk enforces while it reads. */
export type WireRules = {
  /** Most entries of a repeated field; fields not listed are bounded only by the input's length. */
  readonly maxEntries: ReadonlyMap<DescField, number>;
  /** Largest value of any `uint64` field. */
  readonly maxUint64: bigint;
};

/**
 * Deepest nesting of known messages, for schemas whose messages contain themselves (content.proto nests three
 * levels): @bufbuild/protobuf's own recursion limit. Unknown fields are skipped with the wire reader's own budget of
 * 100 nested groups each, far below what overflows the stack.
 */
const MAX_DEPTH = 100;

/** `DataMessage` → `data`, `RetryRequest` → `retry`: the short names error messages use. */
const shortName = (desc: DescMessage): string => desc.name.replace(/(Message|Request)$/, '').toLowerCase();
const labelOf = (field: DescField): string => `${shortName(field.parent)}.${field.localName}`;

const scalarWireType = (scalar: ScalarType): WireType => {
  switch (scalar) {
    case ScalarType.STRING:
    case ScalarType.BYTES:
      return WireType.LengthDelimited;
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return WireType.Bit64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return WireType.Bit32;
    case ScalarType.BOOL:
    case ScalarType.INT32:
    case ScalarType.INT64:
    case ScalarType.SINT32:
    case ScalarType.SINT64:
    case ScalarType.UINT32:
    case ScalarType.UINT64:
      return WireType.Varint;
  }
};

const expectWire = (actual: WireType, expected: WireType, field: DescField): void => {
  if (actual !== expected) throw new ContentError(`wrong wire type for ${labelOf(field)}`);
};

/**
 * Reads one scalar value as the generated decoder will (so a bad varint fails here, in the order of the bytes), and
 * checks what that decoder would not: UTF-8 strictly and the bound of `uint64` values.
 */
const readScalar = (reader: BinaryReader, scalar: ScalarType, field: DescField, rules: WireRules): void => {
  if (scalar === ScalarType.STRING) {
    const bytes = reader.bytes();
    try {
      getTextEncoding().decodeUtf8(bytes, true);
    } catch {
      throw new ContentError(`invalid UTF-8 in ${labelOf(field)}`);
    }
  } else if (scalar === ScalarType.UINT64) {
    if (BigInt(reader.uint64()) > rules.maxUint64)
      throw new ContentError(`${labelOf(field)} is too large`, ContentErrorReason.OutOfRange);
  } else {
    const wire = scalarWireType(scalar);
    if (wire === WireType.Varint) reader.uint64();
    else if (wire === WireType.LengthDelimited) reader.bytes();
    else reader.skip(wire);
  }
};

const checkEnum = (field: DescField, value: number): void => {
  if (field.enum && !field.enum.values.some((v) => v.number === value))
    throw new ContentError(`unknown ${shortName(field.parent)} ${field.localName}`, ContentErrorReason.OutOfRange);
};

type ListField = Extract<DescField, { fieldKind: 'list' }>;

/**
 * Reads one record of a repeated field (one entry, or a packed run of them), counting each entry against the
 * field's limit as it is read; returns the new count.
 */
const readEntries = (
  reader: BinaryReader,
  wire: WireType,
  field: ListField,
  rules: WireRules,
  count: number,
  depth: number,
): number => {
  const max = rules.maxEntries.get(field) ?? Number.POSITIVE_INFINITY;
  const counted = (n: number): number => {
    if (n > max) throw new ContentError(`${labelOf(field)} has more than ${max} entries`, ContentErrorReason.TooLarge);
    return n;
  };
  switch (field.listKind) {
    case 'message':
      expectWire(wire, WireType.LengthDelimited, field);
      walk(field.message, reader.bytes(), rules, depth + 1);
      return counted(count + 1);
    case 'enum':
    case 'scalar': {
      const scalar = field.listKind === 'enum' ? ScalarType.INT32 : field.scalar;
      const element = scalarWireType(scalar);
      const read = (from: BinaryReader): void => {
        if (field.listKind === 'enum') checkEnum(field, from.int32());
        else readScalar(from, scalar, field, rules);
      };
      if (wire === element) {
        read(reader);
        return counted(count + 1);
      }
      const packable = element !== WireType.LengthDelimited;
      expectWire(wire, packable ? WireType.LengthDelimited : element, field);
      const packed = new BinaryReader(reader.bytes());
      let n = count;
      while (packed.pos < packed.len) {
        read(packed);
        n = counted(n + 1);
      }
      return n;
    }
  }
};

/**
 * Walks one message: each known field is checked as it is met, in the order of the bytes (a nested message before
 * the check that it is its oneof's only member), and enum values once the message is read (so a later field can
 * still override an earlier value, as in protobuf). The order decides which reason a many-faulted input gets; it is
 * the order of Cove's first, hand-written decoder.
 */
const walk = (desc: DescMessage, bytes: Uint8Array, rules: WireRules, depth: number): void => {
  if (depth > MAX_DEPTH) throw new ContentError('content is nested too deeply');
  const reader = new BinaryReader(bytes);
  const seen = new Set<DescOneof>();
  /**
   * A oneof takes one member, once. A singular message field given twice is not refused: the generated decoder
   * merges the copies, as protobuf specifies (Cove's encoder never writes two).
   */
  const once = (field: DescField): void => {
    if (field.fieldKind === 'list' || field.fieldKind === 'map' || !field.oneof) return;
    if (seen.has(field.oneof)) throw new ContentError(`more than one ${shortName(desc)} ${field.oneof.localName}`);
    seen.add(field.oneof);
  };
  const counts = new Map<DescField, number>();
  const enums = new Map<DescField, number>();
  while (reader.pos < reader.len) {
    const [fieldNo, wire] = reader.tag();
    const field = desc.fields.find((f) => f.number === fieldNo);
    if (field === undefined) {
      reader.skip(wire, fieldNo);
      continue;
    }
    switch (field.fieldKind) {
      case 'list':
        counts.set(field, readEntries(reader, wire, field, rules, counts.get(field) ?? 0, depth));
        break;
      case 'map':
        expectWire(wire, WireType.LengthDelimited, field);
        reader.skip(wire, fieldNo);
        break;
      case 'message': {
        expectWire(wire, WireType.LengthDelimited, field);
        walk(field.message, reader.bytes(), rules, depth + 1);
        once(field);
        break;
      }
      case 'enum':
        expectWire(wire, WireType.Varint, field);
        once(field);
        enums.set(field, reader.int32());
        break;
      case 'scalar':
        expectWire(wire, scalarWireType(field.scalar), field);
        once(field);
        readScalar(reader, field.scalar, field, rules);
        break;
    }
  }
  for (const [field, value] of enums) checkEnum(field, value);
};

/**
 * Checks `bytes` as an encoding of `desc` under `rules`; throws a ContentError (reason `malformed`, `out_of_range`
 * or `too_large`) or lets the wire reader's own errors through (truncation, bad tags), which the caller maps.
 */
export const checkWire = (desc: DescMessage, bytes: Uint8Array, rules: WireRules): void => {
  walk(desc, bytes, rules, 0);
};
