/**
 * Entry point of `npm start`: validates the configuration, applies migrations, serves until SIGINT/SIGTERM, then
 * closes sockets and the database cleanly.
 */
import { createApp } from '../app.js';

async function main(): Promise<void> {
  const running = await createApp();
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  process.stdout.write(`Cove API listening on ${running.url}\n`);
  if (running.metricsUrl) process.stdout.write(`Cove API metrics on ${running.metricsUrl}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`Cove API failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
