/**
 * The database connection: PostgreSQL through a `pg` pool when DATABASE_URL is set, otherwise PGlite (PostgreSQL in
 * WebAssembly) in-process under DATA_DIR, committing to disk as PostgreSQL does (`pglite-fsync.repository.ts`). It exposes the Prisma client (for ordinary reads and writes) and a thin
 * raw SQL executor on the same connections (for the hand-written hot-path statements), applies migrations on start
 * and reports readiness. Only repositories use it; it holds no business rules.
 */
import { mkdir } from 'node:fs/promises';

import { PGlite } from '@electric-sql/pglite';
import type { OnModuleDestroy } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';

import { PrismaClient } from '../generated/prisma/client.js';
import type { ConfigRepository } from './config.repository.js';
import { applyMigrations, withWholeScripts } from './migration.repository.js';
import { durablePGliteOptions } from './pglite-fsync.repository.js';

/** Binary column values: Buffer (pg) or Uint8Array (PGlite) over a plain ArrayBuffer. */
export type Bytes = Uint8Array<ArrayBuffer>;

export type Row = Record<string, unknown>;

export interface SqlExecutor {
  /**
   * Runs one statement. With `name`, PostgreSQL keeps it prepared per connection (parsed and planned once, not per
   * call): only for statements whose text never changes (e.g. rows passed as arrays, not as a VALUES list).
   */
  query<T extends Row = Row>(sql: string, params?: unknown[], name?: string): Promise<T[]>;
  /** Encoders of array parameters (`$n::int[]` …) as this connection takes them best. */
  readonly arrays: ArrayParams;
}

/**
 * Array parameters for statements that take their rows as arrays (`unnest($1::uuid[], …)`), one encoder per
 * element type; each value must be passed to a parameter cast to exactly that array type (`int2` to `$n::smallint[]`,
 * `varchar` to `$n::varchar[]`, …). PostgreSQL (`pg`) gets them in PostgreSQL's binary array format (no text to
 * build here, none to parse there: bytes are copied, not hex-encoded); PGlite gets the text literals.
 */
export interface ArrayParams {
  int2(values: ReadonlyArray<number | null>): unknown;
  int4(values: ReadonlyArray<number | null>): unknown;
  int8(values: ReadonlyArray<number | null>): unknown;
  bool(values: readonly boolean[]): unknown;
  uuid(values: ReadonlyArray<string | null>): unknown;
  varchar(values: ReadonlyArray<string | null>): unknown;
  bytea(values: readonly Uint8Array[]): unknown;
}

/** The text literals, for any connection (PGlite). */
export const TEXT_ARRAYS: ArrayParams = {
  int2: numberArray,
  int4: numberArray,
  int8: numberArray,
  bool: booleanArray,
  uuid: textArray,
  varchar: textArray,
  bytea: byteaArray,
};

/** PostgreSQL's SQLSTATE codes the repositories react to. */
export const SqlState = {
  UniqueViolation: '23505',
  ForeignKeyViolation: '23503',
} as const;

/** The SQLSTATE of a driver or Prisma error, if any. */
export function sqlState(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; cause?: unknown; meta?: { code?: unknown }; originalCode?: unknown };
  if (e.code === 'P2002') return SqlState.UniqueViolation;
  if (e.code === 'P2003') return SqlState.ForeignKeyViolation;
  if (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) && !e.code.startsWith('P')) return e.code;
  if (typeof e.originalCode === 'string') return e.originalCode;
  if (typeof e.meta?.code === 'string') return e.meta.code;
  return e.cause ? sqlState(e.cause) : undefined;
}

/** SQLSTATEs meaning "the server is going away or not accepting work", not "your statement is wrong". */
const UNAVAILABLE_STATES = new Set([
  '57P01', // admin_shutdown: the server is stopping (e.g. `pg_ctl restart -m fast`)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or shutting down
  '53300', // too_many_connections
]);
/** Socket-level failures of the connection to the database. */
const UNAVAILABLE_SYSCALLS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
]);
/** Prisma's codes for an unreachable database, a closed connection and a connection-pool timeout. */
const UNAVAILABLE_PRISMA = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** Driver-adapter error kinds with the same meaning. */
const UNAVAILABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
/** `pg`'s own messages for a connection that went away or could not be made in time. */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|not queryable|Connection closed|ended by the other party/i;

