/**
 * Reports what the built PWA ships before the chat list shows: the entry script, every module it preloads and its
 * stylesheets, as listed by dist/index.html, and the English strings (the UI language's chunk, loaded before the
 * first render; a Chinese UI loads its own as well), gzipped (level 9, as servers typically send them); then what
 * start-up fetches once the list is painted (the messenger core chunk, every chunk it imports and libsodium's
 * WebAssembly), and the total of both. Other lazy chunks (screens other than the list and a chat, QR scanning, emoji
 * picker, attachments) load on use and are listed apart. The browser suite measures the same in the page
 * (test/pwa/startup.test.ts). Run after `vite build`: `npx tsx scripts/bundle-size.ts`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const dist = process.argv[2] ?? new URL('../dist/', import.meta.url).pathname;
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const firstLoad = new Set<string>();
for (const match of html.matchAll(/(?:src|href)="\/([^"]+\.(?:js|css))"/g)) if (match[1]) firstLoad.add(match[1]);
/** The English strings' chunk (ui/i18n `LOCALES`): i18n waits for it before the first render. */
const ENGLISH = /^en-[\w-]+\.js$/;
for (const file of readdirSync(join(dist, 'assets')).filter((f) => ENGLISH.test(f))) firstLoad.add(`assets/${file}`);

const gz = (file: string): number => gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;
const print = (line: string): void => void process.stdout.write(`${line}\n`);

let total = 0;
for (const file of firstLoad) {
  const size = gz(file);
  total += size;
  print(`before list ${kb(size).padStart(10)}  ${file}`);
}
print(`loaded before the chat list shows (JS, CSS, strings), gzipped: ${kb(total)}`);

/** The core chunk the app shell imports once the list is painted (app-shell.ts `importCore`), named after its entry module. */
const CORE_CHUNK = /^messenger-adapter-[\w-]+\.js$/;
const assets = readdirSync(join(dist, 'assets'));
const startup = new Set<string>();
const visit = (file: string): void => {
  if (startup.has(file) || firstLoad.has(file)) return;
  startup.add(file);
  const code = readFileSync(join(dist, file), 'utf8');
  // Static imports between chunks (`from"./x.js"`, `import"./x.js"`) and the WebAssembly the glue fetches.
  for (const m of code.matchAll(/(?:from|import)\s*["'`]\.\/([\w.-]+\.js)["'`]/g)) if (m[1]) visit(`assets/${m[1]}`);
  for (const m of code.matchAll(/["'`]\/?(assets\/[\w.-]+\.wasm)["'`]/g)) if (m[1]) startup.add(m[1]);
  // Chunks of the core's own dynamic imports that start-up always awaits (libsodium's wrappers).
  for (const m of code.matchAll(/import\(\s*["'`]\.\/(libsodium[\w.-]+\.js)["'`]\s*\)/g))
    if (m[1]) visit(`assets/${m[1]}`);
};
for (const file of assets.filter((f) => CORE_CHUNK.test(f))) visit(`assets/${file}`);
const libsodiumChunks = assets.filter((f) => /^libsodium[\w.-]*\.js$/.test(f));
for (const file of libsodiumChunks) visit(`assets/${file}`);
let startupTotal = 0;
for (const file of startup) {
  const size = gz(file);
  startupTotal += size;
  print(`after list  ${kb(size).padStart(10)}  ${file}`);
}
const lazy = assets.filter(
  (f) => /\.(js|css)$/.test(f) && !firstLoad.has(`assets/${f}`) && !startup.has(`assets/${f}`),
);
for (const file of lazy) print(`lazy        ${kb(gz(`assets/${file}`)).padStart(10)}  assets/${file}`);
print(`loaded once the list is painted (core, libsodium, its WebAssembly): ${kb(startupTotal)}`);
print(`everything loaded at start-up, gzipped: ${kb(total + startupTotal)}`);
