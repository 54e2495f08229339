/**
 * Turns stored records into the UI's view data, for any value a record can hold: a field of the wrong type, a
 * timestamp past JavaScript's date range, an unknown status or a negative count becomes a neutral value (no time,
 * no status, zero, a placeholder flag), so the views never see a shape they cannot render. Storage keys, not the
 * ids inside the values, name messages and conversations, because only keys are what the app pages and acts on.
 * It does not format anything for display (ui/format.ts does) and reads nothing itself.
 */
import { messageExpiry } from './history-reader.js';
import type {
  AttachmentView,
  ChatMessage,
  ConversationSummary,
  FailureReason,
  MessageKind,
  MessageStatus,
  ReactionCount,
  SystemLine,
} from './model.js';
import { voiceNoteOf } from './voice-data.js';

const OUTGOING_STATUSES: ReadonlySet<string> = new Set<MessageStatus>([
  'sending',
  'sent',
  'delivered',
  'read',
  'failed',
]);
/** ECMAScript dates cover ±8.64e15 ms (ECMA-262 §21.4.1.22); a timestamp outside names no moment. */
const MAX_DATE_MS = 8.64e15;
/** Longest reaction shown: one emoji (the protocol refuses more); a longer stored value is not one. */
const MAX_EMOJI_CHARS = 32;
/** Longest title shown for a contact: a username is at most 32 characters; anything longer is not one. */
const MAX_TITLE_CHARS = 64;
/** The longest timer shown (the protocol's bound, a year): anything else stored is not a timer line. */
const MAX_TIMER_SECONDS = 365 * 24 * 3600;
/** A draft in the list is one line: more than this is never visible. */
const MAX_DRAFT_PREVIEW_CHARS = 200;

/**
 * The core's failure codes (a `ClientError` code or the server's stable error code, packages/protocol errors.ts)
 * that have a reason of their own in the UI. `queue_full` is the server's answer (HTTP 507) when the recipient's
 * device holds too many undelivered envelopes.
 */
const FAILURE_REASONS: Readonly<Record<string, FailureReason>> = {
  queue_full: 'queue_full',
  identity_changed: 'identity_changed',
  unknown_user: 'unknown_user',
  not_found: 'unknown_user',
  invalid_input: 'too_long',
  payload_too_large: 'too_long',
  rate_limited: 'rate_limited',
};

/**
 * The core's AUTO_DOWNLOAD_MAX_BYTES (packages/client attachment-service.ts), repeated here so the first screen does
 * not load the core for one number; a unit test holds them equal.
 */
export const AUTO_DOWNLOAD_MAX_BYTES = 2 * 1024 * 1024;
/** Attachments shown per message: the pointer bound (content.bounds.ts) is 32. */
const MAX_ATTACHMENTS = 32;
/** Largest dimension a pointer may name (content.bounds.ts): beyond it the value is ignored. */
const MAX_DIMENSION = 65_535;
/** A content type longer than this is no MIME type anyone sends; it is shown as a generic file. */
const MAX_TYPE_CHARS = 100;
/** Longest file name shown: the pointer bound is 255 characters. */
const MAX_NAME_CHARS = 255;
/** Largest size believed: the attachment format's 2 GiB bound. */
const MAX_SIZE = 2 ** 31;
/** Images the chat renders itself; anything else (SVG, TIFF, HEIC, unknown) is a file card. */
const RENDERED_IMAGE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif']);
const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/;

type Loose = Record<string, unknown>;

const record = (value: unknown): Loose => (value !== null && typeof value === 'object' ? (value as Loose) : {});

/** Milliseconds since the epoch when the value is a real date, else null. */
export const timeOrNull = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= MAX_DATE_MS ? value : null;

/** A count that can be shown: a non-negative safe integer, else 0. */
export const countOrZero = (value: unknown): number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 0;

const dimension = (value: unknown): number | null =>
  typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= MAX_DIMENSION ? value : null;

/** The pointer's content type when it is a well-formed MIME type (parameters dropped), else a generic one. */
export function safeContentType(value: unknown): string {
  if (typeof value !== 'string' || value.length > MAX_TYPE_CHARS) return 'application/octet-stream';
  const bare = (value.split(';')[0] ?? '').trim().toLowerCase();
  return MIME.test(bare) ? bare : 'application/octet-stream';
}

