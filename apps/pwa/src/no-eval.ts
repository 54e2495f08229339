/**
 * Keeps the app within its Content-Security-Policy (`script-src 'self' 'wasm-unsafe-eval'`, no `'unsafe-eval'`):
 * zod, which validates every wire message in `@cove/protocol`, would otherwise probe for `Function('')` before its
 * first parse to compile schemas into code — a CSP violation even though zod then falls back to interpreting them.
 * Telling zod up front that there is no eval skips the probe. Import this module first in every entry point (the
 * page and the service worker) so it runs before any schema parses. It changes nothing else; the server, which has
 * no CSP, keeps compiling its schemas.
 */
import { config } from 'zod/v4/core';

config({ jitless: true });
