/**
 * Turns stored records into the UI's view data, for any value a record can hold: a field of the wrong type, a
 * timestamp past JavaScript's date range, an unknown status or a negative count becomes a neutral value (no time,
 * no status, zero, a placeholder flag), so the views never see a shape they cannot render. Storage keys, not the
 * ids inside the values, name messages and conversations, because only keys are what the app pages and acts on.
 * It does not format anything for display (ui/format.ts does) and reads nothing itself.
 */
import { messageExpiry } from './history-reader.js';
import type { ChatMessage, ConversationSummary, FailureReason, MessageStatus, ReactionCount } from './model.js';

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

type Loose = Record<string, unknown>;

const record = (value: unknown): Loose => (value !== null && typeof value === 'object' ? (value as Loose) : {});

/** Milliseconds since the epoch when the value is a real date, else null. */
export const timeOrNull = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) && Math.abs(value) <= MAX_DATE_MS ? value : null;

/** A count that can be shown: a non-negative safe integer, else 0. */
export const countOrZero = (value: unknown): number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : 0;

/** A stored message as the chat shows it; `key` is its storage key. */
export function toChatMessage(key: string, stored: unknown, conversationId: string): ChatMessage {
  const m = record(stored);
  const outgoing = m.direction === 'outgoing';
  const status = outgoing && typeof m.status === 'string' && OUTGOING_STATUSES.has(m.status) ? m.status : undefined;
  const textOk = typeof m.text === 'string';
  const expiresAt = messageExpiry(stored);
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
    ...actionFields(m, conversationId),
  };
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
): ConversationSummary {
  const c = record(stored);
  const username = typeof c.peerUsername === 'string' && c.peerUsername.length > 0 ? c.peerUsername : null;
  const title = (username ?? id.slice(0, 8)).slice(0, MAX_TITLE_CHARS);
  return {
    id,
    title,
    unread: countOrZero(c.unreadCount),
    updatedAt: timeOrNull(c.lastMessageAt) ?? 0,
    identityChanged: trust?.trust === 'unverified' && trust.changedAt !== null && trust.changedAt !== undefined,
    verified: trust?.trust === 'verified',
    ...(last
      ? {
          lastMessage: {
            text: last.text,
            at: last.sentAt,
            outgoing: last.outgoing,
            ...(last.status ? { status: last.status } : {}),
            ...(last.undecryptable ? { undecryptable: true } : {}),
            ...(last.unshowable ? { unshowable: true } : {}),
          },
        }
      : {}),
  };
}
