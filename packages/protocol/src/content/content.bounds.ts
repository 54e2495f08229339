/**
 * Cove's bounds on every Content value, each limit with its reason, and `validateContent`, which encode and decode
 * both apply: timestamps lie in a window around the server timestamp of the envelope that carried them (when the
 * caller passes it) and always inside JavaScript's date range, timers are at most a year, lists and strings have
 * maximum lengths, ids and usernames have their formats.
 * It does not read or write bytes (content.codec.ts, content.wire-check.ts) and it does not clamp: a value out of
 * bounds is refused with a ContentError.
 */
import { getTextEncoding } from '@bufbuild/protobuf/wire';

import { SIGNATURE_BYTES, USERNAME_PATTERN } from '../limits.js';
import { ContentError, ContentErrorReason } from './content.types.js';
import type { AttachmentPointer, Content, ContentContext, GroupContext, SyncMessage } from './content.types.js';

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
/** Most attachments in one message: an album of 32 photos; more is a flood a receiver would download at once. */
export const MAX_ATTACHMENTS = 32;
/** Attachment key and digest length of attachment format v1 (docs/attachments.md): AES-256 key, SHA-256 digest. */
export const ATTACHMENT_KEY_BYTES = 32;
export const ATTACHMENT_DIGEST_BYTES = 32;
/**
 * Largest padded attachment size on the wire: 2 GiB, the format's own maximum, far above the server's upload cap
 * (100 MiB by default), which is policy and may change without a wire change.
 */
export const MAX_ATTACHMENT_BYTES = 2 * 1024 * 1024 * 1024;
/** Profile key length (docs/profiles.md): an AES-256 key, as Signal's. */
export const PROFILE_KEY_BYTES = 32;
/** A notice's role certificate body: the fixed 34-byte layout of @cove/crypto's role-certificate.ts. */
export const ROLE_CERTIFICATE_BYTES = 34;
/** Storage ids are the server's unguessable ids; the alphabet keeps them safe in a URL path and a file name. */
const STORAGE_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** Longest content type: RFC 6838 caps type and subtype at 127 characters each; parameters fit in the rest. */
export const MAX_CONTENT_TYPE_BYTES = 255;
/** `type/subtype` in RFC 6838's restricted-name characters, then optional parameters in printable ASCII. */
const CONTENT_TYPE_PATTERN =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(\s*;[\x20-\x7e]*)?$/;
/** Longest file name, in characters (code points): what common file systems allow (255). */
export const MAX_FILE_NAME_CHARS = 255;
/**
 * Bidirectional controls a file name may not contain: they make "photo\u202Egpj.exe" display as "photoexe.jpg"
 * (ALM, LRM, RLM, the embeddings and overrides U+202A–U+202E, the isolates U+2066–U+2069).
 */
const BIDI_CONTROLS = new Set([
  0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069,
]);

