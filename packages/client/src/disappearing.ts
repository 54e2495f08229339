/**
 * Disappearing messages in direct conversations: the conversation's timer (table `conversations`), the system line a
 * timer update leaves in the history on both sides, and the check of a timer a caller asks for. Every 1:1 message
 * then carries the timer and disappears on both sides when it runs out (history.ts hides it, sweeps.ts deletes it).
 * Groups keep their timer in their state (groups.ts). It does not send (messenger.ts stores the update and the
 * outbox delivers it).
 */
import { MAX_EXPIRE_SECONDS } from '@cove/protocol';

import { ClientError, ClientErrorCode } from './errors.js';
import type { ConversationEntry, GroupChange } from './tables.js';

/** The timer a caller asked for, checked: a whole number of seconds up to the protocol's bound; 0 or null: off. */
export const checkTimer = (seconds: number | null): number | null => {
  if (seconds === null || seconds === 0) return null;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 0 || seconds > MAX_EXPIRE_SECONDS)
    throw new ClientError(
      ClientErrorCode.InvalidInput,
      `a disappearing-message timer is 0 (off) to ${MAX_EXPIRE_SECONDS} whole seconds`,
    );
  return seconds;
};

/** A direct conversation's timer (null: off); a stored value that is not a timer reads as off. */
export const conversationTimer = (conversation: ConversationEntry | undefined): number | null => {
  const value = conversation?.expireTimerSeconds;
  return typeof value === 'number' && Number.isInteger(value) && value > 0 && value <= MAX_EXPIRE_SECONDS
    ? value
    : null;
};

/** The system line of a timer change (the same shape as a group's, at no revision). */
export const timerChange = (seconds: number | null): GroupChange => ({
  kind: 'timer',
  revision: 0,
  members: [],
  title: null,
  expireTimerSeconds: seconds,
});

/** An English rendering of a timer change, stored as the line's text (UIs render `system` in their language). */
export const timerText = (actor: string, seconds: number | null): string =>
  seconds === null ? `${actor} turned off disappearing messages` : `${actor} set disappearing messages to ${seconds} s`;
