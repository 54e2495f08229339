/**
 * Total formatting of stored values for people: timestamps as readable UTC times, and text that came from others
 * (message text, usernames, quotes) with every character that could move the cursor, change the terminal or
 * reorder what follows shown in a visible escaped form. Every function here returns a string for ANY input — a
 * value out of JavaScript's date range, NaN, a string where a number belongs, a value stored by an older build —
 * and never throws, so one hostile message cannot take down a screen or a listener. It does not decide where text
 * is shown, and it does not escape for HTML (React does) or JSON (JSON.stringify does).
 */

/**
 * What is escaped: C0 controls (newline, carriage return, tab and ESC among them), DEL, C1 controls (U+0080–U+009F,
 * which include the 8-bit CSI), the Arabic letter mark U+061C, the left-to-right and right-to-left marks
 * U+200E/U+200F, the line and paragraph separators U+2028/U+2029, the bidi embeddings and overrides U+202A–U+202E
 * and the bidi isolates U+2066–U+2069. Backslashes are left alone: they cannot forge a line or reach the terminal.
 * All of these are single UTF-16 code units.
 */
export const isUnsafeCodeUnit = (code: number): boolean =>
  code <= 0x1f ||
  (code >= 0x7f && code <= 0x9f) ||
  code === 0x061c ||
  code === 0x200e ||
  code === 0x200f ||
  code === 0x2028 ||
  code === 0x2029 ||
  (code >= 0x202a && code <= 0x202e) ||
  (code >= 0x2066 && code <= 0x2069);

const SHORT: Record<number, string> = { 0x0a: '\\n', 0x0d: '\\r', 0x09: '\\t' };

const hex = (code: number, width: number): string => code.toString(16).padStart(width, '0');

/** The visible escaped form of one unsafe code unit: `\n`, `\r`, `\t`, `\xHH` up to U+00FF, `\uHHHH` above. */
export const escapeCodeUnit = (code: number): string =>
  SHORT[code] ?? (code <= 0xff ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`);

/**
 * Text from others, safe to print on one terminal line: unsafe characters become visible escapes (a newline is
 * shown as `\n`, ESC as `\x1b`, U+202E as `\u202e`). A non-string gives an empty string.
 */
export const escapeText = (value: unknown): string => {
  if (typeof value !== 'string') return '';
  let out = '';
  let start = 0;
  for (let i = 0; i < value.length; i += 1) {
    const code = value.charCodeAt(i);
    if (!isUnsafeCodeUnit(code)) continue;
    out += value.slice(start, i) + escapeCodeUnit(code);
    start = i + 1;
  }
  return start === 0 ? value : out + value.slice(start);
};

/** Whether `value` holds any character that escapeText would escape. */
export const hasUnsafeText = (value: string): boolean => {
  for (let i = 0; i < value.length; i += 1) if (isUnsafeCodeUnit(value.charCodeAt(i))) return true;
  return false;
};

/** The last millisecond JavaScript's Date can represent (ECMA-262 §21.4.1.1); beyond it formatting throws. */
const DATE_LIMIT_MS = 8_640_000_000_000_000;

const two = (value: number): string => String(value).padStart(2, '0');

/**
 * A timestamp (ms since the epoch) as `YYYY-MM-DD HH:MM:SS` in UTC; `(invalid time)` for anything that is not a
 * number JavaScript can turn into a date.
 */
export const formatTimestamp = (value: unknown): string => {
  if (typeof value !== 'number' || !Number.isFinite(value) || Math.abs(value) > DATE_LIMIT_MS) return '(invalid time)';
  const date = new Date(value);
  const year = date.getUTCFullYear();
  const yearText = year >= 0 && year <= 9999 ? String(year).padStart(4, '0') : String(year);
  return `${yearText}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())} ${two(date.getUTCHours())}:${two(
    date.getUTCMinutes(),
  )}:${two(date.getUTCSeconds())}`;
};
