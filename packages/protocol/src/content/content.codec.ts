/**
 * Encodes and decodes Cove's `Content` protobuf (schema: content.proto, package cove.content.v1) with the low-level
 * wire reader/writer of @bufbuild/protobuf, validating strictly: wrong wire types, out-of-range numbers, invalid
 * UTF-8, oversized fields, missing or duplicated bodies and newer versions are all refused with a ContentError.
 * Unknown fields are skipped so that older clients read newer content that only adds fields.
 * It does not pad or encrypt (see padding.ts and the client).
 */
import { BinaryReader, BinaryWriter, WireType, getTextEncoding } from '@bufbuild/protobuf/wire';

/** The content format version this code writes and the newest it reads. */
export const CONTENT_VERSION = 1;
/** Longest message text in UTF-8 bytes: 64 KiB keeps a padded, encrypted envelope far below server size limits. */
export const MAX_TEXT_BYTES = 64 * 1024;
/** Most timestamps in one receipt or retry request: clients batch per conversation and flush often. */
export const MAX_TIMESTAMPS = 500;
/** Longest quote excerpt in UTF-8 bytes: a preview, not a copy of the original. */
export const MAX_QUOTE_BYTES = 2048;
/** Longest claimed username: usernames are at most 32 ASCII characters. */
export const MAX_USERNAME_BYTES = 32;
/** Longest disappearing timer: one year. */
export const MAX_EXPIRE_SECONDS = 365 * 24 * 3600;

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
  | { kind: 'retry'; retry: RetryRequest };

/** Raised for content that does not follow content.proto or Cove's limits. */
export class ContentError extends Error {
  override readonly name = 'ContentError';
}

const utf8Length = (value: string): number => getTextEncoding().encodeUtf8(value).length;

const checkTimestamp = (value: number, field: string): void => {
  if (!Number.isSafeInteger(value) || value < 0) throw new ContentError(`${field} must be a non-negative safe integer`);
};

const checkTimestamps = (values: number[], field: string): void => {
  if (values.length === 0) throw new ContentError(`${field} must not be empty`);
  if (values.length > MAX_TIMESTAMPS) throw new ContentError(`${field} has more than ${MAX_TIMESTAMPS} entries`);
  for (const value of values) checkTimestamp(value, field);
};

const checkString = (value: string, max: number, field: string): void => {
  if (typeof value !== 'string') throw new ContentError(`${field} must be a string`);
  if (utf8Length(value) > max) throw new ContentError(`${field} is longer than ${max} bytes`);
};

/** Checks a Content value against the limits; encode and decode both call it. */
export const validateContent = (content: Content): void => {
  switch (content.kind) {
    case 'data': {
      const { data } = content;
      checkString(data.text, MAX_TEXT_BYTES, 'text');
      checkTimestamp(data.timestamp, 'timestamp');
      if (data.quote) {
        checkTimestamp(data.quote.timestamp, 'quote.timestamp');
        checkString(data.quote.authorAccountId, 64, 'quote.authorAccountId');
        checkString(data.quote.text, MAX_QUOTE_BYTES, 'quote.text');
      }
      if (data.senderUsername !== undefined) checkString(data.senderUsername, MAX_USERNAME_BYTES, 'senderUsername');
      const expire = data.expireTimerSeconds ?? 0;
      if (!Number.isInteger(expire) || expire < 0 || expire > MAX_EXPIRE_SECONDS) {
        throw new ContentError('expireTimerSeconds out of range');
      }
      return;
    }
    case 'receipt':
      if (content.receipt.type !== 'delivery' && content.receipt.type !== 'read') {
        throw new ContentError('unknown receipt type');
      }
      checkTimestamps(content.receipt.timestamps, 'receipt.timestamps');
      return;
    case 'typing':
      if (content.typing.action !== 'started' && content.typing.action !== 'stopped') {
        throw new ContentError('unknown typing action');
      }
      checkTimestamp(content.typing.timestamp, 'typing.timestamp');
      return;
    case 'retry': {
      const unavailable = content.retry.unavailable ?? [];
      if (content.retry.timestamps.length === 0 && unavailable.length === 0)
        throw new ContentError('retry request is empty');
      if (content.retry.timestamps.length > 0) checkTimestamps(content.retry.timestamps, 'retry.timestamps');
      if (unavailable.length > 0) checkTimestamps(unavailable, 'retry.unavailable');
      return;
    }
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
  const raw = reader.uint64();
  const value = Number(raw);
  if (BigInt(raw) > BigInt(Number.MAX_SAFE_INTEGER)) throw new ContentError(`${field} is too large`);
  return value;
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

/** Reads `repeated uint64`, packed or not, appending to `into`. */
const readTimestamps = (reader: BinaryReader, wire: WireType, into: number[], field: string): void => {
  if (wire === WireType.Varint) {
    into.push(readUint64(reader, field));
  } else if (wire === WireType.LengthDelimited) {
    const packed = new BinaryReader(reader.bytes());
    while (packed.pos < packed.len) {
      into.push(readUint64(packed, field));
      if (into.length > MAX_TIMESTAMPS) throw new ContentError(`${field} has more than ${MAX_TIMESTAMPS} entries`);
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
        quote.authorAccountId = readString(reader);
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
        readTimestamps(reader, wire, timestamps, 'receipt.timestamps');
        return true;
      default:
        return false;
    }
  });
  if (typeNumber !== 0 && typeNumber !== 1) throw new ContentError('unknown receipt type');
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
  if (action !== 0 && action !== 1) throw new ContentError('unknown typing action');
  typing.action = action === 1 ? 'stopped' : 'started';
  return typing;
};

const decodeRetry = (bytes: Uint8Array): RetryRequest => {
  const timestamps: number[] = [];
  const unavailable: number[] = [];
  readMessage(bytes, (reader, fieldNo, wire) => {
    if (fieldNo === 1) readTimestamps(reader, wire, timestamps, 'retry.timestamps');
    else if (fieldNo === 2) readTimestamps(reader, wire, unavailable, 'retry.unavailable');
    else return false;
    return true;
  });
  return unavailable.length > 0 ? { timestamps, unavailable } : { timestamps };
};

/** Parses protobuf bytes (already unpadded) into validated content. */
export const decodeContent = (bytes: Uint8Array): Content =>
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
        default:
          return false;
      }
    });
    if (version === undefined || version < 1) throw new ContentError('missing content version');
    if (version > CONTENT_VERSION)
      throw new ContentError(`content version ${version} is newer than ${CONTENT_VERSION}`);
    if (!content) throw new ContentError('content has no body');
    validateContent(content);
    return content;
  });
