/**
 * Builds one TypeScript project of the monorepo for the end-to-end helpers (the server, the CLI) when its output is
 * missing or older than its sources, so a test never runs yesterday's build. Parallel test files share one `flock`
 * per project; a failed build falls back to the previous output with a warning. It does not bundle the PWA (the PWA
 * suites serve `apps/pwa/dist`, built by `npm run build`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

export type BuildTarget = {
  /** The project `tsc -b` builds, relative to the repository root (its references come along). */
  project: string;
  /** The output file a test runs, relative to the root: missing means not built. */
  entry: string;
  /** Source folders (relative to the root) whose newest `.ts` file must not be newer than the build. */
  sources: string[];
  /** The lock file shared by every test process building this project. */
  lock: string;
};

const newestSource = async (dirs: string[]): Promise<number> => {
  let newest = 0;
  for (const dir of dirs)
    for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true, recursive: true }))
      if (entry.isFile() && entry.name.endsWith('.ts'))
        newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  return newest;
};

/**
 * When the project was last built: its entry's time, or its build info's. Every `tsc -b` that built something
 * rewrites `tsconfig.tsbuildinfo`, while a change that leaves the entry's own output as it was (most of them) does
 * not touch the entry, so without the build info every test file would run `tsc -b` again until the entry changed.
 */
const builtAt = (target: BuildTarget): number => {
  const entry = join(ROOT, target.entry);
  if (!existsSync(entry)) return 0;
  const buildInfo = join(ROOT, target.project, 'tsconfig.tsbuildinfo');
  return Math.max(statSync(entry).mtimeMs, existsSync(buildInfo) ? statSync(buildInfo).mtimeMs : 0);
};

/** Builds `target` when its output is missing or older than its sources (see the module comment). */
export async function ensureBuilt(target: BuildTarget): Promise<void> {
  if (builtAt(target) >= (await newestSource(target.sources))) return;
  try {
    execFileSync(
      'flock',
      [target.lock, process.execPath, join(ROOT, 'node_modules/typescript/bin/tsc'), '-b', target.project],
      { cwd: ROOT, stdio: 'inherit' },
    );
  } catch (error) {
    // A half-edited source tree elsewhere in the monorepo must not stop every end-to-end suite: use the last build.
    if (!existsSync(join(ROOT, target.entry))) throw error;
    process.stderr.write(`warning: ${target.project} did not build; testing its previous build\n`);
  }
}
