/**
 * Per-conversation preferences of this device's user: muted (until a time, or for good), pinned (at most
 * `MAX_PINNED`, in the order they were pinned) and archived. Stored in the `meta` table (`chat/<conversation id>`),
 * so at rest they are sealed like every other row and a commit reaches the other tabs and the service worker as any
 * commit does. An archived conversation comes back by itself when a message arrives after it was archived, unless it
 * is muted (as in Signal): `isArchived` compares the conversation's last message key with the one it had when
 * archived, so it needs neither the sender's clock nor a write on receipt. Time is a parameter; values read back are
 * checked, since storage may hold anything. It does not notify, count or render: the apps do.
 */
import type { ChatPreferencesRecord, ConversationEntry } from './tables.js';
import type { KeyValueStorage, LockManager } from './platform.js';

export type { ChatPreferencesRecord } from './tables.js';

/** Signal pins at most four conversations: enough for the few that matter, and the list stays a list. */
export const MAX_PINNED = 4;
/** `mutedUntil` of a conversation muted for good (JSON-safe, unlike Infinity). */
export const MUTED_FOREVER = Number.MAX_SAFE_INTEGER;
/** The meta keys of the preferences. */
export const CHAT_PREFERENCES_PREFIX = 'chat/';
/** Serializes read-modify-writes of the preferences across tabs, so two pins at once cannot pass `MAX_PINNED`. */
const PREFERENCES_LOCK = 'cove:chat-preferences';

const NONE: ChatPreferencesRecord = { mutedUntil: null, pinnedAt: null, archivedAfter: null };

const finite = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : null;

/** A stored value as a record, whatever it holds (anything unusable reads as "not set"). */
export function toChatPreferences(value: unknown): ChatPreferencesRecord {
  if (value === null || typeof value !== 'object') return NONE;
  const v = value as Partial<Record<keyof ChatPreferencesRecord, unknown>>;
  return {
    mutedUntil: finite(v.mutedUntil),
    pinnedAt: finite(v.pinnedAt),
    archivedAfter: typeof v.archivedAfter === 'string' ? v.archivedAfter : null,
  };
}

export const isMuted = (p: ChatPreferencesRecord, now: number): boolean => p.mutedUntil !== null && p.mutedUntil > now;

/** Archived, unless a message came after archiving and the conversation is not muted. */
export function isArchived(
  p: ChatPreferencesRecord,
  conversation: Pick<ConversationEntry, 'lastMessageKey'> | undefined,
  now: number,
): boolean {
  if (p.archivedAfter === null) return false;
  if (isMuted(p, now)) return true;
  const last = typeof conversation?.lastMessageKey === 'string' ? conversation.lastMessageKey : '';
  // Message keys of one conversation share a prefix and end in a zero-padded sequence: string order is arrival order.
  return last <= p.archivedAfter;
}

/** The preferences of every conversation that has any, by conversation id. */
export async function readChatPreferences(storage: KeyValueStorage): Promise<Map<string, ChatPreferencesRecord>> {
  const entries = await storage.list<ChatPreferencesRecord>('meta', { prefix: CHAT_PREFERENCES_PREFIX });
  return new Map(entries.map((e) => [e.key.slice(CHAT_PREFERENCES_PREFIX.length), toChatPreferences(e.value)]));
}

export async function readChatPreference(
  storage: KeyValueStorage,
  conversationId: string,
): Promise<ChatPreferencesRecord> {
  return toChatPreferences(await storage.get<ChatPreferencesRecord>('meta', CHAT_PREFERENCES_PREFIX + conversationId));
}

/** What a change asks for; `pinned: true` is refused with `limit` when `MAX_PINNED` others are pinned. */
export type ChatPreferencesChange =
  | { kind: 'mute'; until: number | null }
  | { kind: 'pin'; pinned: boolean }
  | { kind: 'archive'; archived: boolean; lastMessageKey: string | null };

/** Applies one change under the preferences lock (a tab and another never interleave). */
export async function changeChatPreferences(
  storage: KeyValueStorage,
  locks: LockManager,
  conversationId: string,
  change: ChatPreferencesChange,
  now: number,
): Promise<'ok' | 'limit'> {
  return locks.withLock(PREFERENCES_LOCK, async () => {
    const current = await readChatPreference(storage, conversationId);
    let next: ChatPreferencesRecord;
    switch (change.kind) {
      case 'mute':
        next = { ...current, mutedUntil: change.until !== null && change.until > now ? change.until : null };
        break;
      case 'pin': {
        if (!change.pinned) {
          next = { ...current, pinnedAt: null };
          break;
        }
        if (current.pinnedAt !== null) return 'ok';
        const all = await readChatPreferences(storage);
        const pinned = [...all.entries()].filter(([id, p]) => id !== conversationId && p.pinnedAt !== null);
        if (pinned.length >= MAX_PINNED) return 'limit';
        // After every pin there is, even one made with a clock set ahead: pinned order is the order of pinning.
        const latest = Math.max(now, ...pinned.map(([, p]) => (p.pinnedAt ?? 0) + 1));
        // Pinning takes a conversation out of the archive, as in Signal.
        next = { ...current, pinnedAt: latest, archivedAfter: null };
        break;
      }
      case 'archive':
        next = change.archived
          ? { ...current, archivedAfter: change.lastMessageKey ?? '', pinnedAt: null }
          : { ...current, archivedAfter: null };
        break;
    }
    const key = CHAT_PREFERENCES_PREFIX + conversationId;
    if (next.mutedUntil === null && next.pinnedAt === null && next.archivedAfter === null) {
      await storage.commit([{ op: 'delete', table: 'meta', key }]);
    } else {
      await storage.commit([{ op: 'put', table: 'meta', key, value: next }]);
    }
    return 'ok';
  });
}
