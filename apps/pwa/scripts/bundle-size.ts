/**
 * Reports what the built PWA ships on first load: the entry script, every module it preloads and its
 * stylesheets, as listed by dist/index.html, gzipped (level 9, as servers typically send them). Lazy chunks (QR
 * scanning, the QR renderer) load later and are listed apart. Run after `vite build`: `npx tsx scripts/bundle-size.ts`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

const dist = process.argv[2] ?? new URL('../dist/', import.meta.url).pathname;
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const firstLoad = new Set<string>();
for (const match of html.matchAll(/(?:src|href)="\/([^"]+\.(?:js|css))"/g)) if (match[1]) firstLoad.add(match[1]);

const gz = (file: string): number => gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KB`;
const print = (line: string): void => void process.stdout.write(`${line}\n`);

let total = 0;
for (const file of firstLoad) {
  const size = gz(file);
  total += size;
  print(`first load  ${kb(size).padStart(10)}  ${file}`);
}
const lazy = readdirSync(join(dist, 'assets')).filter((f) => /\.(js|css)$/.test(f) && !firstLoad.has(`assets/${f}`));
for (const file of lazy) print(`lazy        ${kb(gz(`assets/${file}`)).padStart(10)}  assets/${file}`);
print(`first-load JS+CSS gzipped: ${kb(total)}`);
