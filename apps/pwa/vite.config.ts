/**
 * Build of the Cove PWA: React, the web app manifest, and a TypeScript service worker compiled by vite-plugin-pwa
 * (`injectManifest`) with the precache list of the app shell. Workspace packages resolve to their sources. In
 * development `/v1` (HTTP and the WebSocket) is proxied to the API server on port 3000.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig, transformWithOxc, type Plugin } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

const source = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

/** Teal used by the icon and the toolbar; white text on it has a contrast ratio above 4.5. */
const THEME_COLOR = '#0e7c86';
/** Precaching skips larger files; the largest (the messenger core, libsodium's WebAssembly) are well under this. */
const MAX_PRECACHE_BYTES = 4 * 1024 * 1024;

/**
 * The emoji picker's data, served by Cove itself (no CDN): emojibase's English and Chinese names and keywords from
 * `emoji-picker-element-data`, written to `/emoji-data/<locale>.json` (the URLs of platform/emoji-data.ts) and
 * precached like the app shell so the picker works offline.
 */
function emojiData(): Plugin {
  const require = createRequire(import.meta.url);
  const locales = { en: 'en/emojibase/data.json', zh: 'zh/emojibase/data.json' } as const;
  return {
    name: 'cove-emoji-data',
    generateBundle() {
      for (const [locale, file] of Object.entries(locales))
        this.emitFile({
          type: 'asset',
          fileName: `emoji-data/${locale}.json`,
          source: readFileSync(require.resolve(`emoji-picker-element-data/${file}`)),
        });
    },
  };
}

/** The magic number and version every WebAssembly binary starts with (`\0asm`, version 1). */
const WASM_HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
/** libsodium's Emscripten glue carries its WebAssembly as one base64 string literal starting with `\0asm`'s base64. */
const INLINED_WASM = /"(AGFzbQ[A-Za-z0-9+/]+={0,2})"/;

/**
 * libsodium's WebAssembly as a file of its own: `libsodium-sumo` ships its 285 KB binary inlined as base64 in the
 * JavaScript glue (164 KB gzipped, decoded on the main thread before compiling). In the production build this takes
 * the binary out of the glue, emits it as a hashed asset (`assets/libsodium-sumo-<hash>.wasm`: 125 KB gzipped,
 * cached for a year by the server and precached by the service worker like every other asset) and has the glue
 * compile it with `WebAssembly.instantiateStreaming` (compiling while it downloads; the policy's
 * `'wasm-unsafe-eval'` allows it), falling back to compiling the fetched bytes when the response cannot be streamed
 * (a wrong MIME type). A failed fetch rejects libsodium's `ready` instead of leaving it pending. The development
 * server keeps the inlined binary. The service worker's own build (vite-plugin-pwa) does not run this plugin.
 */
function libsodiumWasm(): Plugin {
  return {
    name: 'cove-libsodium-wasm',
    apply: 'build',
    transform(code, id) {
      if (!/[\\/]libsodium-sumo\.mjs$/.test(id.split('?')[0] ?? '')) return null;
      const found = INLINED_WASM.exec(code);
      const base64 = found?.[1];
      if (!found || !base64)
        return this.error('libsodium-sumo: no inlined WebAssembly found (did the package change?)');
      const wasm = Buffer.from(base64, 'base64');
      if (!WASM_HEADER.every((byte, i) => wasm[i] === byte))
        return this.error('libsodium-sumo: not a WebAssembly binary');
      const reference = this.emitFile({ type: 'asset', name: 'libsodium-sumo.wasm', source: wasm });
      const end = 'export default A;';
      if (!code.trimEnd().endsWith(end))
        return this.error('libsodium-sumo: unexpected module shape (did the package change?)');
      const glue = code
        // Unreachable once `instantiateWasm` is always given; throws rather than decoding nothing if it ever is.
        .replace(found[0], '(()=>{throw new Error("libsodium: the WebAssembly is a separate file")})()')
        .trimEnd()
        .slice(0, -end.length);
      return {
        code: `${glue}
const coveWasmUrl = import.meta.ROLLUP_FILE_URL_${reference};
async function coveInstantiate(imports) {
  const response = await fetch(coveWasmUrl, { credentials: "same-origin" });
  if (!response.ok) throw new Error("libsodium: the WebAssembly did not load (HTTP " + response.status + ")");
  if (typeof WebAssembly.instantiateStreaming === "function" && (response.headers.get("content-type") ?? "").startsWith("application/wasm"))
    return WebAssembly.instantiateStreaming(response, imports);
  return WebAssembly.instantiate(await response.arrayBuffer(), imports);
}
export default function coveLibsodium(moduleArg = {}) {
  let failed;
  const failure = new Promise((_, reject) => { failed = reject; });
  const instantiateWasm = (imports, done) => {
    coveInstantiate(imports).then((result) => done(result.instance, result.module), failed);
    return {};
  };
  return Promise.race([A({ ...moduleArg, instantiateWasm }), failure]);
}
`,
        map: null,
      };
    },
  };
}

