/**
 * Formatting for the UI with Intl in the active language: message times, list timestamps, day separators ("Today",
 * "Yesterday", or a date) and counts. Every function is total: any value a stored record can hold (a timestamp past
 * JavaScript's date range, NaN, a string, a negative count) gives a neutral placeholder, never an exception, so one
 * hostile message cannot take down a screen. No user-facing words: relative day names come from i18n.
 */
import type { TFunction } from 'i18next';

const DAY_MS = 86_400_000;
/** ECMAScript dates cover ±8.64e15 ms around the epoch (ECMA-262 §21.4.1.22); anything outside has no date. */
const MAX_DATE_MS = 8.64e15;
/** Shown instead of a time or date that does not exist; a dash reads the same in every language. */
export const NO_VALUE = '—';
/** Counts above this show as "999+": a badge has room for four characters. */
const MAX_COUNT_SHOWN = 999;

/** The value as milliseconds since the epoch when it names a real date (with its day boundaries), else null. */
export function validTime(value: unknown): number | null {
  if (typeof value !== 'number' || !Number.isFinite(value)) return null;
  // One day of margin keeps `startOfDay` (which moves up to a day) inside the range too.
  if (Math.abs(value) > MAX_DATE_MS - DAY_MS) return null;
  return value;
}

function startOfDay(ms: number): number | null {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  const start = d.getTime();
  return Number.isFinite(start) ? start : null;
}

/** Runs an Intl formatter, turning any refusal (an odd language tag, an engine limit) into the placeholder. */
function safely(format: () => string): string {
  try {
    return format();
  } catch {
    return NO_VALUE;
  }
}

/** Whole days from `ms`'s day to `now`'s day, or null when either is not a date. */
function daysBefore(ms: number, now: number): number | null {
  const a = startOfDay(ms);
  const b = validTime(now) === null ? null : startOfDay(now);
  return a === null || b === null ? null : Math.round((b - a) / DAY_MS);
}

export function formatTime(value: unknown, language: string): string {
  const ms = validTime(value);
  if (ms === null) return NO_VALUE;
  return safely(() => new Intl.DateTimeFormat(language, { hour: 'numeric', minute: '2-digit' }).format(ms));
}

/** The ISO form for a `<time dateTime>` attribute, or undefined when the value is not a date. */
export function isoTime(value: unknown): string | undefined {
  const ms = validTime(value);
  if (ms === null) return undefined;
  try {
    return new Date(ms).toISOString();
  } catch {
    return undefined;
  }
}

export function formatDay(value: unknown, language: string, t: TFunction, now = Date.now()): string {
  const ms = validTime(value);
  if (ms === null) return NO_VALUE;
  const diff = daysBefore(ms, now);
  if (diff === null) return NO_VALUE;
  if (diff === 0) return t('time.today');
  if (diff === 1) return t('time.yesterday');
  const sameYear = new Date(ms).getFullYear() === new Date(now).getFullYear();
  return safely(() =>
    new Intl.DateTimeFormat(language, {
      weekday: diff > 0 && diff < 7 ? 'long' : undefined,
      month: 'long',
      day: 'numeric',
      year: sameYear ? undefined : 'numeric',
    }).format(ms),
  );
}

/** A compact timestamp for the conversation list: a time today, a weekday this week, else a short date. */
export function formatListTime(value: unknown, language: string, t: TFunction, now = Date.now()): string {
  const ms = validTime(value);
  if (ms === null) return NO_VALUE;
  const diff = daysBefore(ms, now);
  if (diff === null) return NO_VALUE;
  if (diff === 0) return formatTime(ms, language);
  if (diff === 1) return t('time.yesterday');
  if (diff > 0 && diff < 7) return safely(() => new Intl.DateTimeFormat(language, { weekday: 'short' }).format(ms));
  return safely(() => new Intl.DateTimeFormat(language, { month: 'short', day: 'numeric' }).format(ms));
}

/** Whether two values fall on the same local day; two values that are not dates count as one (undated) day. */
export function isSameDay(a: unknown, b: unknown): boolean {
  const x = validTime(a);
  const y = validTime(b);
  if (x === null || y === null) return x === y;
  return startOfDay(x) === startOfDay(y);
}

/** A count for a badge: a non-negative integer in the active language's digits, "999+" above that. */
export function formatCount(value: unknown, language: string): string {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return NO_VALUE;
  const shown = Math.min(Math.floor(value), MAX_COUNT_SHOWN);
  const text = safely(() => new Intl.NumberFormat(language, { maximumFractionDigits: 0 }).format(shown));
  return value > MAX_COUNT_SHOWN ? `${text}+` : text;
}

const SIZE_UNITS = ['B', 'KB', 'MB', 'GB'] as const;

/** A byte count for people (1,000-based like the platforms' file managers); total: anything else shows "—". */
export function formatBytes(value: unknown, language: string): string {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return NO_VALUE;
  let n = value;
  let unit = 0;
  while (n >= 1000 && unit < SIZE_UNITS.length - 1) {
    n /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || n >= 100 ? 0 : 1;
  const shown = safely(() => new Intl.NumberFormat(language, { maximumFractionDigits: digits }).format(n));
  return `${shown} ${SIZE_UNITS[unit]}`;
}

/** A duration as m:ss (h:mm:ss past an hour); total. */
export function formatDuration(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return NO_VALUE;
  const total = Math.round(ms / 1000);
  const s = total % 60;
  const m = Math.floor(total / 60) % 60;
  const h = Math.floor(total / 3600);
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Units for durations, largest first, in seconds. */
const DURATION_UNITS: readonly (readonly [Intl.NumberFormatOptions['unit'], number])[] = [
  ['week', 604_800],
  ['day', 86_400],
  ['hour', 3_600],
  ['minute', 60],
  ['second', 1],
];

/**
 * A duration in its largest whole unit, in the language's words ("1 hour", "4 weeks", "30 秒"; `short`: "1 hr"), for
 * disappearing-message timers and what remains of one; a negative or non-number value reads as 0 seconds.
 */
export function formatTimer(seconds: unknown, language: string, display: 'long' | 'short' = 'long'): string {
  const value = typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds : 0;
  const [unit, size] = DURATION_UNITS.find(([, s]) => value >= s) ?? ['second', 1];
  // Rounded up: "1 min" left until the last second, never "0".
  const amount = Math.max(Math.ceil(value / size - 1e-9), value === 0 ? 0 : 1);
  return safely(() => new Intl.NumberFormat(language, { style: 'unit', unit, unitDisplay: display }).format(amount));
}
