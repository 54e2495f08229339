/**
 * Shared pieces of the server fuzz suites: a snapshot of every table (to prove that refused input changed nothing)
 * and fast-check arbitraries for the ids and values that reach the server's edge. No assertions here.
 */
import fc from 'fast-check';

import type { TestServer } from '../support/harness.js';

/** Every table the API writes, each with an order that makes its dump deterministic. */
const TABLES: Array<[string, string]> = [
  ['accounts', 'id'],
  ['devices', 'account_id, id'],
  ['pre_keys', 'account_id, device_id, key_id'],
  ['kyber_pre_keys', 'account_id, device_id, key_id'],
  ['envelopes', 'id'],
  ['shared_payloads', 'id'],
  ['provisioning_codes', 'code_hash'],
  ['websocket_tickets', 'ticket_hash'],
  ['push_subscriptions', 'account_id, device_id'],
];

/** The whole database as one string (row contents, in order). */
export async function snapshot(server: TestServer): Promise<string> {
  const parts: string[] = [];
  for (const [table, order] of TABLES) {
    const rows = await server.query<{ row: string }>(`SELECT t::text AS row FROM ${table} t ORDER BY ${order}`);
    parts.push(`${table}:${rows.map((r) => r.row).join('\n')}`);
  }
  return parts.join('\n--\n');
}

/** A uuid in any spelling (upper, lower, mixed): the server must read them all as one id. */
export const anyCaseUuid = (): fc.Arbitrary<string> =>
  fc
    .tuple(fc.uuid(), fc.array(fc.boolean(), { minLength: 36, maxLength: 36 }))
    .map(([uuid, upper]) => [...uuid].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''));

/** Strings that are likely to trip a parser: empty, huge, control and non-BMP characters, numbers, near-uuids. */
export const hostileString = (): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.constantFrom('', ' ', '*', '0', '-1', '1e309', 'NaN', 'null', '%00', '..', '../..', '\u0000', '\ud800', 'ǅ'),
    fc.integer().map(String),
    fc.uuid().map((u) => `${u}x`),
    fc.nat({ max: 200_000 }).map((n) => 'a'.repeat(n)),
  );

/** Any JSON value, with deep nesting and hostile strings. */
export const hostileJson = (): fc.Arbitrary<unknown> =>
  fc.oneof(
    fc.jsonValue({ maxDepth: 4 }),
    fc.dictionary(hostileString(), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 6 }),
    fc.array(hostileString(), { maxLength: 5 }),
  );

/** A valid object with one field replaced, removed, or one added (the mutations a schema must catch). */
export const mutated = (valid: Record<string, unknown>): fc.Arbitrary<unknown> => {
  const keys = Object.keys(valid);
  return fc.oneof(
    fc.tuple(fc.constantFrom(...keys), hostileJson()).map(([key, value]) => ({ ...valid, [key]: value })),
    fc.constantFrom(...keys).map((key) => {
      const copy = { ...valid };
      delete copy[key];
      return copy;
    }),
    fc.tuple(hostileString(), hostileJson()).map(([key, value]) => ({ ...valid, [key]: value })),
  );
};