/** The thumbnail as a `data:` URL when its bytes start like a JPEG, PNG or WebP; anything else is not shown. */
export function thumbnailUrl(value: unknown): string | null {
  if (!(value instanceof Uint8Array) || value.length < 12) return null;
  const b = value;
  const type =
    b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff
      ? 'image/jpeg'
      : b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47
        ? 'image/png'
        : b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45
          ? 'image/webp'
          : null;
  if (!type) return null;
  let binary = '';
  for (let i = 0; i < b.length; i += 0x8000) binary += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return `data:${type};base64,${btoa(binary)}`;
}

/** An attachment of a stored message, every field bounded. */
export function toAttachmentView(stored: unknown, index: number): AttachmentView {
  const a = record(stored);
  const size =
    typeof a.plainSize === 'number' && Number.isSafeInteger(a.plainSize) && a.plainSize >= 0 ? a.plainSize : 0;
  const state = a.state === 'local' || a.state === 'failed' ? a.state : 'remote';
  const name =
    typeof a.fileName === 'string' && a.fileName.length > 0
      ? // Control characters never reach the screen (the pointer bounds refuse them; stored rows are not trusted).
        // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
        a.fileName.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, '').slice(0, MAX_NAME_CHARS)
      : null;
  const contentType = safeContentType(a.contentType);
  const voiceNote = a.voiceNote === true;
  return {
    index,
    kind: voiceNote ? 'voice' : RENDERED_IMAGE_TYPES.has(contentType) ? 'image' : 'file',
    contentType,
    fileName: name || null,
    size: Math.min(size, MAX_SIZE),
    width: dimension(a.width),
    height: dimension(a.height),
    thumbnail: thumbnailUrl(a.thumbnail),
    voiceNote,
    durationMs:
      typeof a.durationMs === 'number' && Number.isFinite(a.durationMs) && a.durationMs >= 0 ? a.durationMs : null,
    waveform: a.waveform instanceof Uint8Array ? a.waveform : null,
    caption: typeof a.caption === 'string' ? a.caption : null,
    state,
    error: state !== 'failed' ? null : a.error === 'attachment_unverified' ? 'unverified' : 'unavailable',
    autoDownload: size <= AUTO_DOWNLOAD_MAX_BYTES,
  };
}

/** The kind of a message from its first attachment. */
export function kindOf(attachments: readonly AttachmentView[]): MessageKind {
  return attachments[0]?.kind ?? 'text';
}

/** Control and bidirectional-override characters never reach the screen in a name (names are other people's claims). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
const UNSAFE_NAME = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** A name as shown: unsafe characters removed, at most MAX_TITLE_CHARS characters; null when nothing is left. */
export const safeName = (value: unknown): string | null => {
  if (typeof value !== 'string') return null;
  const clean = [...value.replace(UNSAFE_NAME, '').trim()].slice(0, MAX_TITLE_CHARS).join('');
  return clean.length > 0 ? clean : null;
};

/** Who is who in a group conversation: the user's account id and the names known for members. */
export type GroupNames = { me: string; names: ReadonlyMap<string, string> };

/** A member's display name: the known name, else the start of the account id. */
export const nameIn = (names: GroupNames, accountId: unknown): string =>
  typeof accountId === 'string' ? (names.names.get(accountId) ?? accountId.slice(0, 8)) : '?';

const SYSTEM_KINDS: ReadonlySet<string> = new Set([
  'created',
  'added',
  'removed',
  'left',
  'title',
  'admin',
  'timer',
  'description',
]);

/**
 * A timer change's seconds: null when turned off (null, absent or 0), the seconds when a whole number within the
 * bound, undefined when malformed (then the line is not a timer line).
 */
function timerSeconds(value: unknown): number | null | undefined {
  if (value === null || value === undefined || value === 0) return null;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_TIMER_SECONDS) return undefined;
  return value;
}

/**
 * A stored change (the core's GroupChange, for a group or a direct conversation's timer) as its system line; null
 * when malformed. In a group (`names` given) every kind is one and names come from the group; in a direct
 * conversation only a timer change is, `actor` null when the user made it, else the author's account id start (the
 * chat names the peer).
 */
