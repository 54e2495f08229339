/**
 * File-backed KeyValueStorage for Node: the whole data set lives in memory, a snapshot file holds it on disk and
 * an append-only journal records each committed batch as one checksummed line, flushed with fdatasync before the
 * commit resolves. Loading replays the journal over the snapshot; a torn last line (a crash mid-write) is dropped,
 * any other damage is reported as StorageCorrupt. When the journal grows past a limit it is folded into a new
 * snapshot, written to a temporary file and renamed into place (atomic), under a new generation number so a crash
 * at any point leaves either the old or the new state. Every file is created with mode 0600 (private keys live
 * here) inside a 0700 directory. It does not lock the directory against other processes (see node-platform.ts).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { ClientError, ClientErrorCode } from '../errors.js';
import type { Entry, KeyValueStorage, ListOptions, Row, StoredValue, TableName, WriteOp } from '../platform.js';
import { TABLES } from '../platform.js';

/** Fold the journal into a snapshot beyond this size: replay stays fast while snapshots stay rare. */
const JOURNAL_COMPACT_BYTES = 4 * 1024 * 1024;
const SNAPSHOT_FILE = 'state.json';
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

type Snapshot = { format: 1; generation: number; tables: Record<string, Record<string, unknown>> };

/** JSON replacer/reviver pair that keeps Uint8Array values as `{ $bytes: base64 }`. */
const encodeValue = (value: StoredValue): unknown => {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(encodeValue);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = encodeValue(v);
    return out;
  }
  return value;
};

const decodeValue = (value: unknown): StoredValue => {
  if (Array.isArray(value)) return value.map(decodeValue);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (typeof record.$bytes === 'string' && Object.keys(record).length === 1) {
      return new Uint8Array(Buffer.from(record.$bytes, 'base64'));
    }
    const out: Record<string, StoredValue> = {};
    for (const [k, v] of Object.entries(record)) out[k] = decodeValue(v);
    return out;
  }
  return value as StoredValue;
};

const checksum = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

const journalName = (generation: number): string => `journal-${generation}.log`;

const corrupt = (message: string, cause?: unknown): ClientError =>
  new ClientError(ClientErrorCode.StorageCorrupt, message, { cause });

export class FileStorage implements KeyValueStorage {
  private readonly tables = new Map<TableName, Map<string, StoredValue>>();
  private generation = 0;
  private journal: fs.FileHandle | undefined;
  private journalBytes = 0;
  /** Commits run one after another so journal lines never interleave. */
  private tail: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(private readonly dir: string) {
    for (const table of TABLES) this.tables.set(table, new Map());
  }

  /** Opens (creating if needed) the storage in `dir`. */
  static async open(dir: string): Promise<FileStorage> {
    await fs.mkdir(dir, { recursive: true, mode: DIR_MODE });
    await fs.chmod(dir, DIR_MODE);
    const storage = new FileStorage(dir);
    await storage.load();
    return storage;
  }

  private table(name: TableName): Map<string, StoredValue> {
    const table = this.tables.get(name);
    if (!table) throw new Error(`unknown table ${name}`);
    return table;
  }

