/**
 * PostgreSQL's own cost of the group commit's two statements, per message (used by bench/delivery.bench.js with
 * STATEMENT_COST=1; not part of `npm test`). It loads a build's own `EnvelopeRepository` (apps/api/dist), so the
 * statements, their binary array parameters and their prepared names are exactly what that build's server sends,
 * on one connection of its own to the build's copy of the bench database, and calls:
 *   - `insertChecked` (the checked insert: sender and device checks, queue caps, counters, insert) with batches of
 *     B one-to-one sends, each from a registered device to another one, then
 *   - `delete` (the acknowledgements' delete) of the same envelopes in batches of ACK_BATCH,
 * and, as the baseline in the same run, the same rows through a plain insert and a plain delete by guid on a copy
 * of `envelopes` with its columns, defaults and indexes but no foreign keys, triggers or checks. Checked and plain
 * alternate, ROUNDS times each, and the best round of each is kept (a round shares the machine with nothing of
 * this bench, but other tenants may slow any one round).
 *
 * Per message it reports the backend's CPU time (`/proc/<pid>/schedstat`: time on a CPU, user and kernel, in ns;
 * the bench runs on the database's machine) and the WAL it wrote (`pg_current_wal_lsn()` before and after: the
 * whole cluster's, so only meaningful when nothing else writes), and with PG_WALDUMP=<pg_waldump binary> and a
 * readable `pg_wal` the WAL records of each kind per message. It measures PostgreSQL only: no server, no socket
 * to a client other than this one, no load generator. It does not measure contention between connections.
 */
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomUUID, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Content bytes per envelope: the delivery bench's 300-byte messages. */
const CONTENT_BYTES = 300;
/** Acknowledgements per delete: about what the server's 20 ms linger gathers at 5,000 msgs/s (bench/RESULTS.md). */
const ACK_BATCH = Number(process.env.ACK_BATCH ?? 100);
const ROUNDS = Number(process.env.STATEMENT_ROUNDS ?? 3);
/** Caps far above what a round queues: the check runs in full, and never refuses. */
const CAPS = { envelopes: 1_000_000, bytes: 1_000_000_000 };
/** `pg_default`'s oid (fixed), the tablespace of every relation of the bench database. */
const DEFAULT_TABLESPACE_OID = 1663;

/** On-CPU time of a PostgreSQL backend of this machine, in µs. */
function backendMicros(pid) {
  return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e3;
}

/**
 * WAL records by kind between two LSNs that touch database `dbOid` (pg_waldump; a commit counts when its
 * transaction touched it), plus `full-page images` among them, or undefined without access. Other databases'
 * records (another tenant's tests) are left out.
 */