function toSystemLine(value: unknown, m: Loose, names: GroupNames | undefined): SystemLine | null {
  const c = record(value);
  if (typeof c.kind !== 'string' || !SYSTEM_KINDS.has(c.kind)) return null;
  if (!names && c.kind !== 'timer') return null;
  const seconds = c.kind === 'timer' ? timerSeconds(c.expireTimerSeconds) : countOrZero(c.expireTimerSeconds) || null;
  if (seconds === undefined) return null;
  const author = m.authorAccountId;
  if (!names)
    return {
      kind: 'timer',
      actor: m.direction === 'outgoing' ? null : typeof author === 'string' ? author.slice(0, 8) : '?',
      members: [],
      title: null,
      expireTimerSeconds: seconds,
    };
  const members = Array.isArray(c.members)
    ? c.members.slice(0, MAX_SYSTEM_NAMES).map((item) => {
        const member = record(item);
        return member.accountId === names.me
          ? ''
          : (names.names.get(String(member.accountId)) ??
              safeName(member.username) ??
              String(member.accountId).slice(0, 8));
      })
    : [];
  return {
    kind: c.kind as SystemLine['kind'],
    actor: author === names.me ? null : nameIn(names, author),
    members,
    title: safeName(c.title),
    expireTimerSeconds: seconds,
  };
}

/** Names listed in one system line; a larger change says "and N more" through the UI's join. */
const MAX_SYSTEM_NAMES = 50;

/**
 * A stored message as the chat shows it; `key` is its storage key. In a group conversation (`group` given), other
 * members' messages carry their sender and system lines their change; in any conversation a timer change is a
 * system line.
 */
export function toChatMessage(key: string, stored: unknown, conversationId: string, group?: GroupNames): ChatMessage {
  const m = record(stored);
  if (m.system !== undefined && m.system !== null) {
    const system = toSystemLine(m.system, m, group);
    if (system)
      return {
        id: key,
        conversationId,
        outgoing: m.direction === 'outgoing',
        text: '',
        sentAt: timeOrNull(m.timestamp),
        kind: 'text',
        system,
      };
  }
  const outgoing = m.direction === 'outgoing';
  const status = outgoing && typeof m.status === 'string' && OUTGOING_STATUSES.has(m.status) ? m.status : undefined;
  const textOk = typeof m.text === 'string';
  const expiresAt = messageExpiry(stored);
  const attachments = Array.isArray(m.attachments)
    ? m.attachments.slice(0, MAX_ATTACHMENTS).map((a, i) => toAttachmentView(a, i))
    : [];
  const voice = voiceNoteOf(m.attachments);
  const failure =
    status === 'failed' && typeof m.error === 'string' && Object.hasOwn(FAILURE_REASONS, m.error)
      ? FAILURE_REASONS[m.error]
      : undefined;
  return {
    id: key,
    conversationId,
    outgoing,
    text: textOk ? (m.text as string) : '',
    sentAt: timeOrNull(m.timestamp),
    ...(status ? { status: status as MessageStatus } : {}),
    ...(m.status === 'undecryptable' ? { undecryptable: true } : {}),
    ...(textOk ? {} : { unshowable: true }),
    ...(expiresAt !== null && Number.isFinite(expiresAt) ? { expiresAt } : {}),
    ...(failure ? { failure } : {}),
    kind: kindOf(attachments),
    ...(attachments.length > 0 ? { attachments } : {}),
    ...(voice ? { voice } : {}),
    ...(!outgoing && typeof m.authorAccountId === 'string' ? { author: m.authorAccountId } : {}),
    ...(conversationId === 'notices' && !outgoing ? { sender: noticeSender(m) } : {}),
    ...(group && !outgoing
      ? {
          sender: {
            accountId: typeof m.authorAccountId === 'string' ? m.authorAccountId : '',
            name: nameIn(group, m.authorAccountId),
          },
        }
      : {}),
    ...actionFields(m, conversationId),
  };
}

/** The administrator a notice names (the username the client confirmed, else the start of the account id). */
function noticeSender(m: Record<string, unknown>): { accountId: string; name: string } {
  const accountId = typeof m.authorAccountId === 'string' ? m.authorAccountId : '';
  const notice = record(m.notice);
  return { accountId, name: safeName(notice.senderUsername) ?? accountId.slice(0, 8) };
}

/** A conversation's stored timer, when it is one (a positive whole number of seconds within the bound). */
function timerField(value: unknown): Pick<ConversationSummary, 'expireTimerSeconds'> {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= MAX_TIMER_SECONDS
    ? { expireTimerSeconds: value }
    : {};
}