/** A file name holds no control character (C0, DEL, C1), no path separator and no bidirectional control. */
const isFileName = (name: string): boolean => {
  if (name === '.' || name === '..') return false;
  for (const char of name) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f) || char === '/' || char === '\\' || BIDI_CONTROLS.has(code))
      return false;
  }
  return true;
};
/** Largest image dimension: 65,535 pixels, the limit of JPEG, PNG in practice, and WebP. */
export const MAX_IMAGE_DIMENSION = 65_535;
/** Largest thumbnail: 64 KiB; a preview, and the whole content must still fit one envelope (64 KiB). */
export const MAX_THUMBNAIL_BYTES = 64 * 1024;
/** BlurHash length: 6 characters for 1 × 1 components up to 166 for 9 × 9 (the format's maximum). */
const BLURHASH_PATTERN = /^[0-9A-Za-z#$%*+,\-.:;=?@[\]^_{|}~]{6,166}$/;
/** Longest duration: 31 days in ms, longer than any recording Cove makes; keeps formatting of it ordinary. */
export const MAX_DURATION_MS = 31 * 24 * 3600 * 1000;
/** Largest voice-note waveform: 1 KiB of one-byte samples is more than any screen draws. */
export const MAX_WAVEFORM_BYTES = 1024;
/** Longest caption, in characters (code points): Signal's and WhatsApp's captions are of this order. */
export const MAX_CAPTION_CHARS = 2000;

/**
 * Longest reaction emoji in UTF-8 bytes: the longest RGI emoji sequences (families and couples with skin tones joined
 * by ZWJ) take 35 bytes; 64 leaves room for newer ones while refusing text smuggled in as a "reaction".
 */
export const MAX_EMOJI_BYTES = 64;
/**
 * One emoji: an RGI emoji sequence (Unicode's recommended-for-general-interchange set, with skin tones, flags, keycaps
 * and ZWJ sequences) and nothing else — no text, controls, bidi characters or several emoji. Built at run time
 * because the `v` flag is newer than the compile target; every supported runtime (Node 20, current browsers) has it.
 */
const EMOJI_PATTERN = new RegExp('^\\p{RGI_Emoji}$', 'v');
/** Whether a string is exactly one emoji within MAX_EMOJI_BYTES (what a reaction may carry). */
export const isReactionEmoji = (value: unknown): value is string =>
  typeof value === 'string' && utf8Length(value) <= MAX_EMOJI_BYTES && EMOJI_PATTERN.test(value);
/**
 * How long after sending a message its author may still edit it or delete it for everyone: 24 hours, as Signal.
 * Senders refuse older targets (`MODIFY_WINDOW_MS`); receivers allow MODIFY_GRACE_MS more, measured from the target's
 * send time to the server timestamp of the edit's envelope, for an edit that waited in its sender's outbox or on
 * the server while the receiver was offline.
 */
export const MODIFY_WINDOW_MS = 24 * 3600 * 1000;
export const MODIFY_GRACE_MS = 24 * 3600 * 1000;
/** Most edits of one message: Signal's limit (10); each keeps a version in the message's history. */
export const MAX_EDITS = 10;
/** Group ids and master keys: 32 random bytes (collision-free ids, a 256-bit key). */
export const GROUP_ID_BYTES = 32;
export const GROUP_MASTER_KEY_BYTES = 32;
/** Most members in a group: the size Cove supports (issue 14); a 1,000-member state still fits one envelope. */
export const MAX_GROUP_MEMBERS = 1000;
/** Longest group title and description, in characters (code points): names and blurbs, not documents. */
export const MAX_GROUP_TITLE_CHARS = 128;
export const MAX_GROUP_DESCRIPTION_CHARS = 2048;
/**
 * Highest group revision: one change a second for over a hundred years, and far below 2^32 so that the next
 * revision of any accepted one still fits the wire field.
 */
export const MAX_GROUP_REVISION = 0xffff_0000;
/** Longest serialized sender-key distribution message: about 90 bytes in practice; room for libsignal's extensions. */
export const MAX_SENDER_KEY_DISTRIBUTION_BYTES = 256;

/** Conversations in one read sync: a device marks one conversation read at a time; 100 covers a "mark all read". */
export const MAX_READ_POSITIONS = 100;

/**
 * Records in one contacts or conversations sync: a full sync is split over several messages (each under the
 * envelope limit); 500 short records fit one, and a forged list cannot make a receiver loop over more.
 */
export const MAX_SYNC_RECORDS = 500;
/** Longest synced nickname in UTF-8 bytes: the client allows 26 graphemes, and a grapheme may take ~35 bytes. */
export const MAX_NICKNAME_BYTES = 1024;
/** A serialized identity (public) key: the 0x05 type byte and 32 bytes of X25519. */
const IDENTITY_KEY_BYTES = 33;

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

const isUint = (value: unknown, max: number): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= max;

const checkBytes = (value: unknown, min: number, max: number, field: string): void => {
  if (!(value instanceof Uint8Array)) throw new ContentError(`${field} must be bytes`);
  if (value.length > max) throw new ContentError(`${field} is longer than ${max} bytes`, ContentErrorReason.TooLarge);
  if (value.length < min) throw new ContentError(`${field} is too short`, ContentErrorReason.InvalidFormat);
};

/** Checks a group context (a message's, an action's or an indicator's); `field` names it in errors ("edit.group"). */
const checkGroupContext = (group: GroupContext, field: string): void => {
  checkBytes(group.id, GROUP_ID_BYTES, GROUP_ID_BYTES, `${field}.id`);
  if (!isUint(group.revision, MAX_GROUP_REVISION))
    throw new ContentError(`${field}.revision out of range`, ContentErrorReason.OutOfRange);
};

/** Bounds a string's length in code points, counting no further than the bound (a hostile string may be long). */
const checkChars = (value: unknown, max: number, field: string): void => {
  if (typeof value !== 'string') throw new ContentError(`${field} must be a string`);
  let count = 0;
  for (const _ of value) if (++count > max) break;
  if (count > max) throw new ContentError(`${field} is longer than ${max} characters`, ContentErrorReason.TooLarge);
};

/** Checks one attachment pointer; `field` names it in errors ("attachments[3]"). */
const checkAttachment = (pointer: AttachmentPointer, field: string): void => {
  if (typeof pointer !== 'object' || pointer === null) throw new ContentError(`${field} must be an object`);
  if (typeof pointer.storageId !== 'string' || !STORAGE_ID_PATTERN.test(pointer.storageId))
    throw new ContentError(`${field}.storageId is not a storage id`, ContentErrorReason.InvalidFormat);
  checkBytes(pointer.key, ATTACHMENT_KEY_BYTES, ATTACHMENT_KEY_BYTES, `${field}.key`);
  checkBytes(pointer.digest, ATTACHMENT_DIGEST_BYTES, ATTACHMENT_DIGEST_BYTES, `${field}.digest`);
  if (!isUint(pointer.paddedSize, MAX_ATTACHMENT_BYTES) || pointer.paddedSize < 1)
    throw new ContentError(`${field}.paddedSize out of range`, ContentErrorReason.OutOfRange);
  if (!isUint(pointer.plainSize, pointer.paddedSize))
    throw new ContentError(`${field}.plainSize out of range`, ContentErrorReason.OutOfRange);
  checkString(pointer.contentType, MAX_CONTENT_TYPE_BYTES, `${field}.contentType`);
  if (!CONTENT_TYPE_PATTERN.test(pointer.contentType))
    throw new ContentError(`${field}.contentType is not a MIME type`, ContentErrorReason.InvalidFormat);
  if (pointer.fileName !== undefined) {
    checkChars(pointer.fileName, MAX_FILE_NAME_CHARS, `${field}.fileName`);
    if (!isFileName(pointer.fileName))
      throw new ContentError(`${field}.fileName is not a file name`, ContentErrorReason.InvalidFormat);
  }
  for (const [value, name] of [
    [pointer.width, 'width'],
    [pointer.height, 'height'],
  ] as const)
    if (value !== undefined && !isUint(value, MAX_IMAGE_DIMENSION))
      throw new ContentError(`${field}.${name} out of range`, ContentErrorReason.OutOfRange);
  if (pointer.thumbnail !== undefined) checkBytes(pointer.thumbnail, 0, MAX_THUMBNAIL_BYTES, `${field}.thumbnail`);
  if (pointer.blurhash !== undefined) {
    if (typeof pointer.blurhash !== 'string' || !BLURHASH_PATTERN.test(pointer.blurhash))
      throw new ContentError(`${field}.blurhash is not a BlurHash`, ContentErrorReason.InvalidFormat);
  }
  if (pointer.durationMs !== undefined && !isUint(pointer.durationMs, MAX_DURATION_MS))
    throw new ContentError(`${field}.durationMs out of range`, ContentErrorReason.OutOfRange);
  if (pointer.waveform !== undefined) checkBytes(pointer.waveform, 0, MAX_WAVEFORM_BYTES, `${field}.waveform`);
  if (pointer.voiceNote !== undefined && typeof pointer.voiceNote !== 'boolean')
    throw new ContentError(`${field}.voiceNote must be a boolean`);
  if (pointer.voiceNote === true && !/^audio\//i.test(pointer.contentType))
    throw new ContentError(`${field} is a voice note without an audio type`, ContentErrorReason.InvalidFormat);
  if (pointer.caption !== undefined) checkChars(pointer.caption, MAX_CAPTION_CHARS, `${field}.caption`);
};

const checkString = (value: string, max: number, field: string): void => {
  if (typeof value !== 'string') throw new ContentError(`${field} must be a string`);
  if (utf8Length(value) > max)
    throw new ContentError(`${field} is longer than ${max} bytes`, ContentErrorReason.TooLarge);
};

const checkAccountId = (value: unknown, field: string): void => {
  if (typeof value !== 'string' || !UUID_PATTERN.test(value))
    throw new ContentError(`${field} is not an account id`, ContentErrorReason.InvalidFormat);
};

const checkBool = (value: unknown, field: string): void => {
  if (typeof value !== 'boolean') throw new ContentError(`${field} must be a boolean`);
};

const checkRecords = (records: unknown, field: string): void => {
  if (!Array.isArray(records) || records.length === 0) throw new ContentError(`${field} is empty`);
  if (records.length > MAX_SYNC_RECORDS)
    throw new ContentError(`${field} has more than ${MAX_SYNC_RECORDS} entries`, ContentErrorReason.TooLarge);
};

/** The syncs other than transcripts and read positions (content.proto SyncMessage fields 3 to 8). */
const validateSync = (
  sync: Exclude<SyncMessage, { type: 'sent' | 'read' }>,
  context: ContentContext | undefined,
  windows: Windows,
): void => {
  switch (sync.type) {
    case 'action': {
      checkAccountId(sync.destinationAccountId, 'action.destinationAccountId');
      // The action is held to the same bounds as one received directly.
      const { action } = sync;
      if (action.kind === 'reaction') validateContent({ kind: 'reaction', reaction: action.reaction }, context);
      else if (action.kind === 'edit') validateContent({ kind: 'edit', edit: action.edit }, context);
      else if (action.kind === 'delete') validateContent({ kind: 'delete', delete: action.delete }, context);
      else throw new ContentError('unknown synced action');
      return;
    }
    case 'contacts':
      checkRecords(sync.contacts, 'contacts');
      sync.contacts.forEach((record, i) => {
        const field = `contacts[${i}]`;
        checkAccountId(record.accountId, `${field}.accountId`);
        if (record.username !== undefined) {
          checkString(record.username, MAX_USERNAME_BYTES, `${field}.username`);
          if (!USERNAME_PATTERN.test(record.username))
            throw new ContentError(`${field}.username is not a username`, ContentErrorReason.InvalidFormat);
        }
        if (record.nickname !== undefined) checkString(record.nickname, MAX_NICKNAME_BYTES, `${field}.nickname`);
        if (record.identityKey !== undefined)
          checkBytes(record.identityKey, IDENTITY_KEY_BYTES, IDENTITY_KEY_BYTES, `${field}.identityKey`);
        if (record.trust !== 'trusted-first-use' && record.trust !== 'verified' && record.trust !== 'unverified')
          throw new ContentError(`${field}.trust is unknown`, ContentErrorReason.OutOfRange);
        checkBool(record.blocked, `${field}.blocked`);
        if (record.profileKey !== undefined)
          checkBytes(record.profileKey, PROFILE_KEY_BYTES, PROFILE_KEY_BYTES, `${field}.profileKey`);
        checkTimestamp(record.updatedAt, windows.reference, `${field}.updatedAt`);
      });
      return;
    case 'conversations':
      checkRecords(sync.conversations, 'conversations');
      sync.conversations.forEach((record, i) => {
        const field = `conversations[${i}]`;
        if ((record.peerAccountId !== undefined) === (record.groupId !== undefined))
          throw new ContentError(`${field} names exactly one conversation: an account or a group`);
        if (record.peerAccountId !== undefined) checkAccountId(record.peerAccountId, `${field}.peerAccountId`);
        if (record.groupId !== undefined) checkBytes(record.groupId, GROUP_ID_BYTES, GROUP_ID_BYTES, field);
        checkBool(record.deleted, `${field}.deleted`);
        checkBool(record.request, `${field}.request`);
        checkBool(record.mutedForever, `${field}.mutedForever`);
        checkBool(record.archived, `${field}.archived`);
        if (record.mutedUntil !== undefined) checkTimestamp(record.mutedUntil, [1, MAX_TIMESTAMP_MS], field);
        if (record.pinnedAt !== undefined) checkTimestamp(record.pinnedAt, [1, MAX_TIMESTAMP_MS], field);
        if (record.expireTimerSeconds !== undefined && !isUint(record.expireTimerSeconds, MAX_EXPIRE_SECONDS))
          throw new ContentError(`${field}.expireTimerSeconds out of range`, ContentErrorReason.OutOfRange);
        checkTimestamp(record.updatedAt, windows.reference, `${field}.updatedAt`);
      });
      return;
    case 'profile':
      checkBytes(sync.profileKey, PROFILE_KEY_BYTES, PROFILE_KEY_BYTES, 'profile.profileKey');
      return;
    case 'group-state':
      validateContent({ kind: 'group-update', groupUpdate: sync.groupUpdate }, context);
      return;
    case 'request':
      return;
    default:
      throw new ContentError('unknown sync type');
  }
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
      if (data.attachments !== undefined) {
        if (!Array.isArray(data.attachments)) throw new ContentError('attachments must be a list');
        if (data.attachments.length > MAX_ATTACHMENTS)
          throw new ContentError(`attachments has more than ${MAX_ATTACHMENTS} entries`, ContentErrorReason.TooLarge);
        data.attachments.forEach((pointer, i) => checkAttachment(pointer, `attachments[${i}]`));
      }
      if (data.group !== undefined) checkGroupContext(data.group, 'group');
      if (data.profileKey !== undefined)
        checkBytes(data.profileKey, PROFILE_KEY_BYTES, PROFILE_KEY_BYTES, 'profileKey');
      const expire = data.expireTimerSeconds ?? 0;
      if (!Number.isInteger(expire) || expire < 0 || expire > MAX_EXPIRE_SECONDS) {
        throw new ContentError('expireTimerSeconds out of range', ContentErrorReason.OutOfRange);
      }
      if (data.expireTimerUpdate !== undefined && typeof data.expireTimerUpdate !== 'boolean')
        throw new ContentError('expireTimerUpdate must be a boolean');
      // A timer change is only that: a "setting" that also carried a message could hide the text behind a system line.
      if (
        data.expireTimerUpdate === true &&
        (data.text !== '' ||
          data.quote !== undefined ||
          (data.attachments?.length ?? 0) > 0 ||
          data.group !== undefined)
      )
        throw new ContentError('a timer update carries no message', ContentErrorReason.InvalidFormat);
      if (data.notice !== undefined) {
        checkBytes(
          data.notice.roleCertificate,
          ROLE_CERTIFICATE_BYTES,
          ROLE_CERTIFICATE_BYTES,
          'notice.roleCertificate',
        );
        checkBytes(
          data.notice.roleCertificateSignature,
          SIGNATURE_BYTES,
          SIGNATURE_BYTES,
          'notice.roleCertificateSignature',
        );
        // A notice is an announcement: text alone, so nothing else can ride under the "official" marker.
        if (
          data.quote !== undefined ||
          (data.attachments?.length ?? 0) > 0 ||
          data.group !== undefined ||
          data.expireTimerUpdate === true ||
          data.text === ''
        )
          throw new ContentError('a notice carries text only', ContentErrorReason.InvalidFormat);
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
      if (content.typing.group !== undefined) checkGroupContext(content.typing.group, 'typing.group');
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
    case 'reaction': {
      const { reaction } = content;
      checkTimestamp(reaction.timestamp, windows.sentAt, 'reaction.timestamp');
      checkTimestamp(reaction.targetTimestamp, windows.reference, 'reaction.targetTimestamp');
      checkString(reaction.targetAuthorAccountId, MAX_ACCOUNT_ID_BYTES, 'reaction.targetAuthorAccountId');
      if (!UUID_PATTERN.test(reaction.targetAuthorAccountId))
        throw new ContentError('reaction.targetAuthorAccountId is not an account id', ContentErrorReason.InvalidFormat);
      checkString(reaction.emoji, MAX_EMOJI_BYTES, 'reaction.emoji');
      if (!isReactionEmoji(reaction.emoji))
        throw new ContentError('reaction.emoji is not one emoji', ContentErrorReason.InvalidFormat);
      if (reaction.remove !== undefined && typeof reaction.remove !== 'boolean')
        throw new ContentError('reaction.remove must be a boolean');
      if (reaction.group !== undefined) checkGroupContext(reaction.group, 'reaction.group');
      return;
    }
    case 'delete':
      checkTimestamp(content.delete.timestamp, windows.sentAt, 'delete.timestamp');
      checkTimestamp(content.delete.targetTimestamp, windows.reference, 'delete.targetTimestamp');
      if (content.delete.group !== undefined) checkGroupContext(content.delete.group, 'delete.group');
      return;
    case 'edit':
      checkTimestamp(content.edit.timestamp, windows.sentAt, 'edit.timestamp');
      checkTimestamp(content.edit.targetTimestamp, windows.reference, 'edit.targetTimestamp');
      checkString(content.edit.text, MAX_TEXT_BYTES, 'edit.text');
      if (content.edit.text.length === 0) throw new ContentError('edit.text must not be empty');
      if (content.edit.group !== undefined) checkGroupContext(content.edit.group, 'edit.group');
      return;
    case 'group-update': {
      const update = content.groupUpdate;
      checkBytes(update.id, GROUP_ID_BYTES, GROUP_ID_BYTES, 'groupUpdate.id');
      checkBytes(update.masterKey, GROUP_MASTER_KEY_BYTES, GROUP_MASTER_KEY_BYTES, 'groupUpdate.masterKey');
      if (!isUint(update.revision, MAX_GROUP_REVISION))
        throw new ContentError('groupUpdate.revision out of range', ContentErrorReason.OutOfRange);
      checkChars(update.title, MAX_GROUP_TITLE_CHARS, 'groupUpdate.title');
      if (update.description !== undefined)
        checkChars(update.description, MAX_GROUP_DESCRIPTION_CHARS, 'groupUpdate.description');
      if (update.avatar !== undefined) checkAttachment(update.avatar, 'groupUpdate.avatar');
      if (!Array.isArray(update.members) || update.members.length === 0)
        throw new ContentError('groupUpdate.members must be a non-empty list');
      if (update.members.length > MAX_GROUP_MEMBERS)
        throw new ContentError(
          `groupUpdate.members has more than ${MAX_GROUP_MEMBERS} entries`,
          ContentErrorReason.TooLarge,
        );
      const seen = new Set<string>();
      update.members.forEach((member, i) => {
        const field = `groupUpdate.members[${i}]`;
        if (typeof member.accountId !== 'string' || !UUID_PATTERN.test(member.accountId))
          throw new ContentError(`${field}.accountId is not an account id`, ContentErrorReason.InvalidFormat);
        const id = member.accountId.toLowerCase();
        if (seen.has(id)) throw new ContentError(`${field} is listed twice`, ContentErrorReason.InvalidFormat);
        seen.add(id);
        if (member.role !== 'admin' && member.role !== 'member')
          throw new ContentError(`${field}.role is unknown`, ContentErrorReason.OutOfRange);
        if (member.username !== undefined) {
          checkString(member.username, MAX_USERNAME_BYTES, `${field}.username`);
          if (!USERNAME_PATTERN.test(member.username))
            throw new ContentError(`${field}.username is not a username`, ContentErrorReason.InvalidFormat);
        }
      });
      const timer = update.expireTimerSeconds ?? 0;
      if (!isUint(timer, MAX_EXPIRE_SECONDS))
        throw new ContentError('groupUpdate.expireTimerSeconds out of range', ContentErrorReason.OutOfRange);
      checkTimestamp(update.timestamp, windows.sentAt, 'groupUpdate.timestamp');
      return;
    }
    case 'sender-key':
      // A group's sender key names its group; an organization-notice sender key names none.
      if (content.senderKey.notice === true) checkBytes(content.senderKey.groupId, 0, 0, 'senderKey.groupId');
      else checkBytes(content.senderKey.groupId, GROUP_ID_BYTES, GROUP_ID_BYTES, 'senderKey.groupId');
      checkBytes(
        content.senderKey.distributionMessage,
        1,
        MAX_SENDER_KEY_DISTRIBUTION_BYTES,
        'senderKey.distributionMessage',
      );
      return;
    case 'profile-key':
      checkBytes(content.profileKey, PROFILE_KEY_BYTES, PROFILE_KEY_BYTES, 'profileKey');
      return;
    case 'sync': {
      const { sync } = content;
      if (sync.type === 'sent') {
        // The message is held to the same bounds as one received directly.
        validateContent({ kind: 'data', data: sync.message }, context);
        // A group message's transcript goes to its group (a destination account beside it is not used); an
        // organization notice's goes to every member, so it names none (and must not: it is no conversation's).
        if (sync.message.notice !== undefined) {
          if (sync.destinationAccountId !== undefined)
            throw new ContentError('a notice transcript names no destination', ContentErrorReason.InvalidFormat);
          return;
        }
        if (sync.message.group === undefined && sync.destinationAccountId === undefined)
          throw new ContentError('a sent transcript names no destination: an account or a group');
        if (sync.destinationAccountId !== undefined && !UUID_PATTERN.test(sync.destinationAccountId))
          throw new ContentError('sent.destinationAccountId is not an account id', ContentErrorReason.InvalidFormat);
        return;
      }
      if (sync.type !== 'read') return validateSync(sync, context, windows);
      if (!Array.isArray(sync.positions) || sync.positions.length === 0) throw new ContentError('read sync is empty');
      if (sync.positions.length > MAX_READ_POSITIONS)
        throw new ContentError(`read sync has more than ${MAX_READ_POSITIONS} entries`, ContentErrorReason.TooLarge);
      sync.positions.forEach((position, i) => {
        const field = `read.positions[${i}]`;
        if ((position.peerAccountId !== undefined) === (position.groupId !== undefined))
          throw new ContentError(`${field} names exactly one conversation: an account or a group`);
        if (position.peerAccountId !== undefined && !UUID_PATTERN.test(position.peerAccountId))
          throw new ContentError(`${field}.peerAccountId is not an account id`, ContentErrorReason.InvalidFormat);
        if (position.groupId !== undefined) checkBytes(position.groupId, GROUP_ID_BYTES, GROUP_ID_BYTES, field);
        checkTimestamp(position.timestamp, windows.reference, `${field}.timestamp`);
      });
      return;
    }
    default:
      throw new ContentError('unknown content kind');
  }
};
