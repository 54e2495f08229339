/**
 * Opens the Cove IndexedDB database and runs the pending schema migrations. Shared by pages and the service
 * worker; in a page, its transactions are aborted when the page goes into the back/forward cache
 * (back-forward-guard.ts). It does not encrypt anything (see vault.ts and encrypted-row-store.ts) and does not
 * cache connections across database names, so tests can open isolated databases.
 */
import { openDB } from 'idb';
import { guardTransactions } from './back-forward-guard.js';
import { MIGRATIONS, SCHEMA_VERSION, type CoveDatabase, type CoveSchema } from './schema.js';

/** The production database name; tests pass their own. */
export const DEFAULT_DB_NAME = 'cove';

/** Opens (creating or upgrading) the database, running migrations `oldVersion .. SCHEMA_VERSION - 1`. */
export async function openCoveDatabase(name: string = DEFAULT_DB_NAME): Promise<CoveDatabase> {
  const db = await openDB<CoveSchema>(name, SCHEMA_VERSION, {
    upgrade(database, oldVersion, _newVersion, tx) {
      for (let v = oldVersion; v < SCHEMA_VERSION; v++) {
        const migrate = MIGRATIONS[v];
        if (migrate) migrate(database, tx);
      }
    },
    blocked() {
      // Another tab holds an older version open; it closes on `versionchange` below and we proceed.
    },
  });
  db.addEventListener('versionchange', () => db.close());
  // In a page: no transaction of this connection may outlive the page's move into the back/forward cache.
  return guardTransactions(db);
}
