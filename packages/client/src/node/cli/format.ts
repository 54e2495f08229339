/**
 * How the `cove` CLI shows stored values: one line per message or conversation for people, one JSON object per line
 * for scripts. Every function is total — it returns a string for any value, including hostile or corrupt stored
 * records and values stored by older builds — so `listen`, `history` and `conversations` survive any content.
 * Text from others is escaped (display.ts); JSON output stays exact (JSON.parse gives back the very same strings) but
 * additionally writes DEL, C1 controls and bidi/line-separator characters as \u escapes, so that a JSON line printed
 * on a terminal cannot drive it either. It does not print anything itself.
 */
import { escapeText, formatTimestamp, isUnsafeCodeUnit } from '../../display.js';
import { directPeerOf, groupOf } from '../../tables.js';

type Loose = Record<string, unknown>;

/** The fields of a record, or none for anything that is not a plain object. */
const fieldsOf = (value: unknown): Loose =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array)
    ? (value as Loose)
    : {};

const text = (value: unknown): string => (typeof value === 'string' ? value : '');

/** One JSON line: exact for JSON readers, inert on a terminal; never throws (unprintable values become an error). */
export const jsonLine = (value: unknown): string => {
  let line: string | undefined;
  try {
    line = JSON.stringify(value);
  } catch {
    line = undefined;
  }
  line ??= JSON.stringify({ type: 'error', error: 'unprintable' });
  // JSON.stringify escapes C0 controls but leaves DEL, C1 and the bidi characters raw. Outside strings JSON is
  // ASCII, so each of them sits inside a string, where a \u escape reads back as the same character.
  let out = '';
  let start = 0;
  for (let i = 0; i < line.length; i += 1) {
    const code = line.charCodeAt(i);
    if (!isUnsafeCodeUnit(code)) continue;
    out += `${line.slice(start, i)}\\u${code.toString(16).padStart(4, '0')}`;
    start = i + 1;
  }
  return start === 0 ? line : out + line.slice(start);
};

/** A message's reactions as `[👍 alice-id, …]` material: each emoji with how many gave it, in first-seen order. */
const reactionCounts = (value: unknown): { emoji: string; count: number }[] => {
  const counts = new Map<string, number>();
  if (Array.isArray(value))
    for (const reaction of value as unknown[]) {
      const emoji = text(fieldsOf(reaction).emoji);
      if (emoji !== '') counts.set(emoji, (counts.get(emoji) ?? 0) + 1);
    }
  return [...counts].map(([emoji, count]) => ({ emoji, count }));
};

/**
 * `[time] who: text`, plus `(edited)` for an edited message, its reactions (`[👍 2]`) and `(status)` for one's own
 * messages; a message deleted for everyone reads "(this message was deleted)". `time` is the message's timestamp
 * unless given.
 */
export const messageLine = (message: unknown, who: unknown, options: { at?: unknown; body?: string } = {}): string => {
  const m = fieldsOf(message);
  const at = 'at' in options ? options.at : m.timestamp;
  const deleted = m.deletedAt !== undefined && m.deletedAt !== null;
  const body = options.body ?? (deleted ? '(this message was deleted)' : escapeText(text(m.text)));
  const edited = !deleted && m.editedAt !== undefined && m.editedAt !== null ? ' (edited)' : '';
  const reactions = reactionCounts(m.reactions)
    .map(({ emoji, count }) => `${escapeText(emoji)} ${count}`)
    .join(', ');
  const status = m.direction === 'outgoing' ? ` (${escapeText(text(m.status))})` : '';
  return `[${formatTimestamp(at)}] ${escapeText(text(who))}: ${body}${edited}${reactions ? ` [${reactions}]` : ''}${status}`.trimEnd();
};

/** A conversation: the peer's username (or account id) and the unread count. */
export const conversationLine = (conversation: unknown): string => {
  const c = fieldsOf(conversation);
  const name =
    (c.kind === 'group' ? `${escapeText(text(c.title))} (group ${escapeText(text(c.groupId))})` : '') ||
    escapeText(text(c.peerUsername) || text(c.peerAccountId)) ||
    '(unknown)';
  const unread = typeof c.unreadCount === 'number' && Number.isFinite(c.unreadCount) ? c.unreadCount : 0;
  return unread ? `${name} (${unread} unread)` : name;
};

