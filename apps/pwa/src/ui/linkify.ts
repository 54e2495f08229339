/**
 * Finds the links in a message's text: `http://`, `https://` and `mailto:` addresses, and `www.` names (opened as
 * https). Every other scheme (`javascript:`, `data:`, `vbscript:`, `file:`…) stays plain text, whatever its case or
 * spacing, since only the three schemes above can ever come out as an `href`. Punctuation that ends a sentence
 * (".", ",", "!", ")" without its "(", Chinese "。" and "，"…) is left out of the link. It only splits text: it
 * renders nothing, fetches nothing (no link previews: no one, the server least of all, learns what was linked)
 * and never decodes HTML (the text is shown as text by React).
 */

/** A piece of a message's text: plain, or a link with the address to open. */
export type TextPart = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string };

/** The only schemes that become links. */
const SAFE_PROTOCOLS: ReadonlySet<string> = new Set(['http:', 'https:', 'mailto:']);

/**
 * Where a link may start: a scheme we accept or "www.", not glued to a Latin letter or digit before it (so
 * "xhttps://" or "javascripthttp://" are not links; Chinese text often runs straight into an address, "看https://…",
 * and that is one). ASCII only on purpose: a look-alike letter ("һttps", with a Cyrillic һ) is not the scheme.
 * `[^\s<>"\p{Cc}]` ends it at white space, control characters and characters no typed address contains.
 */
const CANDIDATE = /(?<![A-Za-z0-9_])(?:https?:\/\/|mailto:|www\.)[^\s<>"\p{Cc}]+/giu;

/** Punctuation that ends a sentence rather than the address (ASCII, and the CJK full-width forms). */
const TRAILING = /[.,;:!?'"*_~\u3001\u3002\uff0c\uff01\uff1f\uff1a\uff1b\u300d\u300f\u201d\u2019\u2026]$/u;

const CLOSERS: Readonly<Record<string, string>> = { ')': '(', ']': '[', '}': '{', '\uff09': '\uff08', '>': '<' };

/** A link longer than this is shown as text: no real address is this long, and the text bounds it anyway. */
const MAX_LINK_CHARS = 4_096;

/** Drops trailing punctuation and closing brackets that have no opening one inside the address. */
function trimEnd(candidate: string): string {
  let text = candidate;
  for (;;) {
    const last = text.at(-1);
    if (last === undefined) return text;
    if (TRAILING.test(last)) {
      text = text.slice(0, -1);
      continue;
    }
    const opener = CLOSERS[last];
    if (opener !== undefined) {
      const opens = text.split(opener).length - 1;
      const closes = text.split(last).length - 1;
      if (closes > opens) {
        text = text.slice(0, -1);
        continue;
      }
    }
    return text;
  }
}

/** The address to open for a candidate, or null when it is not a link we allow. */
function hrefOf(text: string): string | null {
  if (text.length > MAX_LINK_CHARS) return null;
  const lower = text.toLowerCase();
  const raw = lower.startsWith('www.') ? `https://${text}` : text;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (!SAFE_PROTOCOLS.has(url.protocol)) return null;
  if (url.protocol === 'mailto:') {
    // An address needs a local part and a domain ("mailto:" alone, or "mailto:?body=", is no address).
    const address = url.pathname;
    return /^[^@\s/]+@[^@\s/]+\.[^@\s/]+$/u.test(decodeURIComponentSafe(address)) ? url.href : null;
  }
  // A host with a dot (or localhost), so "http://" and "https://x" alone are not links.
  if (url.hostname.length === 0 || (!url.hostname.includes('.') && url.hostname !== 'localhost')) return null;
  // Credentials in a link ("https://bank.example@evil.example") disguise where it goes: not a link.
  if (url.username || url.password) return null;
  return url.href;
}

function decodeURIComponentSafe(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Splits `text` into plain runs and links, in order; joining the parts' `text` gives `text` back. */
export function linkify(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let plainFrom = 0;
  for (const match of text.matchAll(CANDIDATE)) {
    const start = match.index;
    const linkText = trimEnd(match[0]);
    const href = linkText.length > 0 ? hrefOf(linkText) : null;
    if (href === null) continue;
    if (start > plainFrom) parts.push({ kind: 'text', text: text.slice(plainFrom, start) });
    parts.push({ kind: 'link', text: linkText, href });
    plainFrom = start + linkText.length;
  }
  if (plainFrom < text.length) parts.push({ kind: 'text', text: text.slice(plainFrom) });
  return parts;
}
