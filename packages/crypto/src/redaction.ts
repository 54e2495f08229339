/**
 * How types holding secret bytes print: private keys, KEM secret keys and key pairs, prekey and session records,
 * and the in-memory stores keep those bytes in `#private` fields (invisible to every property walk) and describe
 * themselves through `toJSON`, `toString` and Node's inspect hook with their type and public facts only, so
 * `JSON.stringify`, `util.inspect`, `console.log`, `String()` and template strings never show a key. Does not
 * hide anything from `serialize()`, which is how callers persist secrets on purpose.
 */

/**
 * The key Node's `util.inspect` (and so `console.log`) looks up on an object. It is a registered symbol, so this
 * package can define the hook without importing `node:util` (crypto stays pure); elsewhere it is inert.
 */
export const INSPECT_CUSTOM: unique symbol = Symbol.for('nodejs.util.inspect.custom');

/** What a secret prints as, wherever it would have appeared. */
export const REDACTED = '[redacted]';

/** Public facts a secret holder may show: counts, ids, timestamps, flags. Never bytes. */
export type PublicFacts = Readonly<Record<string, string | number | boolean>>;

/** The JSON form of a secret holder: its type and public facts. */
export type RedactedJson = { readonly type: string } & PublicFacts;

/** `Type { a: 1, secret: [redacted] }`, the text form of a secret holder. */
export function describeRedacted(type: string, facts: PublicFacts): string {
  const body = Object.entries(facts)
    .map(([k, v]) => `${k}: ${String(v)}`)
    .join(', ');
  return body === '' ? `${type} {}` : `${type} { ${body} }`;
}

/** `{ type, ...facts }`, the JSON form of a secret holder. */
export function redactedJson(type: string, facts: PublicFacts): RedactedJson {
  return { type, ...facts };
}