/**
 * Whether an error means the database cannot be reached right now (down, restarting, connection lost or pool
 * timed out): the request may succeed later, so callers answer `503 unavailable`, never `500`. Looks through
 * wrapped causes.
 */
export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 5) return false;
  const e = error as { code?: unknown; kind?: unknown; message?: unknown; cause?: unknown; originalCode?: unknown };
  const code = typeof e.code === 'string' ? e.code : typeof e.originalCode === 'string' ? e.originalCode : undefined;
  if (code && (UNAVAILABLE_STATES.has(code) || UNAVAILABLE_SYSCALLS.has(code) || UNAVAILABLE_PRISMA.has(code)))
    return true;
  if (code?.startsWith('08') && code.length === 5) return true;
  if (typeof e.kind === 'string' && UNAVAILABLE_KINDS.has(e.kind)) return true;
  if (typeof e.message === 'string' && UNAVAILABLE_MESSAGE.test(e.message)) return true;
  /** Prisma wraps the driver's error in `meta.driverAdapterError` (e.g. P2039 around a 57P03). */
  const wrapped = (error as { meta?: { driverAdapterError?: unknown } }).meta?.driverAdapterError;
  if (wrapped && isDatabaseUnavailable(wrapped, depth + 1)) return true;
  const errors = (error as { errors?: unknown }).errors;
  if (Array.isArray(errors) && errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable(e.cause, depth + 1);
}

/**
 * A write that referenced a device which no longer exists: a foreign-key violation, or Prisma's "record to update
 * not found" (P2025) for an update by key. Happens when a device is removed while one of its requests runs.
 */
export function isMissingDevice(error: unknown): boolean {
  if (typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'P2025') return true;
  return sqlState(error) === SqlState.ForeignKeyViolation;
}

/**
 * How long a query waits for a connection (a new one, or a free one of the pool) before failing as unavailable:
 * without it, a database host that drops packets would hold every request forever. Far above any healthy wait.
 */
const CONNECT_TIMEOUT_MS = 10_000;

export class DatabaseRepository implements OnModuleDestroy {
  readonly prisma: PrismaClient;
  readonly sql: SqlExecutor;
  readonly kind: 'postgres' | 'pglite';
  private readonly factory: SqlMigrationAwareDriverAdapterFactory;
  private readonly closeDriver: () => Promise<void>;
  private ready: Promise<void> | undefined;
  private closed = false;

  private constructor(
    kind: 'postgres' | 'pglite',
    factory: SqlMigrationAwareDriverAdapterFactory,
    sql: SqlExecutor,
    close: () => Promise<void>,
    private readonly prepare: () => Promise<void>,
    private readonly migrate?: () => Promise<void>,
  ) {
    this.kind = kind;
    this.factory = factory;
    this.sql = sql;
    this.closeDriver = close;
    // Interactive transactions wait for a pooled connection; under load that takes longer than Prisma's 2 s default.
    this.prisma = new PrismaClient({ adapter: factory, transactionOptions: { maxWait: 15_000, timeout: 30_000 } });
  }

  /** `pgliteImage`: for an in-memory PGlite, the data directory image it starts from (see `CreateAppOptions`). */
  static create(config: ConfigRepository, pgliteImage?: Blob): DatabaseRepository {
    const db = config.config.database;
    if (db.kind === 'postgres') {
      const pool = new pg.Pool({
        connectionString: db.url,
        max: db.poolSize,
        connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      });
      // An idle client's error (e.g. the server restarting) must not crash the process; the pool replaces it.
      pool.on('error', () => undefined);
      const sql: SqlExecutor = {
        async query<T extends Row>(text: string, params: unknown[] = [], name?: string) {
          const result = await pool.query(name ? { name, text, values: params } : { text, values: params });
          return result.rows as T[];
        },
        arrays: BINARY_ARRAYS,
      };
      return new DatabaseRepository(
        'postgres',
        new PrismaPg(pool),
        sql,
        () => pool.end(),
        () => Promise.resolve(),
        async () => {
          // Migrations take a session-level advisory lock; on a connection of its own, closed right after, the
          // lock goes with it instead of staying on a pooled connection and stalling the next instance's start.
          const migrationPool = new pg.Pool({ connectionString: db.url, max: 1 });
          migrationPool.on('error', () => undefined);
          try {
            await applyMigrations(
              withWholeScripts(new PrismaPg(migrationPool), (script) => migrationPool.query(script)),
            );
          } finally {
            await migrationPool.end();
          }
        },
      );
    }
    const dir = db.dir;
    /** In memory there is nothing to flush; on disk, commits wait for it unless `PGLITE_FSYNC=off`. */
    const pglite =
      dir && db.fsync
        ? new PGlite(durablePGliteOptions(dir))
        : dir
          ? new PGlite(dir)
          : new PGlite(pgliteImage ? { loadDataDir: pgliteImage } : {});
    const sql: SqlExecutor = {
      async query<T extends Row>(text: string, params: unknown[] = []) {
        const result = await pglite.query<T>(text, params);
        return result.rows;
      },
      arrays: TEXT_ARRAYS,
    };
    return new DatabaseRepository(
      'pglite',
      new PrismaPGlite(pglite),
      sql,
      () => pglite.close(),
      async () => {
        if (dir) await mkdir(dir, { recursive: true });
        await pglite.waitReady;
      },
    );
  }

