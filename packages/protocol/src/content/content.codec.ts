/**
 * Encodes and decodes Cove's `Content` protobuf (schema: content.proto, package cove.content.v1) with the low-level
 * wire reader/writer of @bufbuild/protobuf, validating strictly: wrong wire types, invalid UTF-8, oversized fields,
 * missing or duplicated bodies, newer versions and every number outside its bound are refused with a ContentError
 * that says why (`reason`). Every numeric field has a bound: timestamps lie in a window around the server timestamp
 * of the envelope that carried them (when the caller passes it) and always inside JavaScript's date range, timers
 * are at most a year, lists and strings have maximum lengths, ids and usernames have their formats. Unknown fields
 * are skipped so that older clients read newer content that only adds fields.
 * It does not pad or encrypt (see padding.ts and the client), and it does not clamp: a value out of bounds is refused.
 */
import { BinaryReader, BinaryWriter, WireType, getTextEncoding } from '@bufbuild/protobuf/wire';

import { USERNAME_PATTERN } from '../limits.js';

/** The content format version this code writes and the newest it reads. */
export const CONTENT_VERSION = 1;
/** Longest message text in UTF-8 bytes: 64 KiB keeps a padded, encrypted envelope far below server size limits. */
export const MAX_TEXT_BYTES = 64 * 1024;
/** Most timestamps in one receipt: clients batch per conversation and flush often. */
export const MAX_TIMESTAMPS = 500;
/**
 * Most timestamps in each list of a retry request: a device asks once per run of envelopes it could not decrypt
 * and merges them while the request waits; more is a flood, and each entry can make the peer re-encrypt a message.
 */
export const MAX_RETRY_TIMESTAMPS = 100;
/** Longest quote excerpt in UTF-8 bytes: a preview, not a copy of the original. */
export const MAX_QUOTE_BYTES = 2048;
/** Longest claimed username: usernames are at most 32 ASCII characters. */
export const MAX_USERNAME_BYTES = 32;
/** Longest disappearing timer: one year. */
export const MAX_EXPIRE_SECONDS = 365 * 24 * 3600;
/**
 * Largest timestamp accepted anywhere: the last millisecond JavaScript's `Date` can represent (ECMA-262 §21.4.1.1).
 * One past it and every date formatting of the value throws (`RangeError: Invalid time value`).
 */
export const MAX_TIMESTAMP_MS = 8_640_000_000_000_000;
/**
 * How far a send time may be ahead of the envelope's server timestamp: the sender's clock may be wrong by hours
 * (time zones set as local time, a dead RTC battery); a day covers that and keeps future-dated messages from sorting
 * above everything for longer.
 */
export const MAX_TIMESTAMP_AHEAD_MS = 24 * 3600 * 1000;
/**
 * How far a send time may be behind the envelope's server timestamp: a message waits at most a day in its sender's
 * outbox (it is then marked failed, and a manual retry takes a new timestamp), may be re-sent on a retry request up
 * to a day after it was first accepted, and its sender's clock may lag the server's by up to a day.
 */
export const MAX_TIMESTAMP_BEHIND_MS = 3 * 24 * 3600 * 1000;

/** Account ids: UUIDs. Any case is accepted on encode; decode reads them in lower case (one spelling per id). */
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type Quote = { timestamp: number; authorAccountId: string; text: string };
export type DataMessage = {
  text: string;
  timestamp: number;
  quote?: Quote;
  expireTimerSeconds?: number;
  /** The sender's claimed username (confirm with a username lookup before trusting it). */
  senderUsername?: string;
};
export type ReceiptType = 'delivery' | 'read';
export type ReceiptMessage = { type: ReceiptType; timestamps: number[] };
export type TypingAction = 'started' | 'stopped';
export type TypingMessage = { timestamp: number; action: TypingAction };
export type RetryRequest = { timestamps: number[]; unavailable?: number[] };

export type Content =
  | { kind: 'data'; data: DataMessage }
  | { kind: 'receipt'; receipt: ReceiptMessage }
  | { kind: 'typing'; typing: TypingMessage }
  | { kind: 'retry'; retry: RetryRequest }
  | { kind: 'null' };

