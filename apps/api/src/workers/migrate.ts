/**
 * Migration command: `migrate` (default `deploy`) applies pending migrations to the configured database
 * (DATABASE_URL, or PGlite under DATA_DIR); `migrate create <name>` writes the next migration from
 * prisma/schema.prisma. Works offline. It does not start the server.
 */
import { ConfigRepository } from '../repositories/config.repository.js';
import { DatabaseRepository } from '../repositories/database.repository.js';
import { createMigrationOffline } from '../repositories/migration.repository.js';

async function main(): Promise<void> {
  const [command = 'deploy', name = 'migration'] = process.argv.slice(2);
  if (command === 'create') {
    const created = await createMigrationOffline(name);
    process.stdout.write(created ? `created prisma/migrations/${created}\n` : 'schema and migrations match\n');
    return;
  }
  if (command !== 'deploy') throw new Error(`unknown command ${command} (deploy | create <name>)`);
  const db = DatabaseRepository.create(ConfigRepository.fromEnv());
  await db.init();
  await db.onModuleDestroy();
  process.stdout.write('migrations applied\n');
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
