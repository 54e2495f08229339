/**
 * Pure checks for the device-linking screens: whether pasted or scanned text looks like a Cove link URI
 * (`cove://link?uuid=<22 base64url>&pub_key=<44 base64url>`, docs/linking.md) and the short code both screens show
 * so the user can see it is the same device, and the device name a user typed made fit for the core. The core parses
 * the URI again (and checks the key) before anything is sent; this only lets the screen explain a bad paste at once.
 * No browser APIs, no crypto.
 */
import type { LinkUriCheck } from './model.js';

/** The channel address: 16 random bytes in base64url without padding. */
const ADDRESS_PATTERN = /^[A-Za-z0-9_-]{22}$/;
/** The new device's ephemeral public key: 33 bytes (type byte and X25519 key) in base64url without padding. */
const KEY_PATTERN = /^[A-Za-z0-9_-]{44}$/;
/** Pasted text is one line; anything much longer is not a link URI and is not worth parsing. */
const MAX_URI_CHARS = 512;
/** Mirrors the core's MAX_DEVICE_NAME_BYTES (the server stores at most this much ciphertext for a name). */
export const MAX_DEVICE_NAME_BYTES = 100;

/**
 * The code shown beside the QR and in the confirmation: eight characters of the new device's public key, which is
 * random per attempt, in two groups. Not a security check by itself (the URI carries the key): it lets the user see
 * that the device being confirmed is the one in front of them, not another code someone pasted.
 */
export const linkCodeOf = (publicKey: string): string =>
  `${publicKey.slice(-8, -4)}-${publicKey.slice(-4)}`.toUpperCase();

/** Checks a pasted or scanned link URI; `code` identifies the device waiting behind it. */
export function checkLinkUri(text: string): LinkUriCheck {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, error: 'empty' };
  if (trimmed.length > MAX_URI_CHARS || !/^cove:\/\/link\?/i.test(trimmed)) return { ok: false, error: 'not-link' };
  const query = trimmed.slice('cove://link?'.length);
  const params = new Map<string, string>();
  for (const part of query.split('&')) {
    const at = part.indexOf('=');
    if (at <= 0) return { ok: false, error: 'malformed' };
    const name = part.slice(0, at);
    if (params.has(name)) return { ok: false, error: 'malformed' };
    params.set(name, part.slice(at + 1));
  }
  const address = params.get('uuid') ?? '';
  const key = params.get('pub_key') ?? '';
  if (params.size !== 2 || !ADDRESS_PATTERN.test(address) || !KEY_PATTERN.test(key))
    return { ok: false, error: 'malformed' };
  // A serialized X25519 public key starts with the type byte 0x05: base64url "B" then one of "Q"…"Z", "a"…"f".
  if (!/^B[Q-Za-f]/.test(key)) return { ok: false, error: 'malformed' };
  return { ok: true, uri: `cove://link?uuid=${address}&pub_key=${key}`, code: linkCodeOf(key) };
}

/** The code for a URI this device shows (made by the core, so well formed); empty when it is not one. */
export const linkCodeOfUri = (uri: string): string => {
  const check = checkLinkUri(uri);
  return check.ok ? check.code : '';
};

/**
 * A typed device name as the core accepts it: trimmed, control characters dropped, cut to MAX_DEVICE_NAME_BYTES of
 * UTF-8 on a character boundary; undefined when nothing is left (the device stays unnamed).
 */
export function deviceNameOrNone(text: string): string | undefined {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  const cleaned = text.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ').trim();
  const encoder = new TextEncoder();
  let out = '';
  for (const char of cleaned) {
    if (encoder.encode(out + char).length > MAX_DEVICE_NAME_BYTES) break;
    out += char;
  }
  out = out.trim();
  return out === '' ? undefined : out;
}