/**
 * Where decoded content came from: the server timestamp of its envelope, the reference for the timestamp windows.
 * Without it only the absolute bounds apply (encoding, tests).
 */
export type ContentContext = { serverTimestamp: number };

/** Why content was refused; stable values a client may show or count. */
export const ContentErrorReason = {
  /** Not a valid encoding of content.proto (truncated, wrong wire type, invalid UTF-8, no or two bodies). */
  Malformed: 'malformed',
  /** A number outside its bound (a timestamp outside its window, a timer over a year, an unknown enum value). */
  OutOfRange: 'out_of_range',
  /** A string or list longer than allowed. */
  TooLarge: 'too_large',
  /** A string that does not have its field's format (username, account id). */
  InvalidFormat: 'invalid_format',
  /** A newer content version than this code reads. */
  Unsupported: 'unsupported',
} as const;
export type ContentErrorReason = (typeof ContentErrorReason)[keyof typeof ContentErrorReason];

/** Raised for content that does not follow content.proto or Cove's limits; `reason` says which way. */
export class ContentError extends Error {
  override readonly name = 'ContentError';
  constructor(
    message: string,
    readonly reason: ContentErrorReason = ContentErrorReason.Malformed,
  ) {
    super(message);
  }
}

const utf8Length = (value: string): number => getTextEncoding().encodeUtf8(value).length;

/** The inclusive bounds of the two kinds of timestamps, for a context (or none). */
type Windows = { sentAt: [number, number]; reference: [number, number] };

const windowsFor = (context: ContentContext | undefined): Windows => {
  if (context === undefined) return { sentAt: [0, MAX_TIMESTAMP_MS], reference: [0, MAX_TIMESTAMP_MS] };
  const server = context.serverTimestamp;
  if (!Number.isSafeInteger(server) || server < 0 || server > MAX_TIMESTAMP_MS)
    throw new ContentError('the envelope has no valid server timestamp', ContentErrorReason.OutOfRange);
  const latest = Math.min(server + MAX_TIMESTAMP_AHEAD_MS, MAX_TIMESTAMP_MS);
  return { sentAt: [Math.max(0, server - MAX_TIMESTAMP_BEHIND_MS), latest], reference: [0, latest] };
};

const checkTimestamp = (value: number, [min, max]: [number, number], field: string): void => {
  if (!Number.isSafeInteger(value))
    throw new ContentError(`${field} must be an integer`, ContentErrorReason.OutOfRange);
  if (value < min || value > max)
    throw new ContentError(`${field} is outside its allowed window`, ContentErrorReason.OutOfRange);
};

const checkTimestamps = (
  values: number[],
  window: [number, number],
  maxCount: number,
  field: string,
  allowEmpty = false,
): void => {
  if (!Array.isArray(values)) throw new ContentError(`${field} must be a list`);
  if (values.length === 0 && !allowEmpty) throw new ContentError(`${field} must not be empty`);
  if (values.length > maxCount)
    throw new ContentError(`${field} has more than ${maxCount} entries`, ContentErrorReason.TooLarge);
  for (const value of values) checkTimestamp(value, window, field);
};

const checkString = (value: string, max: number, field: string): void => {
  if (typeof value !== 'string') throw new ContentError(`${field} must be a string`);
  if (utf8Length(value) > max)
    throw new ContentError(`${field} is longer than ${max} bytes`, ContentErrorReason.TooLarge);
};

/**
 * Checks a Content value against every bound; encode and decode both call it (decode with the envelope's context,
 * so the timestamp windows apply).
 */
