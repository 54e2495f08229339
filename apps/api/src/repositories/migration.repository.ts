/**
 * Offline migrations on Prisma's schema engine compiled to WebAssembly, driven through the same driver adapter
 * the server uses (PostgreSQL or PGlite), so `npm start` and the tests apply the committed SQL migrations in
 * `prisma/migrations` with no native engine download. `createMigration` diffs the committed migrations against
 * `prisma/schema.prisma` (on a throw-away in-memory PGlite) to write the next migration. It does not seed data.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

import { PGlite } from '@electric-sql/pglite';
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { bindMigrationAwareSqlAdapterFactory, DriverAdapterError } from '@prisma/driver-adapter-utils';
import type { MigrationList, SchemaEngine } from '@prisma/schema-engine-wasm';
import { PrismaPGlite } from 'pglite-prisma-adapter';

import { REPOSITORY_ROOT } from './config.repository.js';

export const MIGRATIONS_DIR = join(REPOSITORY_ROOT, 'prisma', 'migrations');
export const SCHEMA_PATH = join(REPOSITORY_ROOT, 'prisma', 'schema.prisma');
const LOCKFILE = 'migration_lock.toml';
const NO_FILTER = { externalTables: [], externalEnums: [] };

type EngineModule = {
  SchemaEngine: { new: (options: unknown, log: (line: string) => void, adapter: object) => Promise<SchemaEngine> };
  __wbg_set_wasm: (exports: Record<string, unknown>) => void;
};

/** The part of the WebAssembly global used here (the project's `lib` has no WebAssembly declarations). */
const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      instantiate(
        bytes: Uint8Array,
        imports: Record<string, unknown>,
      ): Promise<{ instance: { exports: Record<string, unknown> } }>;
    };
  }
).WebAssembly;

let engineModule: Promise<EngineModule> | undefined;

/** Instantiates the engine's WebAssembly once per process (Node 20 cannot `import` a .wasm module directly). */
function loadEngine(): Promise<EngineModule> {
  engineModule ??= (async () => {
    const entry = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm');
    const dir = dirname(entry);
    const glue = (await import(join(dir, 'schema_engine_bg.js'))) as EngineModule;
    const { instance } = await wasm.instantiate(await readFile(join(dir, 'schema_engine_bg.wasm')), {
      './schema_engine_bg.js': glue,
    });
    glue.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return glue;
  })();
  return engineModule;
}

async function openEngine(factory: SqlMigrationAwareDriverAdapterFactory, schema: string): Promise<SchemaEngine> {
  const glue = await loadEngine();
  const ignoreLog = (): void => undefined;
  return glue.SchemaEngine.new(
    { datamodels: [['schema.prisma', schema]] },
    ignoreLog,
    bindMigrationAwareSqlAdapterFactory(factory),
  );
}

/**
 * Prisma's PostgreSQL adapter runs a migration script by splitting it at every `;`, which cuts a statement that
 * contains one (a PL/pgSQL function body, a `;` in a comment or string). This wraps a factory so that its adapters
 * send each script whole through `runScript` instead — for PostgreSQL one simple-protocol query, which runs every
 * statement of it in one implicit transaction (a failing migration leaves nothing half-applied). Errors are handed
 * to the engine as the adapter would hand them.
 */
export function withWholeScripts(
  factory: SqlMigrationAwareDriverAdapterFactory,
  runScript: (script: string) => Promise<unknown>,
): SqlMigrationAwareDriverAdapterFactory {
  const whole = (adapter: SqlDriverAdapter): SqlDriverAdapter => {
    adapter.executeScript = async (script: string): Promise<void> => {
      try {
        await runScript(script);
      } catch (error) {
        const e = error as { code?: string; severity?: string; detail?: string; column?: string; hint?: string };
        throw new DriverAdapterError({
          kind: 'postgres',
          code: e.code ?? 'XX000',
          severity: e.severity ?? 'ERROR',
          message: error instanceof Error ? error.message : String(error),
          detail: e.detail,
          column: e.column,
          hint: e.hint,
        });
      }
    };
    return adapter;
  };
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    connect: async () => whole(await factory.connect()),
    connectToShadowDb: async () => whole(await factory.connectToShadowDb()),
  };
}

/** Reads the committed migrations in the engine's format. */
export async function readMigrations(dir = MIGRATIONS_DIR): Promise<MigrationList> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  entries.sort();
  const migrationDirectories = await Promise.all(
    entries.map(async (name) => ({
      path: name,
      migrationFile: {
        path: 'migration.sql',
        content: { tag: 'ok' as const, value: await readFile(join(dir, name, 'migration.sql'), 'utf8') },
      },
    })),
  );
  const lockContent = await readFile(join(dir, LOCKFILE), 'utf8').catch(() => null);
  return {
    baseDir: dir,
    lockfile: { path: LOCKFILE, content: lockContent },
    shadowDbInitScript: '',
    migrationDirectories,
  };
}

/** Applies every pending committed migration; returns the names applied now. */
export async function applyMigrations(factory: SqlMigrationAwareDriverAdapterFactory): Promise<string[]> {
  const engine = await openEngine(factory, await readFile(SCHEMA_PATH, 'utf8'));
  try {
    const result = await engine.applyMigrations({ migrationsList: await readMigrations(), filters: NO_FILTER });
    return result.appliedMigrationNames;
  } finally {
    engine.free();
  }
}

/**
 * Writes `prisma/migrations/<timestamp>_<name>/migration.sql` with the SQL that takes the committed migrations to
 * the current schema, or returns null when they already match. `factory` provides the shadow database.
 */
export async function createMigration(
  factory: SqlMigrationAwareDriverAdapterFactory,
  name: string,
): Promise<string | null> {
  const schema = await readFile(SCHEMA_PATH, 'utf8');
  const engine = await openEngine(factory, schema);
  try {
    const existing = await readMigrations();
    const from = existing.migrationDirectories.length
      ? ({ tag: 'migrations', ...existing } as const)
      : ({ tag: 'empty' } as const);
    const diff = await engine.diff({
      from,
      to: { tag: 'schemaDatamodel', files: [{ path: 'schema.prisma', content: schema }] },
      script: true,
      exitCode: null,
      filters: NO_FILTER,
    });
    const sql = (diff.stdout ?? '').trim();
    if (!sql || sql === '-- This is an empty migration.') return null;
    const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
    const dirName = `${stamp}_${name.replace(/[^a-z0-9_]/gi, '_')}`;
    await mkdir(join(MIGRATIONS_DIR, dirName), { recursive: true });
    await writeFile(join(MIGRATIONS_DIR, dirName, 'migration.sql'), `${sql}\n`);
    await writeFile(
      join(MIGRATIONS_DIR, LOCKFILE),
      '# Written by the migrate script; keep it in version control.\nprovider = "postgresql"\n',
    );
    return dirName;
  } finally {
    engine.free();
  }
}

/** {@link createMigration} with a throw-away in-memory PGlite as the shadow database. */
export async function createMigrationOffline(name: string): Promise<string | null> {
  const shadow = new PGlite();
  try {
    return await createMigration(new PrismaPGlite(shadow), name);
  } finally {
    await shadow.close();
  }
}
