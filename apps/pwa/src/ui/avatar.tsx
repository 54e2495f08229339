/**
 * A round avatar: the contact's profile picture when there is one (image bytes, shown through a blob URL that is
 * revoked with the component), else their initial on a colour derived from their name (stable across sessions).
 */
import { useEffect, useState, type ReactElement } from 'react';

/** Hues chosen so white initials keep a contrast ratio of at least 4.5 at the lightness used below. */
const HUES = [190, 215, 260, 290, 330, 10, 30, 150];

export function Avatar({ name, size = 44, image }: { name: string; size?: number; image?: Uint8Array }): ReactElement {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!image) {
      setUrl(null);
      return undefined;
    }
    const made = URL.createObjectURL(new Blob([new Uint8Array(image)], { type: 'image/jpeg' }));
    setUrl(made);
    return () => URL.revokeObjectURL(made);
  }, [image]);
  if (url)
    return (
      <img
        className="avatar avatar-image"
        src={url}
        alt=""
        aria-hidden="true"
        data-testid="avatar-image"
        width={size}
        height={size}
        style={{ width: size, height: size }}
      />
    );
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