/**
 * The JSON fields of a message line (the exact stored values; jsonLine escapes what it must). `conversation` is the
 * peer's account id, as it always was; `conversationId` the conversation's own id.
 */
export const messageJson = (message: unknown, peerUsername: unknown): Record<string, unknown> => {
  const m = fieldsOf(message);
  const conversationId = m.conversationId;
  return {
    id: m.id,
    conversation:
      typeof conversationId === 'string' ? (directPeerOf(conversationId) ?? conversationId) : conversationId,
    conversationId,
    peer: peerUsername,
    direction: m.direction,
    author: m.authorAccountId,
    text: m.text,
    timestamp: m.timestamp,
    status: m.status,
    ...(m.quote ? { quote: m.quote } : {}),
    ...(Array.isArray(m.reactions) && m.reactions.length > 0
      ? {
          reactions: (m.reactions as unknown[]).map((r) => {
            const reaction = fieldsOf(r);
            return { author: reaction.authorAccountId, emoji: reaction.emoji, timestamp: reaction.timestamp };
          }),
        }
      : {}),
    ...(m.editedAt !== undefined ? { editedAt: m.editedAt, edits: m.edits } : {}),
    ...(m.deletedAt !== undefined ? { deleted: true, deletedAt: m.deletedAt } : {}),
    ...(typeof conversationId === 'string' && groupOf(conversationId) !== null
      ? { groupId: groupOf(conversationId), username: peerUsername }
      : {}),
    ...(m.system ? { system: m.system } : {}),
  };
};

/** A group for `cove group list`: its name, id, member count and our standing. */
export const groupLine = (group: unknown): string => {
  const g = fieldsOf(group);
  const members = Array.isArray(g.members) ? g.members.length : 0;
  const standing = g.active === false ? ' (left)' : '';
  return `${escapeText(text(g.title)) || '(unnamed)'} ${escapeText(text(g.id))} ${members} members${standing}`;
};

/** The JSON of a group (no master key: it never leaves the device, not even to a script's output). */
export const groupJson = (group: unknown): Record<string, unknown> => {
  const g = fieldsOf(group);
  const members = Array.isArray(g.members) ? g.members.map(fieldsOf) : [];
  return {
    groupId: g.id,
    title: g.title,
    revision: g.revision,
    active: g.active,
    members: members.map((m) => ({ accountId: m.accountId, username: m.username, role: m.role })),
  };
};

const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/**
 * An attachment of a stored message in JSON: when a decrypted copy was saved here, exactly listen's shape
 * (`{ path, contentType, size, sha256, voiceNote, caption }`); otherwise what is known of it and its `state`
 * (`remote`: not downloaded, `local`: downloaded, not saved, `failed`: with `error`).
 */
export const attachmentJson = (attachment: unknown): Record<string, unknown> => {
  const a = fieldsOf(attachment);
  const saved = fieldsOf(a.savedCopy);
  const common = { contentType: a.contentType, voiceNote: a.voiceNote === true, caption: a.caption ?? null };
  if (typeof saved.path === 'string')
    return {
      path: saved.path,
      contentType: common.contentType,
      size: saved.size,
      sha256: saved.sha256,
      voiceNote: common.voiceNote,
      caption: common.caption,
    };
  return {
    fileName: a.fileName ?? null,
    ...common,
    size: a.plainSize,
    state: a.state,
    ...(a.error ? { error: a.error } : {}),
  };
};

/** An attachment under its message line: its name, size and where it was saved (or why it was not). */
export const attachmentLine = (attachment: unknown): string => {
  const a = fieldsOf(attachment);
  const saved = fieldsOf(a.savedCopy);
  const name = escapeText(text(a.fileName)) || '(unnamed)';
  const size = `${count(a.plainSize)} bytes${a.voiceNote === true ? ', voice note' : ''}`;
  if (typeof saved.path === 'string') return `  attachment ${name} (${size}) saved to ${escapeText(saved.path)}`;
  if (a.state === 'failed') return `  ! attachment ${name} (${size}) failed: ${escapeText(text(a.error)) || 'error'}`;
  if (a.state === 'remote') return `  attachment ${name} (${size}) not downloaded`;
  return `  attachment ${name} (${size})`;
};