function walRecords(waldump, walDir, dbOid, from, to) {
  if (!waldump || !walDir) return undefined;
  let out;
  try {
    out = execFileSync(waldump, ['-p', walDir, '-s', from, '-e', to], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return undefined;
  }
  const ours = ` ${DEFAULT_TABLESPACE_OID}/${dbOid}/`;
  const xids = new Set();
  const commits = [];
  const counts = {};
  for (const line of out.split('\n')) {
    const m = /^rmgr: (\S+)\s.*?tx:\s+(\d+),.*?desc: (\S+)/.exec(line);
    if (!m) continue;
    const [, rmgr, xid, kind] = m;
    if (rmgr === 'Transaction') {
      if (kind === 'COMMIT') commits.push(xid);
      continue;
    }
    if (!line.includes(ours)) continue;
    xids.add(xid);
    const key = `${rmgr}/${kind}`;
    counts[key] = (counts[key] ?? 0) + 1;
    const images = line.split(' FPW').length - 1;
    if (images) counts['full-page images'] = (counts['full-page images'] ?? 0) + images;
  }
  counts['Transaction/COMMIT'] = commits.filter((xid) => xids.has(xid)).length;
  return counts;
}

/**
 * Measures `apiDist`'s statements on `databaseUrl` (migrated by that build; `envelopes` empty) with `devices`
 * (`{ accountId, deviceId, registrationId }`, registered, one device per account; pairs are 2i → 2i + 1) for each
 * batch size of `batches`, `rows` envelopes per round. Leaves the database as it found it.
 */
export async function measureStatementCost(apiDist, databaseUrl, devices, { batches, rows }) {
  const load = (file) => import(pathToFileURL(join(apiDist, 'repositories', file)).href);
  const [{ ConfigRepository }, { DatabaseRepository }, { EnvelopeRepository }] = await Promise.all([
    load('config.repository.js'),
    load('database.repository.js'),
    load('envelope.repository.js'),
  ]);
  // One pooled connection: every statement runs on the backend whose CPU is read.
  const db = DatabaseRepository.create(
    ConfigRepository.fromEnv({ DATABASE_URL: databaseUrl, DATABASE_POOL_SIZE: '1', LOG_LEVEL: 'warn' }),
  );
  await db.init();
  const envelopes = new EnvelopeRepository(db);
  const sql = db.sql;
  const [{ pid }] = await sql.query('SELECT pg_backend_pid() AS pid');
  const [{ dir, oid }] = await sql.query(
    `SELECT current_setting('data_directory') AS dir, oid::text FROM pg_database WHERE datname = current_database()`,
  );
  const walDir = process.env.PG_WALDUMP ? join(dir, 'pg_wal') : undefined;
  const lsn = async () => (await sql.query('SELECT pg_current_wal_lsn()::text AS l'))[0].l;
  const walBytes = async (from, to) =>
    Number((await sql.query('SELECT pg_wal_lsn_diff($1, $2)::float8 AS d', [to, from]))[0].d);

  await sql.query('DROP TABLE IF EXISTS statement_cost_baseline');
  await sql.query('CREATE TABLE statement_cost_baseline (LIKE envelopes INCLUDING DEFAULTS INCLUDING INDEXES)');
  const a = sql.arrays;
  const plainInsert = (batch) =>
    sql.query(
      `INSERT INTO statement_cost_baseline (guid, account_id, device_id, type, source_account_id, source_device_id,
         timestamp, server_timestamp, urgent, content)
       SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::smallint[], $4::varchar[], $5::uuid[], $6::smallint[],
                            $7::bigint[], $8::bigint[], $9::boolean[], $10::bytea[])`,
      [
        a.uuid(batch.map((r) => r.guid)),
        a.uuid(batch.map((r) => r.accountId)),
        a.int2(batch.map((r) => r.deviceId)),
        a.varchar(batch.map((r) => r.type)),
        a.uuid(batch.map((r) => r.sourceAccountId)),
        a.int2(batch.map((r) => r.sourceDeviceId)),
        a.int8(batch.map((r) => r.timestamp)),
        a.int8(batch.map((r) => r.serverTimestamp)),
        a.bool(batch.map((r) => r.urgent)),
        a.bytea(batch.map((r) => r.content)),
      ],
      'statement_cost_plain_insert',
    );
  // Committed as the real delete is: without waiting for the disk (EnvelopeRepository's DELETE).
  const plainDelete = (batch) =>
    sql.query(
      `WITH d AS (DELETE FROM statement_cost_baseline WHERE guid = ANY ($1::uuid[]) RETURNING guid)
       SELECT d.guid FROM set_config('synchronous_commit', 'off', true) AS s, d`,
      [a.uuid(batch.map((r) => r.guid))],
      'statement_cost_plain_delete',
    );

  const content = randomBytes(CONTENT_BYTES);
  const pairs = Math.floor(devices.length / 2);
  let next = 0;
  const makeRows = (count) =>
    Array.from({ length: count }, (_, request) => {
      const p = next++ % pairs;
      const [from, to] = [devices[2 * p], devices[2 * p + 1]];
      const now = Date.now();
      return {
        request,
        guid: randomUUID(),
        accountId: to.accountId,
        deviceId: to.deviceId,
        registrationId: to.registrationId,
        type: 'whisper',
        sourceAccountId: from.accountId,
        sourceDeviceId: from.deviceId,
        timestamp: now,
        serverTimestamp: now,
        urgent: true,
        content,
      };
    });

  /** One round of one kind: every batch inserted, then every envelope deleted; CPU and WAL per message of each. */
  const round = async (kind, batchSize) => {
    const batchesOfRound = Array.from({ length: Math.ceil(rows / batchSize) }, () => makeRows(batchSize));
    const count = batchesOfRound.length * batchSize;
    const measure = async (work) => {
      const from = await lsn();
      const cpu = backendMicros(pid);
      await work();
      const micros = backendMicros(pid) - cpu;
      const to = await lsn();
      // The deletes commit without waiting for the disk: one synchronous commit (of a transaction id) flushes the WAL
      // up to `to`, which pg_waldump reads from the files.
      if (walDir) await sql.query('SELECT pg_current_xact_id()');
      return {
        cpuMicros: micros / count,
        walBytes: (await walBytes(from, to)) / count,
        walRecords: walRecords(process.env.PG_WALDUMP, walDir, oid, from, to),
      };
    };
    const insert = await measure(async () => {
      for (const batch of batchesOfRound) {
        if (kind === 'plain') await plainInsert(batch);
        else {
          const skipped = await envelopes.insertChecked(batch, CAPS);
          if (skipped.refused.size || skipped.full.size || skipped.senderGone.size) {
            throw new Error('statement cost: the checked insert skipped a send of registered devices');
          }
        }
      }
    });
    const all = batchesOfRound.flat();
    const remove = await measure(async () => {
      for (let i = 0; i < all.length; i += ACK_BATCH) {
        const keys = all.slice(i, i + ACK_BATCH);
        if (kind === 'plain') await plainDelete(keys);
        else await envelopes.delete(keys);
      }
    });
    return { insert, delete: remove };
  };

  /** WAL records of each kind per message, to two decimals. */
  const perMessage = (records, count) =>
    records && Object.fromEntries(Object.entries(records).map(([k, n]) => [k, Math.round((n / count) * 100) / 100]));
  const results = [];
  try {
    for (const batchSize of batches) {
      // Warm-up: the plans of both kinds are made and cached on the connection before anything is measured.
      await round('checked', batchSize);
      await round('plain', batchSize);
      const best = { checked: undefined, plain: undefined };
      for (let r = 0; r < ROUNDS; r++) {
        for (const kind of r % 2 === 0 ? ['checked', 'plain'] : ['plain', 'checked']) {
          const m = await round(kind, batchSize);
          const total = m.insert.cpuMicros + m.delete.cpuMicros;
          if (!best[kind] || total < best[kind].insert.cpuMicros + best[kind].delete.cpuMicros) best[kind] = m;
        }
      }
      const count = Math.ceil(rows / batchSize) * batchSize;
      const summary = (m) => ({
        insertCpuMicros: Math.round(m.insert.cpuMicros * 10) / 10,
        deleteCpuMicros: Math.round(m.delete.cpuMicros * 10) / 10,
        walBytes: Math.round(m.insert.walBytes + m.delete.walBytes),
        walRecordsInsert: perMessage(m.insert.walRecords, count),
        walRecordsDelete: perMessage(m.delete.walRecords, count),
      });
      results.push({
        batch: batchSize,
        ackBatch: ACK_BATCH,
        checked: summary(best.checked),
        plain: summary(best.plain),
      });
    }
  } finally {
    await sql.query('DROP TABLE IF EXISTS statement_cost_baseline');
    await sql.query('VACUUM envelopes');
    await db.onModuleDestroy();
  }
  return results;
}
