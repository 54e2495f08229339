/**
 * The platform interfaces through which the messenger core reaches storage, the network, time, randomness, locks
 * and the UI. The core imports no browser or Node API: the PWA provides an IndexedDB/fetch/WebSocket/Web Locks
 * implementation, `@cove/client/node` a file/`ws`/mutex one.
 *
 * Storage contract (read-compute-write): reads are snapshot reads outside any transaction; every logical operation
 * ends with ONE `commit(batch)` that applies all its puts and deletes atomically (one IndexedDB readwrite
 * transaction, one journal record on disk) or none of them. The core never awaits network or crypto inside a
 * commit, so a browser platform may encrypt the values first and then write them in a single transaction. Work
 * that must not interleave (a peer's decryptions, the outbox) is serialized by the core with `locks`.
 * This module holds types only.
 */
import type { TableRows } from './tables.js';

/** Every table the core uses; a platform creates them up front (IndexedDB object stores). */
export const TABLES = [
  /** Account, credentials, settings, counters. */
  'meta',
  /** One-time EC prekeys by id. */
  'preKeys',
  /** Signed prekeys by id (current and retired within the grace period). */
  'signedPreKeys',
  /** Kyber prekeys by id (one-time and last-resort). */
  'kyberPreKeys',
  /** Base keys already used with a last-resort Kyber prekey (replay protection). */
  'kyberPreKeysUsed',
  /** Signal sessions by "<accountId>.<deviceId>". */
  'sessions',
  /** Peer identity keys and their trust state by account id. */
  'identities',
  /** Known accounts (username, devices) by account id. */
  'contacts',
  /** Username (lower case) to account id. */
  'usernames',
  /** Conversations by conversation id (`direct:<accountId>`). */
  'conversations',
  /**
   * Messages by "<conversationId>/<sequence>" (a conversation id contains no "/") so that a prefix scan pages a
   * conversation in order.
   */
  'messages',
  /** "<conversationId>/<authorAccountId>/<timestamp>" to a message key (receipts, retries, dedupe). */
  'messageIndex',
  /** Outgoing content waiting to be sent, by sequence. */
  'outbox',
  /** Envelope GUIDs already processed (dedupe of redeliveries). */
  'processedEnvelopes',
  /**
   * Sent messages that may be re-sent on a retry request, for a day: to which device, under which identity key
   * (tables.ts ResendLogEntry), with an expiry index.
   */
  'resendLog',
  /** Groups this device is or was a member of, by group id (tables.ts GroupEntry). */
  'groups',
  /** Sender-key chains of group members, our own sender key per group, member devices' distribution ids. */
  'senderKeys',
] as const;

export type TableName = (typeof TABLES)[number];

/**
 * A stored value: JSON-like data (objects, arrays, strings, finite numbers, booleans, null) in which byte strings
 * appear as Uint8Array. IndexedDB stores it by structured clone; the Node platform serializes it.
 */
export type StoredValue =
  string | number | boolean | null | Uint8Array | StoredValue[] | { [key: string]: StoredValue | undefined };

/** A row of `table`, as the core stores it (tables.ts TableRows). */
export type Row<T extends TableName> = TableRows[T];

export type PutOp<T extends TableName> = {
  readonly op: 'put';
  readonly table: T;
  readonly key: string;
  readonly value: TableRows[T];
};
export type DeleteOp<T extends TableName> = { readonly op: 'delete'; readonly table: T; readonly key: string };

/** One write: a put carries a row of its table's type. */
export type WriteOp<T extends TableName = TableName> = { [K in T]: PutOp<K> | DeleteOp<K> }[T];

export type ListOptions = {
  /** Only keys starting with this prefix. */
  prefix?: string;
  /** Resume after this key (exclusive), in the direction of iteration. */
  after?: string;
  /** Descending key order. */
  reverse?: boolean;
  /** At most this many entries. */
  limit?: number;
};

export type Entry<T> = { key: string; value: T };