/** Reactions, edits, deletion, quote and attachments of a stored message, each ignored when malformed. */
function actionFields(m: Loose, conversationId: string): Partial<ChatMessage> {
  const peer = conversationId.startsWith('direct:') ? conversationId.slice('direct:'.length) : null;
  const fields: Partial<ChatMessage> = {};
  if (m.deletedAt !== undefined && m.deletedAt !== null) return { deleted: true, text: '' };
  if (Array.isArray(m.reactions)) {
    const counts = new Map<string, ReactionCount>();
    for (const item of m.reactions as unknown[]) {
      const r = record(item);
      if (typeof r.emoji !== 'string' || r.emoji.length === 0 || r.emoji.length > MAX_EMOJI_CHARS) continue;
      const mine = r.authorAccountId !== peer;
      const current = counts.get(r.emoji) ?? { emoji: r.emoji, count: 0, mine: false };
      counts.set(r.emoji, { ...current, count: current.count + 1, mine: current.mine || mine });
    }
    if (counts.size > 0) fields.reactions = [...counts.values()];
  }
  if (Array.isArray(m.edits) && m.edits.length > 0)
    fields.edits = (m.edits as unknown[]).map((item) => {
      const e = record(item);
      return { text: typeof e.text === 'string' ? e.text : '', at: timeOrNull(e.timestamp) };
    });
  const quote = record(m.quote);
  if (m.quote !== null && typeof quote.text === 'string')
    fields.quote = { text: quote.text, byMe: quote.authorAccountId !== peer, sentAt: timeOrNull(quote.timestamp) };
  if (Array.isArray(m.attachments) && m.attachments.length > 0) fields.hasAttachments = true;
  return fields;
}

/** A conversation as the list shows it, with its last message (already converted) and the contact's trust. */
export function toSummary(
  id: string,
  stored: unknown,
  last: ChatMessage | undefined,
  trust: { trust: unknown; changedAt: unknown } | undefined,
  names?: { nickname: unknown; profileName: unknown; avatar: unknown },
  draft = '',
  blocked = false,
): ConversationSummary {
  const c = record(stored);
  const text = (value: unknown): string | null => (typeof value === 'string' && value.length > 0 ? value : null);
  const isNotices = c.kind === 'notices' || id === 'notices';
  const isGroup = !isNotices && (c.kind === 'group' || id.startsWith('group:'));
  // A group: its title. A contact: the nickname set here, else the profile name, else the username as the server
  // spells it (docs/profiles.md).
  const name = isGroup ? null : (text(names?.nickname) ?? text(names?.profileName) ?? text(c.peerUsername));
  const title = isNotices
    ? 'Notices'
    : isGroup
      ? (safeName(c.title) ?? '…')
      : [...(name ?? id.slice(0, 8))].slice(0, MAX_TITLE_CHARS).join('');
  const avatar = !isGroup && names?.avatar instanceof Uint8Array && names.avatar.length > 0 ? names.avatar : undefined;
  return {
    id,
    title,
    ...(isGroup ? { group: true } : {}),
    ...(isNotices ? { notices: true as const } : {}),
    ...(avatar ? { avatar } : {}),
    unread: countOrZero(c.unreadCount),
    updatedAt: timeOrNull(c.lastMessageAt) ?? 0,
    identityChanged: trust?.trust === 'unverified' && trust.changedAt !== null && trust.changedAt !== undefined,
    verified: trust?.trust === 'verified',
    request: c.request === true,
    blocked,
    ...timerField(c.expireTimerSeconds),
    // The list shows one line of it: a long draft is cut here, not carried whole through every re-render.
    ...(draft.trim() ? { draft: draft.slice(0, MAX_DRAFT_PREVIEW_CHARS) } : {}),
    ...(last
      ? {
          lastMessage: {
            text: last.text,
            kind: last.kind,
            ...(last.kind === 'file' ? { fileName: last.attachments?.[0]?.fileName ?? null } : {}),
            at: last.sentAt,
            outgoing: last.outgoing,
            ...(last.status ? { status: last.status } : {}),
            ...(last.undecryptable ? { undecryptable: true } : {}),
            ...(last.unshowable ? { unshowable: true } : {}),
            ...(last.sender ? { sender: last.sender.name } : {}),
            ...(last.system ? { system: last.system } : {}),
          },
        }
      : {}),
  };
}
