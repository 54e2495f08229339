/**
 * Cove's bounds on every Content value, each limit with its reason, and `validateContent`, which encode and decode
 * both apply: timestamps lie in a window around the server timestamp of the envelope that carried them (when the
 * caller passes it) and always inside JavaScript's date range, timers are at most a year, lists and strings have
 * maximum lengths, ids and usernames have their formats.
 * It does not read or write bytes (content.codec.ts, content.wire-check.ts) and it does not clamp: a value out of
 * bounds is refused with a ContentError.
 */
import { getTextEncoding } from '@bufbuild/protobuf/wire';

import { USERNAME_PATTERN } from '../limits.js';
import { ContentError, ContentErrorReason } from './content.types.js';
import type { Content, ContentContext } from './content.types.js';

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
/** Longest quoted author id in UTF-8 bytes: a UUID is 36; the format check below refuses anything else anyway. */
const MAX_ACCOUNT_ID_BYTES = 64;

/** Account ids: UUIDs. Any case is accepted on encode; decode reads them in lower case (one spelling per id). */
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

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
        checkString(data.quote.authorAccountId, MAX_ACCOUNT_ID_BYTES, 'quote.authorAccountId');
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