/** Transactional key-value storage: string keys ordered by UTF-16 code units, as IndexedDB orders them. */
export interface KeyValueStorage {
  get<T extends TableName>(table: T, key: string): Promise<TableRows[T] | undefined>;
  /** Unchecked: for readers outside the core that name the row type themselves (the core never uses it). */
  get<V extends StoredValue>(table: TableName, key: string): Promise<V | undefined>;
  list<T extends TableName>(table: T, options?: ListOptions): Promise<Entry<TableRows[T]>[]>;
  /** Unchecked: for readers outside the core that name the row type themselves (the core never uses it). */
  list<V extends StoredValue>(table: TableName, options?: ListOptions): Promise<Entry<V>[]>;
  count(table: TableName, options?: Pick<ListOptions, 'prefix'>): Promise<number>;
  /** Applies every operation atomically, in order, durably; rejects (and applies nothing) on failure. */
  commit(batch: readonly WriteOp[]): Promise<void>;
  close(): Promise<void>;
}

export type HttpRequest = {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body?: string;
};

export type HttpResponse = { status: number; headers: Record<string, string>; body: string };

/** HTTP(S) requests. Rejects only when no response arrived (network failure, timeout). */
export interface HttpTransport {
  request(request: HttpRequest): Promise<HttpResponse>;
}

/** A WebSocket carrying text frames. Handlers are assigned by the core before `open` fires. */
export interface ClientSocket {
  onOpen: () => void;
  onMessage: (text: string) => void;
  onClose: (code: number, reason: string) => void;
  onError: (error: Error) => void;
  send(text: string): void;
  close(code?: number, reason?: string): void;
}

export interface SocketFactory {
  connect(url: string): ClientSocket;
}

export type TimerHandle = { readonly id: unknown };

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export interface Random {
  /** Cryptographically secure random bytes. */
  bytes(length: number): Uint8Array<ArrayBuffer>;
}

/** Named mutual exclusion across everything sharing the storage (tabs and service worker, or processes). */
export interface LockManager {
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** Logging without user data: callers pass ids, counts and codes only, never content or keys. */
export interface Logger {
  debug(message: string, fields?: Record<string, string | number | boolean>): void;
  info(message: string, fields?: Record<string, string | number | boolean>): void;
  warn(message: string, fields?: Record<string, string | number | boolean>): void;
  error(message: string, fields?: Record<string, string | number | boolean>): void;
}

/** Where the core reports events after their state is committed (a UI store, a service-worker notifier, a CLI). */
export interface EventSink<E> {
  emit(event: E): void;
}

/** A binary HTTP request (attachment uploads and ranged downloads). */
export type BinaryHttpRequest = {
  method: 'GET' | 'POST' | 'PATCH' | 'HEAD' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body?: Uint8Array<ArrayBuffer>;
};

export type BinaryHttpResponse = { status: number; headers: Record<string, string>; body: Uint8Array };

/**
 * Binary HTTP: bodies are bytes both ways. Callers bound each request's size (attachment pieces of a few MiB), so an
 * implementation may hold one body in memory. Rejects only when no response arrived. Header names in lower case.
 */
export interface BinaryHttpTransport {
  request(request: BinaryHttpRequest): Promise<BinaryHttpResponse>;
}

/**
 * Local storage of attachment blobs, by an id the core chooses (1–128 of `A–Z a–z 0–9 _ -`). It only ever holds
 * CIPHERTEXT — the blob exactly as uploaded or downloaded (format v1, docs/attachments.md); the keys live in the
 * message rows, which the platform stores like any other row. Decrypted files are written only where a user asked
 * (a CLI save path, a browser download), never here.
 *
 * Contract: `append` adds bytes at the end (creating the blob), durably before it resolves; `read` yields the bytes
 * from `offset` (default 0) to the end, or `length` of them, in pieces of any size, and may be called again for a
 * second pass; `size` is the stored length or null when there is no such blob; `delete` is idempotent; `truncate`
 * cuts a blob to a length (a download resuming after a partial write).
 */
export interface AttachmentBlobStore {
  append(id: string, bytes: Uint8Array): Promise<void>;
  read(id: string, options?: { offset?: number; length?: number }): AsyncIterable<Uint8Array>;
  size(id: string): Promise<number | null>;
  truncate(id: string, length: number): Promise<void>;
  delete(id: string): Promise<void>;
}

export type Platform = {
  storage: KeyValueStorage;
  http: HttpTransport;
  /** Binary HTTP for attachments; absent on platforms without attachment support yet. */
  binaryHttp?: BinaryHttpTransport;
  /** Attachment blobs (ciphertext); absent on platforms without attachment support yet. */
  attachments?: AttachmentBlobStore;
  sockets: SocketFactory;
  clock: Clock;
  random: Random;
  locks: LockManager;
  logger: Logger;
};
