/**
 * Fresh PostgreSQL databases for tests, cloned from a template that already holds every committed migration:
 * `CREATE DATABASE … TEMPLATE cove_tpl_<digest>` copies a few megabytes in tens of milliseconds, where replaying the
 * migrations into an empty database costs each server start about half a second (the schema engine's WebAssembly,
 * then every migration's SQL), and the suites start a server over a new database about two hundred times.
 *
 * The template is made once per set of migrations by the server's own migration code (`applyMigrations` over the
 * same driver adapter the server uses), so a clone holds exactly what a server would have migrated into an empty
 * database; its name carries a digest of the migrations, so a new or changed migration makes a new template. A
 * server started on a clone still runs its migrations at start (finding none pending). Test processes share the
 * template: an advisory lock lets one of them make it while the others wait. It does not drop old templates (another
 * checkout on the machine may still be cloning one; by hand: `ALTER DATABASE cove_tpl_… IS_TEMPLATE false`, then
 * `DROP DATABASE`), and tests whose subject is migrating an empty database create
 * an empty one (`emptyDatabase`). The same for in-memory PGlite: an image of a migrated data directory
 * (`migratedPgliteImage`) that a server's PGlite starts from.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import pg from 'pg';

/** The PGlite release in use: an image of its data directory is read by that release only. */
const PGLITE_VERSION = (
  JSON.parse(
    await readFile(resolve(import.meta.dirname, '../../../../node_modules/@electric-sql/pglite/package.json'), 'utf8'),
  ) as { version: string }
).version;
/** Where the server reads its committed migrations (`MIGRATIONS_DIR` of the migration repository). */
const MIGRATIONS_DIR = resolve(import.meta.dirname, '../../../../prisma/migrations');

/** The test PostgreSQL server's administrative database (`TEST_POSTGRES_URL` overrides it). */
export const ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** Any fixed key: it only has to be the same in every test process that makes templates. */
const TEMPLATE_LOCK = 7_340_112_301;

/** The URL of database `name` on the test PostgreSQL server. */
export const databaseUrl = (name: string): string => ADMIN_URL.replace(/\/[^/]*$/, `/${name}`);

async function withAdmin<T>(run: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    return await run(admin);
  } finally {
    await admin.end();
  }
}

/** A digest of every committed migration (directory names and SQL), which names the template made from them. */
async function migrationsDigest(): Promise<string> {
  const hash = createHash('sha256');
  const dirs = (await readdir(MIGRATIONS_DIR, { withFileTypes: true })).filter((e) => e.isDirectory());
  for (const name of dirs.map((e) => e.name).sort()) {
    hash.update(`${name}\n`);
    hash.update(await readFile(join(MIGRATIONS_DIR, name, 'migration.sql')));
  }
  return hash.digest('hex').slice(0, 16);
}

/** Applies the migrations to `name` the way the server's database repository does (one connection of its own). */
async function migrate(name: string): Promise<void> {
  // Loaded only here: importing the migration code (Prisma, PGlite) costs a test file about half a second in Jest,
  // and every file but the first to need the template only clones it.
  const { PrismaPg } = await import('@prisma/adapter-pg');
  const { applyMigrations, withWholeScripts } = await import('../../src/repositories/migration.repository.js');
  const pool = new pg.Pool({ connectionString: databaseUrl(name), max: 1 });
  pool.on('error', () => undefined);
  try {
    await applyMigrations(withWholeScripts(new PrismaPg(pool), (script) => pool.query(script)));
  } finally {
    await pool.end();
  }
}

let template: Promise<string> | undefined;

/** The name of the migrated template database, made first if no test process has made it yet. */
function migratedTemplate(): Promise<string> {
  template ??= (async () => {
    const name = `cove_tpl_${await migrationsDigest()}`;
    await withAdmin(async (admin) => {
      await admin.query('SELECT pg_advisory_lock($1)', [TEMPLATE_LOCK]);
      try {
        const found = await admin.query<{ datistemplate: boolean }>(
          'SELECT datistemplate FROM pg_database WHERE datname = $1',
          [name],
        );
        if (found.rows[0]?.datistemplate) return;
        // Not marked as a template: left half-made by a process that died while migrating it.
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await admin.query(`CREATE DATABASE ${name}`);
        await migrate(name);
        // Marked only once complete; no connections, since a clone fails while anyone is connected to its source.
        await admin.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`);
      } finally {
        await admin.query('SELECT pg_advisory_unlock($1)', [TEMPLATE_LOCK]);
      }
    });
    return name;
  })();
  template.catch(() => (template = undefined));
  return template;
}

let pgliteImage: Promise<Blob> | undefined;

/**
 * The data directory of an in-memory PGlite with every committed migration applied, as `PGlite.dumpDataDir` writes
 * it, for `createApp({ pgliteImage })`: starting from it skips PGlite's `initdb` and the migrations, which take one
 * to five seconds per server on the shared machine. Made by the server's own migration code over the same adapter
 * (`PrismaPGlite`) and kept in the temporary directory under a name with the digest of the migrations and the PGlite
 * version; test processes that make it at the same moment each write their own file and rename it into place.
 */
export function migratedPgliteImage(): Promise<Blob> {
  pgliteImage ??= (async () => {
    const file = join(tmpdir(), `cove-pglite-template-${PGLITE_VERSION}-${await migrationsDigest()}.tar`);
    const saved = await readFile(file).catch(() => null);
    if (saved) return new Blob([saved]);
    const { PGlite } = await import('@electric-sql/pglite');
    const { PrismaPGlite } = await import('pglite-prisma-adapter');
    const { applyMigrations } = await import('../../src/repositories/migration.repository.js');
    const pglite = new PGlite();
    try {
      await applyMigrations(new PrismaPGlite(pglite));
      const image = await pglite.dumpDataDir('none');
      const bytes = Buffer.from(await image.arrayBuffer());
      const partial = `${file}.${process.pid}-${randomBytes(4).toString('hex')}`;
      await writeFile(partial, bytes);
      await rename(partial, file);
      return new Blob([bytes]);
    } finally {
      await pglite.close();
    }
  })();
  pgliteImage.catch(() => (pgliteImage = undefined));
  return pgliteImage;
}

export type TestDatabaseOptions = {
  /** Name prefix (`cove_test` by default); a random suffix follows. */
  prefix?: string;
  /** An empty database instead of a migrated clone, for tests of a server migrating one itself. */
  emptyDatabase?: boolean;
};

/** Creates a fresh database (a clone of the migrated template unless `emptyDatabase`) and returns its name. */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<string> {
  const name = `${options.prefix ?? 'cove_test'}_${randomBytes(6).toString('hex')}`;
  const source = options.emptyDatabase ? null : await migratedTemplate();
  await withAdmin((admin) => admin.query(`CREATE DATABASE ${name}${source ? ` TEMPLATE ${source}` : ''}`));
  return name;
}

/** Drops a database made by {@link createTestDatabase}, disconnecting whoever is still connected. */
export async function dropTestDatabase(name: string): Promise<void> {
  await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
