/**
 * A round avatar with the contact's initial on a colour derived from their name (stable across sessions).
 */
import type { ReactElement } from 'react';

/** Hues chosen so white initials keep a contrast ratio of at least 4.5 at the lightness used below. */
const HUES = [190, 215, 260, 290, 330, 10, 30, 150];

export function Avatar({ name, size = 44 }: { name: string; size?: number }): ReactElement {
  let hash = 0;
  for (const ch of name) hash = (hash * 31 + (ch.codePointAt(0) ?? 0)) >>> 0;
  const hue = HUES[hash % HUES.length] ?? 190;
  const initial = [...name][0]?.toUpperCase() ?? '?';
  return (
    <span
      className="avatar"
      aria-hidden="true"
      style={{ width: size, height: size, fontSize: size * 0.42, background: `hsl(${hue} 55% 36%)` }}
    >
      {initial}
    </span>
  );
}