export const validateContent = (content: Content, context?: ContentContext): void => {
  const windows = windowsFor(context);
  switch (content.kind) {
    case 'data': {
      const { data } = content;
      checkString(data.text, MAX_TEXT_BYTES, 'text');
      checkTimestamp(data.timestamp, windows.sentAt, 'timestamp');
      if (data.quote) {
        checkTimestamp(data.quote.timestamp, windows.reference, 'quote.timestamp');
        checkString(data.quote.authorAccountId, 64, 'quote.authorAccountId');
        if (!UUID_PATTERN.test(data.quote.authorAccountId))
          throw new ContentError('quote.authorAccountId is not an account id', ContentErrorReason.InvalidFormat);
        checkString(data.quote.text, MAX_QUOTE_BYTES, 'quote.text');
      }
      if (data.senderUsername !== undefined) {
        checkString(data.senderUsername, MAX_USERNAME_BYTES, 'senderUsername');
        if (!USERNAME_PATTERN.test(data.senderUsername))
          throw new ContentError('senderUsername is not a username', ContentErrorReason.InvalidFormat);
      }
      const expire = data.expireTimerSeconds ?? 0;
      if (!Number.isInteger(expire) || expire < 0 || expire > MAX_EXPIRE_SECONDS) {
        throw new ContentError('expireTimerSeconds out of range', ContentErrorReason.OutOfRange);
      }
      return;
    }
    case 'receipt':
      if (content.receipt.type !== 'delivery' && content.receipt.type !== 'read') {
        throw new ContentError('unknown receipt type', ContentErrorReason.OutOfRange);
      }
      checkTimestamps(content.receipt.timestamps, windows.reference, MAX_TIMESTAMPS, 'receipt.timestamps');
      return;
    case 'typing':
      if (content.typing.action !== 'started' && content.typing.action !== 'stopped') {
        throw new ContentError('unknown typing action', ContentErrorReason.OutOfRange);
      }
      checkTimestamp(content.typing.timestamp, windows.sentAt, 'typing.timestamp');
      return;
    case 'retry': {
      const unavailable = content.retry.unavailable ?? [];
      checkTimestamps(content.retry.timestamps, windows.reference, MAX_RETRY_TIMESTAMPS, 'retry.timestamps', true);
      checkTimestamps(unavailable, windows.reference, MAX_RETRY_TIMESTAMPS, 'retry.unavailable', true);
      if (content.retry.timestamps.length === 0 && unavailable.length === 0)
        throw new ContentError('retry request is empty');
      return;
    }
    case 'null':
      return;
    default:
      throw new ContentError('unknown content kind');
  }
};

const writeTimestamps = (writer: BinaryWriter, fieldNo: number, values: number[]): void => {
  writer.tag(fieldNo, WireType.LengthDelimited).fork();
  for (const value of values) writer.uint64(value);
  writer.join();
};

/** Serializes content to protobuf bytes (unpadded). */
export const encodeContent = (content: Content): Uint8Array<ArrayBuffer> => {
  validateContent(content);
  const writer = new BinaryWriter();
  writer.tag(1, WireType.Varint).uint32(CONTENT_VERSION);
  switch (content.kind) {
    case 'data': {
      const { data } = content;
      writer.tag(2, WireType.LengthDelimited).fork();
      writer.tag(1, WireType.LengthDelimited).string(data.text);
      writer.tag(2, WireType.Varint).uint64(data.timestamp);
      if (data.quote) {
        writer.tag(3, WireType.LengthDelimited).fork();
        writer.tag(1, WireType.Varint).uint64(data.quote.timestamp);
        writer.tag(2, WireType.LengthDelimited).string(data.quote.authorAccountId);
        writer.tag(3, WireType.LengthDelimited).string(data.quote.text);
        writer.join();
      }
      if (data.expireTimerSeconds) writer.tag(4, WireType.Varint).uint32(data.expireTimerSeconds);
      if (data.senderUsername) writer.tag(5, WireType.LengthDelimited).string(data.senderUsername);
      writer.join();
      break;
    }
    case 'receipt':
      writer.tag(3, WireType.LengthDelimited).fork();
      writer.tag(1, WireType.Varint).uint32(content.receipt.type === 'read' ? 1 : 0);
      writeTimestamps(writer, 2, content.receipt.timestamps);
      writer.join();
      break;
    case 'typing':
      writer.tag(4, WireType.LengthDelimited).fork();
      writer.tag(1, WireType.Varint).uint64(content.typing.timestamp);
      writer.tag(2, WireType.Varint).uint32(content.typing.action === 'stopped' ? 1 : 0);
      writer.join();
      break;
    case 'retry':
      writer.tag(5, WireType.LengthDelimited).fork();
      if (content.retry.timestamps.length > 0) writeTimestamps(writer, 1, content.retry.timestamps);
      if (content.retry.unavailable?.length) writeTimestamps(writer, 2, content.retry.unavailable);
      writer.join();
      break;
    case 'null':
      writer.tag(6, WireType.LengthDelimited).fork().join();
      break;
  }
  return writer.finish();
};