  private async load(): Promise<void> {
    let snapshotText: string | undefined;
    try {
      snapshotText = await fs.readFile(path.join(this.dir, SNAPSHOT_FILE), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (snapshotText !== undefined) {
      let snapshot: Snapshot;
      try {
        snapshot = JSON.parse(snapshotText) as Snapshot;
      } catch (error) {
        throw corrupt('the snapshot file is not valid JSON', error);
      }
      if (snapshot.format !== 1) throw corrupt(`unknown snapshot format ${String(snapshot.format)}`);
      this.generation = snapshot.generation;
      for (const [name, entries] of Object.entries(snapshot.tables)) {
        if (!(TABLES as readonly string[]).includes(name)) continue;
        const table = this.table(name as TableName);
        for (const [key, value] of Object.entries(entries)) table.set(key, decodeValue(value));
      }
    }
    const journalPath = path.join(this.dir, journalName(this.generation));
    let journalText = '';
    try {
      journalText = await fs.readFile(journalPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const lines = journalText.split('\n');
    let validBytes = 0;
    for (let i = 0; i < lines.length; i += 1) {
      const line = lines[i] ?? '';
      const complete = i < lines.length - 1;
      if (line === '' && !complete) break;
      const space = line.indexOf(' ');
      const body = space > 0 ? line.slice(space + 1) : '';
      const valid = space > 0 && checksum(body) === line.slice(0, space);
      if (!valid || !complete) {
        // Only the final record can be torn by a crash; anything earlier means the file was damaged.
        if (complete && i < lines.length - 2) throw corrupt('the journal has a damaged record');
        break;
      }
      let ops: WriteOp[];
      try {
        // What commit() wrote: the same operations, with their byte strings encoded.
        ops = (JSON.parse(body) as WriteOp[]).map((op) =>
          op.op === 'put' ? ({ ...op, value: decodeValue(op.value) } as WriteOp) : op,
        );
      } catch (error) {
        throw corrupt('the journal has an unreadable record', error);
      }
      this.apply(ops);
      validBytes += Buffer.byteLength(line) + 1;
    }
    if (validBytes < Buffer.byteLength(journalText)) await fs.truncate(journalPath, validBytes);
    this.journalBytes = validBytes;
  }

  private apply(ops: readonly WriteOp[]): void {
    for (const op of ops) {
      const table = this.table(op.table);
      if (op.op === 'put') table.set(op.key, structuredClone(op.value));
      else table.delete(op.key);
    }
  }

  get<T extends TableName>(table: T, key: string): Promise<Row<T> | undefined>;
  get<V extends StoredValue>(table: TableName, key: string): Promise<V | undefined>;
  get(table: TableName, key: string): Promise<StoredValue | undefined> {
    const value = this.table(table).get(key);
    return Promise.resolve(value === undefined ? undefined : structuredClone(value));
  }

  private keys(table: TableName, options: ListOptions): string[] {
    const prefix = options.prefix ?? '';
    const keys = [...this.table(table).keys()].filter((key) => key.startsWith(prefix));
    keys.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (options.reverse) keys.reverse();
    return keys;
  }

  list<T extends TableName>(table: T, options?: ListOptions): Promise<Entry<Row<T>>[]>;
  list<V extends StoredValue>(table: TableName, options?: ListOptions): Promise<Entry<V>[]>;
  list(table: TableName, options: ListOptions = {}): Promise<Entry<StoredValue>[]> {
    let keys = this.keys(table, options);
    const { after } = options;
    if (after !== undefined) keys = keys.filter((key) => (options.reverse ? key < after : key > after));
    if (options.limit !== undefined) keys = keys.slice(0, options.limit);
    const data = this.table(table);
    return Promise.resolve(keys.map((key) => ({ key, value: structuredClone(data.get(key) ?? null) })));
  }

  count(table: TableName, options: Pick<ListOptions, 'prefix'> = {}): Promise<number> {
    const prefix = options.prefix ?? '';
    if (prefix === '') return Promise.resolve(this.table(table).size);
    let n = 0;
    for (const key of this.table(table).keys()) if (key.startsWith(prefix)) n += 1;
    return Promise.resolve(n);
  }

  commit(batch: readonly WriteOp[]): Promise<void> {
    const run = async (): Promise<void> => {
      if (this.closed) throw new Error('storage is closed');
      if (batch.length === 0) return;
      for (const op of batch) this.table(op.table);
      const body = JSON.stringify(batch.map((op) => (op.op === 'put' ? { ...op, value: encodeValue(op.value) } : op)));
      const line = `${checksum(body)} ${body}\n`;
      const journal = await this.openJournal();
      await journal.write(line);
      await journal.datasync();
      this.journalBytes += Buffer.byteLength(line);
      this.apply(batch);
      if (this.journalBytes > JOURNAL_COMPACT_BYTES) await this.compact();
    };
    const result = this.tail.then(run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private async openJournal(): Promise<fs.FileHandle> {
    if (!this.journal) {
      this.journal = await fs.open(path.join(this.dir, journalName(this.generation)), 'a', FILE_MODE);
    }
    return this.journal;
  }

  /** Writes the in-memory state as the snapshot of the next generation and starts an empty journal. */
  private async compact(): Promise<void> {
    const next = this.generation + 1;
    const tables: Snapshot['tables'] = {};
    for (const [name, table] of this.tables) {
      const entries: Record<string, unknown> = {};
      for (const [key, value] of table) entries[key] = encodeValue(value);
      tables[name] = entries;
    }
    const snapshot: Snapshot = { format: 1, generation: next, tables };
    const tmp = path.join(this.dir, `${SNAPSHOT_FILE}.tmp`);
    const handle = await fs.open(tmp, 'w', FILE_MODE);
    try {
      await handle.writeFile(JSON.stringify(snapshot));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(tmp, path.join(this.dir, SNAPSHOT_FILE));
    const dirHandle = await fs.open(this.dir, 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
    const old = this.generation;
    await this.journal?.close();
    this.journal = undefined;
    this.generation = next;
    this.journalBytes = 0;
    await fs.rm(path.join(this.dir, journalName(old)), { force: true });
  }

  /** Folds the journal into the snapshot now (tests, and a tidy shutdown). */
  async compactNow(): Promise<void> {
    const run = (): Promise<void> => this.compact();
    const result = this.tail.then(run);
    this.tail = result.catch(() => undefined);
    await result;
  }

  async close(): Promise<void> {
    await this.tail;
    this.closed = true;
    await this.journal?.close();
    this.journal = undefined;
  }
}
