/**
 * PGlite on a directory, with commits that reach the disk. PGlite 0.5 starts PostgreSQL with fsync off (`-F`) on
 * Emscripten's NODEFS, whose file streams have no fsync and whose fdatasync does nothing: a commit is handed to the
 * operating system (a crash of the process loses nothing) but never flushed (a power cut or kernel crash can lose
 * acknowledged commits, or corrupt the database, since checkpoints do not flush either). Here NODEFS streams get an
 * fsync that calls the real one, and PostgreSQL runs with fsync on and `wal_sync_method=fsync` (its default,
 * fdatasync, would still be a no-op): every commit returns only once its WAL is on disk, and checkpoints flush the
 * data files, as on a PostgreSQL server. It changes nothing about what is written, only when it is durable.
 */
import fs from 'node:fs';

import { PGlite, type PGliteOptions } from '@electric-sql/pglite';
import { NodeFS } from '@electric-sql/pglite/nodefs';

/** Emscripten's errno for an I/O error: PostgreSQL then PANICs instead of trusting data the disk did not take. */
const EMSCRIPTEN_EIO = 29;

type Stream = { nfd?: number };
type StreamOps = { fsync?: (stream: Stream) => number };
type EmscriptenFs = { ErrnoError: new (errno: number) => Error };

/** NODEFS with a real fsync: Emscripten routes PostgreSQL's `fsync()` to `stream_ops.fsync`. */
class FsyncNodeFS extends NodeFS {
  override async init(pg: PGlite, opts: Parameters<NodeFS['init']>[1]): Promise<Awaited<ReturnType<NodeFS['init']>>> {
    const result = await super.init(pg, opts);
    const { emscriptenOpts } = result;
    emscriptenOpts.preRun = [
      ...(emscriptenOpts.preRun ?? []),
      (mod) => {
        const ops = (mod.NODEFS as unknown as { stream_ops?: StreamOps }).stream_ops;
        /** A PGlite whose filesystem no longer looks like this must not silently run without fsync. */
        if (!ops) throw new Error('PGlite: NODEFS has no stream operations to add fsync to');
        const ErrnoError = (mod.FS as unknown as EmscriptenFs).ErrnoError;
        ops.fsync = (stream) => {
          if (stream.nfd === undefined) return 0;
          try {
            fs.fsyncSync(stream.nfd);
            return 0;
          } catch {
            throw new ErrnoError(EMSCRIPTEN_EIO);
          }
        };
      },
    ];
    return result;
  }
}

/** Options of a PGlite in `dir` whose commits are durable (the directory is created if missing). */
export function durablePGliteOptions(dir: string): PGliteOptions {
  fs.mkdirSync(dir, { recursive: true });
  return {
    fs: new FsyncNodeFS(dir),
    startParams: [...PGlite.defaultStartParams.filter((p) => p !== '-F'), '-c', 'wal_sync_method=fsync'],
  };
}