/**
 * The colour theme before the first paint: `src/platform/theme-boot.ts`, compiled on its own to a classic script
 * `/theme-boot.js` (no imports, no module wrapper: a module script would be deferred and merged into the app's entry)
 * and loaded synchronously from the head, so the page never shows the wrong theme first. Same origin, so the CSP
 * (`script-src 'self'`) allows it; precached like every other script.
 */
function themeBoot(): Plugin {
  const file = source('src/platform/theme-boot.ts');
  const compile = async (): Promise<string> => {
    const { code } = await transformWithOxc(readFileSync(file, 'utf8'), file, { lang: 'ts' });
    // The module marker that keeps TypeScript's isolated modules happy has no place in a classic script, and the
    // script's names stay out of the page's global scope.
    return `(() => {\n${code.replace(/^export\s*\{\s*\};?\s*$/m, '')}\n})();\n`;
  };
  return {
    name: 'cove-theme-boot',
    configureServer(server) {
      server.middlewares.use('/theme-boot.js', (_req, res, next) => {
        compile().then((code) => {
          res.setHeader('content-type', 'text/javascript');
          res.end(code);
        }, next);
      });
    },
    async generateBundle() {
      this.emitFile({ type: 'asset', fileName: 'theme-boot.js', source: await compile() });
    },
    transformIndexHtml: () => [{ tag: 'script', attrs: { src: '/theme-boot.js' }, injectTo: 'head' }],
  };
}

export default defineConfig({
  resolve: {
    alias: {
      '@cove/crypto': source('../../packages/crypto/src/index.ts'),
      '@cove/protocol': source('../../packages/protocol/src/index.ts'),
      // Per-chat preferences without the rest of the core: the list reads them before the core chunk has loaded.
      '@cove/client/chat-preferences': source('../../packages/client/src/chat-preferences.ts'),
      '@cove/client': source('../../packages/client/src/index.ts'),
    },
  },
  build: { target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 2048 },
  server: { proxy: { '/v1': { target: 'http://localhost:3000', ws: true } } },
  plugins: [
    react(),
    emojiData(),
    libsodiumWasm(),
    themeBoot(),
    VitePWA({
      strategies: 'injectManifest',
      srcDir: 'src/platform/sw',
      filename: 'sw.ts',
      registerType: 'prompt',
      injectRegister: false,
      injectManifest: {
        globPatterns: ['**/*.{js,css,html,png,svg,webmanifest,wasm}', 'emoji-data/*.json'],
        maximumFileSizeToCacheInBytes: MAX_PRECACHE_BYTES,
      },
      includeAssets: ['icons/favicon-64.png', 'icons/apple-touch-icon.png'],
      manifest: {
        id: '/',
        name: 'Cove',
        short_name: 'Cove',
        description: 'End-to-end encrypted messenger',
        lang: 'en',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        orientation: 'any',
        theme_color: THEME_COLOR,
        background_color: '#f4f7f8',
        categories: ['social', 'communication'],
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      devOptions: { enabled: false },
    }),
  ],
});
