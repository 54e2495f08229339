/**
 * How the `cove` CLI shows stored values: one line per message or conversation for people, one JSON object per line
 * for scripts. Every function is total — it returns a string for any value, including hostile or corrupt stored
 * records and values stored by older builds — so `listen`, `history` and `conversations` survive any content.
 * Text from others is escaped (display.ts); JSON output stays exact (JSON.parse gives back the very same strings) but
 * additionally writes DEL, C1 controls and bidi/line-separator characters as \u escapes, so that a JSON line printed
 * on a terminal cannot drive it either. It does not print anything itself.
 */
import { escapeText, formatTimestamp, isUnsafeCodeUnit } from '../../display.js';
import { directPeerOf } from '../../tables.js';

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
  const name = escapeText(text(c.peerUsername) || text(c.peerAccountId)) || '(unknown)';
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
  };
};