/** Runs a read step, turning the wire reader's range errors into ContentErrors. */
const guarded = <T>(step: () => T): T => {
  try {
    return step();
  } catch (error) {
    if (error instanceof ContentError) throw error;
    throw new ContentError(`malformed protobuf: ${error instanceof Error ? error.message : String(error)}`);
  }
};

const expectWire = (actual: WireType, expected: WireType, field: string): void => {
  if (actual !== expected) throw new ContentError(`wrong wire type for ${field}`);
};

const readUint64 = (reader: BinaryReader, field: string): number => {
  const raw = BigInt(reader.uint64());
  if (raw > BigInt(MAX_TIMESTAMP_MS)) throw new ContentError(`${field} is too large`, ContentErrorReason.OutOfRange);
  return Number(raw);
};

const readString = (reader: BinaryReader): string => {
  try {
    return reader.string(true);
  } catch {
    throw new ContentError('invalid UTF-8 in a string field');
  }
};

/** Reads a nested message: calls `field` for each tag until the sub-reader is exhausted. */
const readMessage = (
  bytes: Uint8Array,
  field: (reader: BinaryReader, fieldNo: number, wire: WireType) => boolean,
): void => {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [fieldNo, wire] = reader.tag();
    if (!field(reader, fieldNo, wire)) reader.skip(wire, fieldNo);
  }
};

/** Reads `repeated uint64`, packed or not, appending to `into`; stops at once past `maxCount` entries. */
const readTimestamps = (
  reader: BinaryReader,
  wire: WireType,
  into: number[],
  maxCount: number,
  field: string,
): void => {
  const tooMany = (): ContentError =>
    new ContentError(`${field} has more than ${maxCount} entries`, ContentErrorReason.TooLarge);
  if (wire === WireType.Varint) {
    into.push(readUint64(reader, field));
    if (into.length > maxCount) throw tooMany();
  } else if (wire === WireType.LengthDelimited) {
    const packed = new BinaryReader(reader.bytes());
    while (packed.pos < packed.len) {
      into.push(readUint64(packed, field));
      if (into.length > maxCount) throw tooMany();
    }
  } else {
    throw new ContentError(`wrong wire type for ${field}`);
  }
};

const decodeQuote = (bytes: Uint8Array): Quote => {
  const quote: Quote = { timestamp: 0, authorAccountId: '', text: '' };
  readMessage(bytes, (reader, fieldNo, wire) => {
    switch (fieldNo) {
      case 1:
        expectWire(wire, WireType.Varint, 'quote.timestamp');
        quote.timestamp = readUint64(reader, 'quote.timestamp');
        return true;
      case 2:
        expectWire(wire, WireType.LengthDelimited, 'quote.authorAccountId');
        quote.authorAccountId = readString(reader).toLowerCase();
        return true;
      case 3:
        expectWire(wire, WireType.LengthDelimited, 'quote.text');
        quote.text = readString(reader);
        return true;
      default:
        return false;
    }
  });
  return quote;
};

const decodeData = (bytes: Uint8Array): DataMessage => {
  const data: DataMessage = { text: '', timestamp: 0 };
  readMessage(bytes, (reader, fieldNo, wire) => {
    switch (fieldNo) {
      case 1:
        expectWire(wire, WireType.LengthDelimited, 'text');
        data.text = readString(reader);
        return true;
      case 2:
        expectWire(wire, WireType.Varint, 'timestamp');
        data.timestamp = readUint64(reader, 'timestamp');
        return true;
      case 3:
        expectWire(wire, WireType.LengthDelimited, 'quote');
        data.quote = decodeQuote(reader.bytes());
        return true;
      case 4:
        expectWire(wire, WireType.Varint, 'expireTimerSeconds');
        data.expireTimerSeconds = reader.uint32();
        return true;
      case 5:
        expectWire(wire, WireType.LengthDelimited, 'senderUsername');
        data.senderUsername = readString(reader);
        return true;
      default:
        return false;
    }
  });
  if (data.expireTimerSeconds === 0) delete data.expireTimerSeconds;
  if (data.senderUsername === '') delete data.senderUsername;
  return data;
};

