/**
 * The array parameters of the hand-written statements: PostgreSQL must read the binary arrays given to `pg` as the
 * same values as the text literals given to PGlite — nulls, negative and 64-bit integers, non-ASCII and quoting
 * characters, uuids in any spelling, any bytes — and refuse what it refused before (out-of-range integers).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';

import { type ArrayParams, BINARY_ARRAYS, TEXT_ARRAYS } from '../../src/repositories/database.repository.js';
import { ADMIN_URL } from '../support/harness.js';

const cases: Array<{ type: string; encode: (a: ArrayParams) => unknown; expected: unknown[] }> = [
  { type: 'smallint', encode: (a) => a.int2([1, null, -32768, 32767]), expected: [1, null, -32768, 32767] },
  {
    type: 'int',
    encode: (a) => a.int4([0, 2_147_483_647, -2_147_483_648, null]),
    expected: [0, 2_147_483_647, -2_147_483_648, null],
  },
  {
    type: 'bigint',
    encode: (a) => a.int8([1_765_000_000_123, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, -1, null, 0]),
    expected: ['1765000000123', '9007199254740991', '-9007199254740991', '-1', null, '0'],
  },
  { type: 'boolean', encode: (a) => a.bool([true, false, true]), expected: [true, false, true] },
  {
    type: 'uuid',
    encode: (a) => a.uuid(['0b9e3a3c-5f0e-4a8e-9c1d-6f2d1f6d2a11', null, '5D1C8C2E-0F5B-4F4C-8F0A-3B7A5D1E9C22']),
    expected: ['0b9e3a3c-5f0e-4a8e-9c1d-6f2d1f6d2a11', null, '5d1c8c2e-0f5b-4f4c-8f0a-3b7a5d1e9c22'],
  },
  {
    // Another spelling PostgreSQL reads (braces, no hyphens) goes as text, the whole array.
    type: 'uuid',
    encode: (a) => a.uuid(['{0b9e3a3c5f0e4a8e9c1d6f2d1f6d2a11}', '5d1c8c2e-0f5b-4f4c-8f0a-3b7a5d1e9c22']),
    expected: ['0b9e3a3c-5f0e-4a8e-9c1d-6f2d1f6d2a11', '5d1c8c2e-0f5b-4f4c-8f0a-3b7a5d1e9c22'],
  },
  {
    type: 'varchar',
    encode: (a) => a.varchar(['whisper', null, 'quote " back \\ comma , brace } é 😀', '', 'NULL']),
    expected: ['whisper', null, 'quote " back \\ comma , brace } é 😀', '', 'NULL'],
  },
  {
    type: 'bytea',
    encode: (a) => a.bytea([Buffer.from([0, 1, 255]), new Uint8Array(0), Buffer.from('\\x"', 'latin1')]),
    expected: [Buffer.from([0, 1, 255]), Buffer.alloc(0), Buffer.from('\\x"', 'latin1')],
  },
];

describe('array parameters', () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: ADMIN_URL });
    await client.connect();
  });
  afterAll(async () => {
    await client.end();
  });

  it('should give PostgreSQL the same values in binary as in text, nulls and edge values included', async () => {
    for (const { type, encode, expected } of cases) {
      for (const arrays of [BINARY_ARRAYS, TEXT_ARRAYS]) {
        const { rows } = await client.query<{ v: unknown }>(`SELECT unnest($1::${type}[]) AS v`, [encode(arrays)]);
        expect({ type, values: rows.map((r) => r.v) }).toEqual({ type, values: expected });
      }
    }
    // The binary form is what `pg` sends for the hot statement, not a text literal.
    expect(Buffer.isBuffer(BINARY_ARRAYS.uuid(['0b9e3a3c-5f0e-4a8e-9c1d-6f2d1f6d2a11']))).toBe(true);
  });

  it('should leave an integer out of range to PostgreSQL, which refuses it as before', async () => {
    for (const arrays of [BINARY_ARRAYS, TEXT_ARRAYS]) {
      await expect(client.query('SELECT unnest($1::smallint[])', [arrays.int2([40_000])])).rejects.toThrow(
        /out of range/,
      );
    }
  });
});
