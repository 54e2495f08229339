/**
 * Versioned migrations of the core's stored data (its key layout), run by `Messenger.open` before anything reads.
 * The list is append-only: layout N is what the first N - 1 migrations make of layout 1 (data written before the
 * layout was recorded). Each migration reads what it needs and returns its writes; they are committed in ONE batch
 * together with the new layout number, so a crash at any point leaves either the old layout (and the migration runs
 * again) or the new one. Migrations are idempotent: a key already in the new layout is left as it is. It does not
 * touch the platform's own encoding of rows (the PWA's sealing, the CLI's files): only the core's tables.
 */
import { metaPut, readMeta } from './meta.js';
import type { KeyValueStorage, Random, WriteOp } from './platform.js';
import { newOwnProfile } from './profiles.js';
import { DIRECT_CONVERSATION_PREFIX, metaKeys } from './tables.js';

/** Before the layout was recorded. */
const FIRST_LAYOUT = 1;

/** What a migration may use besides storage: randomness (new keys) and the time, as parameters. */
export type MigrationEnv = { random: Random; now: number };

type Migration = {
  /** What it changes, for logs and readers of this file. */
  readonly name: string;
  readonly run: (storage: KeyValueStorage, env: MigrationEnv) => Promise<WriteOp[]>;
};

/** Layout 1 keyed a conversation by its peer's account id: "<peer>", "<peer>/<seq>", "<peer>/<author>/<ts>". */
const toDirect = (key: string): string =>
  key.startsWith(DIRECT_CONVERSATION_PREFIX) ? key : `${DIRECT_CONVERSATION_PREFIX}${key}`;

/** The expiry index as layout 1 wrote it, frozen here (history.ts EXPIRY_PREFIX): "expiry/<at>/<messageKey>". */
const EXPIRY_PREFIX = 'expiry/';
const EXPIRY_TIME_WIDTH = 16;

/**
 * 1 → 2: every conversation gets its own id, `direct:<peer account id>`; its summary, messages, message index,
 * expiry index entries and the outbox's references to its messages move under that id.
 */
const conversationIds: Migration = {
  name: 'conversation ids',
  async run(storage) {
    const writes: WriteOp[] = [];
    for (const { key, value } of await storage.list('conversations')) {
      if (toDirect(key) === key) continue;
      const id = toDirect(value.peerAccountId || key);
      const lastMessageKey = value.lastMessageKey === null ? null : toDirect(value.lastMessageKey);
      writes.push(
        { op: 'delete', table: 'conversations', key },
        { op: 'put', table: 'conversations', key: id, value: { ...value, id, lastMessageKey } },
      );
    }
    for (const { key, value } of await storage.list('messages')) {
      if (toDirect(key) === key) continue;
      const id = toDirect(value.id);
      writes.push(
        { op: 'delete', table: 'messages', key },
        {
          op: 'put',
          table: 'messages',
          key: toDirect(key),
          value: { ...value, id, conversationId: toDirect(value.conversationId) },
        },
      );
    }
    for (const { key, value } of await storage.list('messageIndex')) {
      if (toDirect(key) === key) continue;
      writes.push(
        { op: 'delete', table: 'messageIndex', key },
        { op: 'put', table: 'messageIndex', key: toDirect(key), value: toDirect(value) },
      );
    }
    for (const { key, value } of await storage.list('meta', { prefix: EXPIRY_PREFIX })) {
      if (typeof value !== 'string') continue;
      const at = key.slice(0, EXPIRY_PREFIX.length + EXPIRY_TIME_WIDTH + 1);
      const messageKey = toDirect(value);
      if (messageKey === value) continue;
      writes.push(
        { op: 'delete', table: 'meta', key },
        { op: 'put', table: 'meta', key: `${at}${messageKey}`, value: messageKey },
      );
    }
    for (const { key, value } of await storage.list('outbox')) {
      if (value.messageKey === null || value.messageKey.startsWith(DIRECT_CONVERSATION_PREFIX)) continue;
      writes.push({ op: 'put', table: 'outbox', key, value: { ...value, messageKey: toDirect(value.messageKey) } });
    }
    return writes;
  },
};

/**
 * 2 → 3: an account from before encrypted profiles gets its profile key (docs/profiles.md), with an empty profile;
 * the messenger uploads the profile and access key on its next upkeep. An account that has one keeps it.
 */
const profileKey: Migration = {
  name: 'profile key',
  async run(storage, env) {
    if ((await readMeta(storage, 'ownProfile')) !== undefined) return [];
    return [metaPut('ownProfile', newOwnProfile(env.random, env.now))];
  },
};

/** Append-only: MIGRATIONS[i] takes layout i + 1 to layout i + 2. */
const MIGRATIONS: readonly Migration[] = [conversationIds, profileKey];

/** The platform's CSPRNG and clock, for callers (tests, tools) that pass none. */
const DEFAULT_ENV = (): MigrationEnv => ({
  random: {
    bytes: (n) => {
      const out = new Uint8Array(n);
      globalThis.crypto.getRandomValues(out);
      return out;
    },
  },
  now: Date.now(),
});

/** The layout this build writes. */
export const STORAGE_LAYOUT = FIRST_LAYOUT + MIGRATIONS.length;

/** The layout recorded in storage (1 when none is). */
export const storedLayout = async (storage: KeyValueStorage): Promise<number> =>
  (await readMeta(storage, 'storageLayout')) ?? FIRST_LAYOUT;

/**
 * Brings stored data to STORAGE_LAYOUT in one commit (nothing to do: nothing written; no account yet: nothing
 * stored, registration records the layout). Returns the names of the migrations applied. Data from a newer build
 * is refused rather than misread.
 */
export const migrateStorage = async (
  storage: KeyValueStorage,
  env: MigrationEnv = DEFAULT_ENV(),
): Promise<string[]> => {
  if ((await storage.get('meta', metaKeys.account)) === undefined) return [];
  const from = await storedLayout(storage);
  if (from > STORAGE_LAYOUT)
    throw new Error(`stored data has layout ${from}, newer than this build's ${STORAGE_LAYOUT}`);
  if (from === STORAGE_LAYOUT) return [];
  const pending = MIGRATIONS.slice(from - FIRST_LAYOUT);
  const writes: WriteOp[] = [];
  // Each migration reads the previous layout as stored: with more than one pending, a later one must not depend
  // on an earlier one's uncommitted writes (each is written to tolerate both, being idempotent).
  for (const migration of pending) writes.push(...(await migration.run(storage, env)));
  writes.push({ op: 'put', table: 'meta', key: metaKeys.storageLayout, value: STORAGE_LAYOUT });
  await storage.commit(writes);
  return pending.map((m) => m.name);
};

/** For a new account (in its registration commit): the layout it is written in. */
export const layoutWrite = (): WriteOp => ({
  op: 'put',
  table: 'meta',
  key: metaKeys.storageLayout,
  value: STORAGE_LAYOUT,
});