  /** Connects and applies pending migrations (once). */
  init(): Promise<void> {
    this.ready ??= (async () => {
      await this.prepare();
      if (this.migrate) await this.migrate();
      else await applyMigrations(this.factory);
    })();
    return this.ready;
  }

  async isReachable(): Promise<boolean> {
    try {
      await this.sql.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async onModuleDestroy(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.prisma.$disconnect();
    await this.closeDriver();
  }
}

/**
 * Array literals for statements that take their rows as arrays (`unnest($1::uuid[], …)`), so that the statement's
 * text is the same for any number of rows and can stay prepared. Every text element is quoted (a value can never
 * split or end the array); numbers and booleans are written as PostgreSQL reads them; null is `NULL`.
 */
export function textArray(values: ReadonlyArray<string | null>): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i) out += ',';
    if (v === null || v === undefined) out += 'NULL';
    else out += `"${/[\\"]/.test(v) ? v.replace(/[\\"]/g, '\\$&') : v}"`;
  }
  return `${out}}`;
}

export function numberArray(values: ReadonlyArray<number | null>): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i) out += ',';
    out += v === null || v === undefined ? 'NULL' : String(v);
  }
  return `${out}}`;
}

export function booleanArray(values: readonly boolean[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) out += (i ? ',' : '') + (values[i] ? 't' : 'f');
  return `${out}}`;
}

/** Bytes as a `bytea[]` literal (hex form: `"\\x…"` quoted). */
export function byteaArray(values: readonly Uint8Array[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as Uint8Array;
    out += `${i ? ',' : ''}"\\\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}"`;
  }
  return `${out}}`;
}

/**
 * Element type oids of PostgreSQL's binary array format (`pg_type.oid`, fixed for built-in types): the server refuses
 * an array whose element type is not exactly the parameter's.
 */
const Oid = { bool: 16, int8: 20, int2: 21, int4: 23, bytea: 17, varchar: 1043, uuid: 2950 } as const;

/*
 * The encoders below loop by index, not `for…of`: they run once per column per group commit, too rarely to be
 * optimized early, and unoptimized `for…of` allocates an iterator result per element.
 */

/** Binary array header: dimensions, has-nulls flag, element type, then length and lower bound of the one dimension. */
const ARRAY_HEADER_BYTES = 20;
/** Each element's length prefix (-1: null). */
const LENGTH_BYTES = 4;
const TWO_32 = 2 ** 32;

/** The binary array's buffer with its header written; elements go after {@link ARRAY_HEADER_BYTES}. */
function arrayBuffer(oid: number, count: number, hasNull: boolean, elementBytes: number): Buffer {
  const out = Buffer.allocUnsafe(ARRAY_HEADER_BYTES + count * LENGTH_BYTES + elementBytes);
  out.writeInt32BE(1, 0);
  out.writeInt32BE(hasNull ? 1 : 0, 4);
  out.writeInt32BE(oid, 8);
  out.writeInt32BE(count, 12);
  out.writeInt32BE(1, 16);
  return out;
}

/**
 * Integers of `size` bytes (2, 4 or 8) as a binary array; a value that is not an integer of that range goes as the
 * text literal instead, so that PostgreSQL refuses it exactly as before.
 */
