/**
 * Date and time formatting for the UI with Intl in the active language: message times, list timestamps and day
 * separators ("Today", "Yesterday", or a date). No user-facing literals: relative day names come from i18n.
 */
import type { TFunction } from 'i18next';

const DAY_MS = 86_400_000;

function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function formatTime(ms: number, language: string): string {
  return new Intl.DateTimeFormat(language, { hour: 'numeric', minute: '2-digit' }).format(ms);
}

export function formatDay(ms: number, language: string, t: TFunction, now = Date.now()): string {
  const diff = Math.round((startOfDay(now) - startOfDay(ms)) / DAY_MS);
  if (diff === 0) return t('time.today');
  if (diff === 1) return t('time.yesterday');
  const sameYear = new Date(ms).getFullYear() === new Date(now).getFullYear();
  return new Intl.DateTimeFormat(language, {
    weekday: diff < 7 ? 'long' : undefined,
    month: 'long',
    day: 'numeric',
    year: sameYear ? undefined : 'numeric',
  }).format(ms);
}

/** A compact timestamp for the conversation list: a time today, a weekday this week, else a short date. */
export function formatListTime(ms: number, language: string, t: TFunction, now = Date.now()): string {
  const diff = Math.round((startOfDay(now) - startOfDay(ms)) / DAY_MS);
  if (diff === 0) return formatTime(ms, language);
  if (diff === 1) return t('time.yesterday');
  if (diff < 7) return new Intl.DateTimeFormat(language, { weekday: 'short' }).format(ms);
  return new Intl.DateTimeFormat(language, { month: 'short', day: 'numeric' }).format(ms);
}

export function isSameDay(a: number, b: number): boolean {
  return startOfDay(a) === startOfDay(b);
}
