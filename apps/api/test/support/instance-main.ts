/**
 * A Cove API instance in a child process (so a test can SIGKILL it): starts the app from the environment and prints
 * one JSON line `{ "url": ... }` on stdout once listening. Test support only.
 */
import { createApp } from '../../src/app.js';

const running = await createApp();
process.stdout.write(`${JSON.stringify({ url: running.url, port: running.port })}\n`);
process.on('SIGTERM', () => {
  void running.close().then(() => process.exit(0));
});
