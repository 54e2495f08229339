/**
 * Generates the TypeScript of content.proto with Buf and protoc-gen-es (settings in buf.gen.yaml), offline.
 * `node scripts/generate.mjs` writes src/content/generated; with `--check` it generates into a temporary directory
 * instead and fails, listing the files, when the committed code differs in any byte, lacks a file or has an extra
 * one. It does not format or edit the generated code: it is committed exactly as generated.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const committed = join(packageDir, 'src/content/generated');
const require = createRequire(import.meta.url);
const buf = require.resolve('@bufbuild/buf/bin/buf');
/** buf.gen.yaml names the plugin `protoc-gen-es`; buf finds it on PATH, so the npm bin directory goes first. */
const binDir = join(dirname(require.resolve('@bufbuild/protoc-gen-es/package.json')), '..', '..', '.bin');

const generate = (outputBase) => {
  const args = [buf, 'generate', ...(outputBase ? ['--output', outputBase] : [])];
  const run = spawnSync(process.execPath, args, {
    cwd: packageDir,
    stdio: 'inherit',
    env: { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}` },
  });
  if (run.status !== 0) {
    console.error(`buf generate failed (${run.error?.message ?? `exit ${run.status}`})`);
    process.exit(1);
  }
};

/** Every file under `dir`, as paths relative to it. */
const files = (dir) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();

if (!process.argv.includes('--check')) {
  generate();
  process.exit(0);
}

const scratch = mkdtempSync(join(tmpdir(), 'cove-protocol-generate-'));
try {
  generate(scratch);
  const fresh = join(scratch, 'src/content/generated');
  const expected = files(fresh);
  let actual = [];
  try {
    actual = files(committed);
  } catch {
    actual = [];
  }
  const stale = [
    ...expected.filter((f) => !actual.includes(f)).map((f) => `missing: ${f}`),
    ...actual.filter((f) => !expected.includes(f)).map((f) => `not generated: ${f}`),
    ...expected
      .filter((f) => actual.includes(f))
      .filter((f) => !readFileSync(join(fresh, f)).equals(readFileSync(join(committed, f))))
      .map((f) => `differs: ${f}`),
  ];
  if (stale.length > 0) {
    console.error(`packages/protocol/src/content/generated is not what content.proto generates:`);
    for (const line of stale) console.error(`  ${line}`);
    console.error('Run `npm run generate -w packages/protocol` and commit the result.');
    process.exitCode = 1;
  } else {
    console.log(`generated code is up to date (${expected.length} file${expected.length === 1 ? '' : 's'})`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