const decodeReceipt = (bytes: Uint8Array): ReceiptMessage => {
  let typeNumber = 0;
  const timestamps: number[] = [];
  readMessage(bytes, (reader, fieldNo, wire) => {
    switch (fieldNo) {
      case 1:
        expectWire(wire, WireType.Varint, 'receipt.type');
        typeNumber = reader.uint32();
        return true;
      case 2:
        readTimestamps(reader, wire, timestamps, MAX_TIMESTAMPS, 'receipt.timestamps');
        return true;
      default:
        return false;
    }
  });
  if (typeNumber !== 0 && typeNumber !== 1)
    throw new ContentError('unknown receipt type', ContentErrorReason.OutOfRange);
  return { type: typeNumber === 1 ? 'read' : 'delivery', timestamps };
};

const decodeTyping = (bytes: Uint8Array): TypingMessage => {
  const typing: TypingMessage = { timestamp: 0, action: 'started' };
  let action = 0;
  readMessage(bytes, (reader, fieldNo, wire) => {
    switch (fieldNo) {
      case 1:
        expectWire(wire, WireType.Varint, 'typing.timestamp');
        typing.timestamp = readUint64(reader, 'typing.timestamp');
        return true;
      case 2:
        expectWire(wire, WireType.Varint, 'typing.action');
        action = reader.uint32();
        return true;
      default:
        return false;
    }
  });
  if (action !== 0 && action !== 1) throw new ContentError('unknown typing action', ContentErrorReason.OutOfRange);
  typing.action = action === 1 ? 'stopped' : 'started';
  return typing;
};

const decodeRetry = (bytes: Uint8Array): RetryRequest => {
  const timestamps: number[] = [];
  const unavailable: number[] = [];
  readMessage(bytes, (reader, fieldNo, wire) => {
    if (fieldNo === 1) readTimestamps(reader, wire, timestamps, MAX_RETRY_TIMESTAMPS, 'retry.timestamps');
    else if (fieldNo === 2) readTimestamps(reader, wire, unavailable, MAX_RETRY_TIMESTAMPS, 'retry.unavailable');
    else return false;
    return true;
  });
  return unavailable.length > 0 ? { timestamps, unavailable } : { timestamps };
};

/**
 * Parses protobuf bytes (already unpadded) into validated content. Pass the envelope's server timestamp as
 * `context` so that timestamps are held to their windows; anything else throws a ContentError, never another error.
 */
export const decodeContent = (bytes: Uint8Array, context?: ContentContext): Content =>
  guarded(() => {
    let version: number | undefined;
    let content: Content | undefined;
    const setBody = (body: Content): void => {
      if (content) throw new ContentError('more than one content body');
      content = body;
    };
    readMessage(bytes, (reader, fieldNo, wire) => {
      switch (fieldNo) {
        case 1:
          expectWire(wire, WireType.Varint, 'version');
          version = reader.uint32();
          return true;
        case 2:
          expectWire(wire, WireType.LengthDelimited, 'dataMessage');
          setBody({ kind: 'data', data: decodeData(reader.bytes()) });
          return true;
        case 3:
          expectWire(wire, WireType.LengthDelimited, 'receiptMessage');
          setBody({ kind: 'receipt', receipt: decodeReceipt(reader.bytes()) });
          return true;
        case 4:
          expectWire(wire, WireType.LengthDelimited, 'typingMessage');
          setBody({ kind: 'typing', typing: decodeTyping(reader.bytes()) });
          return true;
        case 5:
          expectWire(wire, WireType.LengthDelimited, 'retryRequest');
          setBody({ kind: 'retry', retry: decodeRetry(reader.bytes()) });
          return true;
        case 6:
          expectWire(wire, WireType.LengthDelimited, 'nullMessage');
          readMessage(reader.bytes(), () => false);
          setBody({ kind: 'null' });
          return true;
        default:
          return false;
      }
    });
    if (version === undefined || version < 1) throw new ContentError('missing content version');
    if (version > CONTENT_VERSION)
      throw new ContentError(
        `content version ${version} is newer than ${CONTENT_VERSION}`,
        ContentErrorReason.Unsupported,
      );
    if (!content) throw new ContentError('content has no body');
    validateContent(content, context);
    return content;
  });