function binaryIntegers(values: ReadonlyArray<number | null>, size: 2 | 4 | 8, oid: number): unknown {
  const bound = size === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (size * 8 - 1) - 1;
  let nulls = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) nulls++;
    else if (!Number.isInteger(v) || v > bound || v < -bound - (size === 8 ? 0 : 1)) return numberArray(values);
  }
  const out = arrayBuffer(oid, values.length, nulls > 0, (values.length - nulls) * size);
  let at = ARRAY_HEADER_BYTES;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      at = out.writeInt32BE(-1, at);
      continue;
    }
    at = out.writeInt32BE(size, at);
    if (size === 2) at = out.writeInt16BE(v, at);
    else if (size === 4) at = out.writeInt32BE(v, at);
    else {
      const high = Math.floor(v / TWO_32);
      at = out.writeInt32BE(high, at);
      at = out.writeUInt32BE(v - high * TWO_32, at);
    }
  }
  return out;
}

function binaryBooleans(values: readonly boolean[]): Buffer {
  const out = arrayBuffer(Oid.bool, values.length, false, values.length);
  let at = ARRAY_HEADER_BYTES;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    at = out.writeInt32BE(1, at);
    out[at++] = v ? 1 : 0;
  }
  return out;
}

/** A hex digit's value by character code, -1 for any other character. */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/** Where the hyphens of a uuid's canonical form (8-4-4-4-12 hex digits) are. */
const isUuidHyphen = (i: number): boolean => i === 8 || i === 13 || i === 18 || i === 23;

/** Writes a canonical-form uuid's 16 bytes at `at`; false (nothing reliable written) for any other spelling. */
function writeUuid(out: Buffer, text: string, at: number): boolean {
  if (text.length !== 36) return false;
  let high = -1;
  for (let i = 0; i < 36; i++) {
    const code = text.charCodeAt(i);
    if (isUuidHyphen(i)) {
      if (code !== 0x2d) return false;
      continue;
    }
    const digit = code < 128 ? (HEX[code] as number) : -1;
    if (digit < 0) return false;
    if (high < 0) high = digit;
    else {
      out[at++] = (high << 4) | digit;
      high = -1;
    }
  }
  return true;
}

/** Uuids as a binary array; if any is not in canonical form, all go as the text literal (PostgreSQL reads them). */
function binaryUuids(values: ReadonlyArray<string | null>): unknown {
  let nulls = 0;
  for (let i = 0; i < values.length; i++) if (values[i] === null || values[i] === undefined) nulls++;
  const out = arrayBuffer(Oid.uuid, values.length, nulls > 0, (values.length - nulls) * 16);
  let at = ARRAY_HEADER_BYTES;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      at = out.writeInt32BE(-1, at);
      continue;
    }
    at = out.writeInt32BE(16, at);
    if (!writeUuid(out, v, at)) return textArray(values);
    at += 16;
  }
  return out;
}

/** Strings as a binary `varchar[]` (their UTF-8 bytes; PostgreSQL checks the encoding as for text). */
function binaryVarchars(values: ReadonlyArray<string | null>): Buffer {
  let nulls = 0;
  let bytes = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) nulls++;
    else bytes += Buffer.byteLength(v);
  }
  const out = arrayBuffer(Oid.varchar, values.length, nulls > 0, bytes);
  let at = ARRAY_HEADER_BYTES;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null || v === undefined) {
      at = out.writeInt32BE(-1, at);
      continue;
    }
    const length = out.write(v, at + LENGTH_BYTES, 'utf8');
    at = out.writeInt32BE(length, at) + length;
  }
  return out;
}

function binaryByteas(values: readonly Uint8Array[]): Buffer {
  let bytes = 0;
  for (let i = 0; i < values.length; i++) bytes += (values[i] as Uint8Array).byteLength;
  const out = arrayBuffer(Oid.bytea, values.length, false, bytes);
  let at = ARRAY_HEADER_BYTES;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as Uint8Array;
    at = out.writeInt32BE(v.byteLength, at);
    out.set(v, at);
    at += v.byteLength;
  }
  return out;
}

/** The binary encoders, for `pg` (it sends a Buffer parameter in binary format). */
export const BINARY_ARRAYS: ArrayParams = {
  int2: (values) => binaryIntegers(values, 2, Oid.int2),
  int4: (values) => binaryIntegers(values, 4, Oid.int4),
  int8: (values) => binaryIntegers(values, 8, Oid.int8),
  bool: binaryBooleans,
  uuid: binaryUuids,
  varchar: binaryVarchars,
  bytea: binaryByteas,
};
