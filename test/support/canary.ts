/**
 * The canary check: searches everything the server keeps — every row of every table in its database, and every
 * log line it wrote — for given secrets in plain, hex and base64 form, and returns where each was found.
 */
import type { TestServer } from './server.js';

/** A needle in every form it could be stored or logged in: text, hex, base64 (standard and url-safe), raw. */
const forms = (needle: string | Uint8Array): string[] => {
  const bytes = typeof needle === 'string' ? Buffer.from(needle, 'utf8') : Buffer.from(needle);
  const base64 = bytes.toString('base64').replace(/=+$/, '');
  return [
    ...(typeof needle === 'string' ? [needle] : [bytes.toString('latin1')]),
    bytes.toString('hex'),
    base64,
    bytes.toString('base64url'),
  ];
};

const label = (needle: string | Uint8Array): string =>
  typeof needle === 'string' ? needle : `bytes ${Buffer.from(needle).toString('hex').slice(0, 8)}…`;

const render = (value: unknown): string[] => {
  if (value === null || value === undefined) return [];
  if (Buffer.isBuffer(value))
    return [value.toString('utf8'), value.toString('hex'), value.toString('base64'), value.toString('latin1')];
  if (value instanceof Date) return [value.toISOString()];
  if (typeof value === 'string') return [value];
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return [value.toString()];
  return [JSON.stringify(value)];
};

export async function findOnServer(server: TestServer, needles: (string | Uint8Array)[]): Promise<string[]> {
  const hits: string[] = [];
  const tables = await server.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
  );
  if (tables.length === 0) throw new Error('no tables found: is this the server database?');
  for (const { table_name: table } of tables) {
    const rows = await server.query(`SELECT * FROM "${table}"`);
    for (const row of rows) {
      for (const [column, value] of Object.entries(row)) {
        const texts = render(value);
        for (const needle of needles) {
          if (forms(needle).some((form) => texts.some((text) => text.includes(form))))
            hits.push(`${table}.${column} contains ${label(needle)}`);
        }
      }
    }
  }
  const logs = server.logs.join('');
  for (const needle of needles)
    for (const form of forms(needle)) if (logs.includes(form)) hits.push(`server logs contain ${label(needle)}`);
  return hits;
}
