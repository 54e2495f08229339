/**
 * In-memory twins of the database repositories the services use, over one shared `InMemoryDatabase` (so that, as
 * in PostgreSQL, removing a device takes its keys and envelopes with it). Each twin keeps the contract its real
 * repository documents (atomic all-or-none writes, case-insensitive usernames, one claim per key, the send check
 * and queue caps of `insertChecked`) so service specs run the services' rules against honest storage without a
 * database. They do not emulate SQL, concurrency between instances, or durability; the medium tier covers those.
 */
import type { AccountRepository, NewAccount } from '../../../src/repositories/account.repository.js';
import type { Bytes } from '../../../src/repositories/database.repository.js';
import type {
  DeviceKeys,
  DeviceMap,
  DeviceRecord,
  DeviceRepository,
} from '../../../src/repositories/device.repository.js';
import {
  envelopeKey,
  type CheckedEnvelopeRow,
  type CheckedInsert,
  type EnvelopeKey,
  type EnvelopeRepository,
  type EnvelopeRow,
  type MultiInsert,
  type MultiSendRow,
  type MultiTargetRow,
  type QueueCaps,
  type StoredEnvelope,
} from '../../../src/repositories/envelope.repository.js';
import type { MailboxRepository, PendingSummary, WakeContext } from '../../../src/repositories/mailbox.repository.js';
import type {
  PreKeyRepository,
  StoredPreKey,
  StoredSignedPreKey,
} from '../../../src/repositories/prekey.repository.js';
import type {
  PushSubscriptionRecord,
  PushSubscriptionRepository,
} from '../../../src/repositories/push-subscription.repository.js';
import type { Public } from './twins.js';

export type MemoryDevice = {
  accountId: string;
  deviceId: number;
  registrationId: number;
  credentialHash: Bytes;
  signedPreKey: StoredSignedPreKey;
  kyberLastResortPreKey: StoredSignedPreKey;
  /** The encrypted device name (opaque bytes), when the device gave one. */
  name?: Bytes | null;
  createdAt: Date;
  lastSeenAt: Date;
};

type MemoryAccount = {
  id: string;
  identityKey: Bytes;
  username: string | null;
  nextDeviceId: number;
  unidentifiedAccessKey?: Bytes | null;
  unrestrictedUnidentifiedAccess?: boolean;
};

const deviceKey = (accountId: string, deviceId: number): string => `${accountId}.${deviceId}`;

/** The rows every twin reads and writes. Tests may inspect them directly. */
export class InMemoryDatabase {
  readonly accounts = new Map<string, MemoryAccount>();
  readonly devices = new Map<string, MemoryDevice>();
  readonly preKeys = new Map<string, StoredPreKey[]>();
  readonly kyberPreKeys = new Map<string, StoredSignedPreKey[]>();
  readonly envelopes: StoredEnvelope[] = [];
  readonly subscriptions = new Map<string, PushSubscriptionRecord>();
  private nextEnvelopeId = 1;

  constructor(private readonly now: () => number = Date.now) {}

  device(accountId: string, deviceId: number): MemoryDevice | undefined {
    return this.devices.get(deviceKey(accountId, deviceId));
  }

  devicesOf(accountId: string): MemoryDevice[] {
    return [...this.devices.values()].filter((d) => d.accountId === accountId).sort((a, b) => a.deviceId - b.deviceId);
  }

  addDevice(device: Omit<MemoryDevice, 'createdAt' | 'lastSeenAt'>): MemoryDevice {
    const at = new Date(this.now());
    const row: MemoryDevice = { ...device, createdAt: at, lastSeenAt: at };
    this.devices.set(deviceKey(device.accountId, device.deviceId), row);
    return row;
  }

  /** Removes a device and, like the foreign keys' cascade, its keys, envelopes and subscription. */
  removeDevice(accountId: string, deviceId: number): boolean {
    const key = deviceKey(accountId, deviceId);
    if (!this.devices.delete(key)) return false;
    this.preKeys.delete(key);
    this.kyberPreKeys.delete(key);
    this.subscriptions.delete(key);
    for (let i = this.envelopes.length - 1; i >= 0; i--) {
      const e = this.envelopes[i] as StoredEnvelope;
      if (e.accountId === accountId && e.deviceId === deviceId) this.envelopes.splice(i, 1);
    }
    return true;
  }

  storeEnvelopes(rows: EnvelopeRow[]): void {
    for (const r of rows) {
      const { guid, accountId, deviceId, type, sourceAccountId, sourceDeviceId, timestamp, serverTimestamp } = r;
      this.envelopes.push({
        id: String(this.nextEnvelopeId++),
        guid,
        accountId,
        deviceId,
        type,
        sourceAccountId,
        sourceDeviceId,
        timestamp,
        serverTimestamp,
        urgent: r.urgent,
        content: r.content,
      });
    }
  }

  envelopesOf(accountId: string, deviceId: number): StoredEnvelope[] {
    return this.envelopes.filter((e) => e.accountId === accountId && e.deviceId === deviceId);
  }

  /** Inserts or replaces one-time keys by id (as `insertDeviceKeys`). */
  putKeys(accountId: string, deviceId: number, preKeys: StoredPreKey[], kyberPreKeys: StoredSignedPreKey[]): void {
    const key = deviceKey(accountId, deviceId);
    const merge = <K extends { keyId: number }>(old: K[] | undefined, added: K[]): K[] => [
      ...(old ?? []).filter((k) => !added.some((a) => a.keyId === k.keyId)),
      ...added,
    ];
    this.preKeys.set(key, merge(this.preKeys.get(key), preKeys));
    this.kyberPreKeys.set(key, merge(this.kyberPreKeys.get(key), kyberPreKeys));
  }
}

export class InMemoryAccountRepository implements Public<AccountRepository> {
  constructor(private readonly db: InMemoryDatabase) {}

  create(account: NewAccount): Promise<boolean> {
    const usernameKey = account.username?.toLowerCase();
    if (usernameKey !== undefined && this.holder(usernameKey) !== undefined) return Promise.resolve(false);
    this.db.accounts.set(account.id, {
      id: account.id,
      identityKey: account.identityKey,
      username: account.username ?? null,
      nextDeviceId: 2,
    });
    const d = account.device;
    this.db.addDevice({
      accountId: account.id,
      deviceId: 1,
      registrationId: d.registrationId,
      credentialHash: d.credentialHash,
      signedPreKey: d.signedPreKey,
      kyberLastResortPreKey: d.kyberLastResortPreKey,
      name: d.name ?? null,
    });
    this.db.putKeys(account.id, 1, d.preKeys, d.kyberPreKeys);
    return Promise.resolve(true);
  }

  identityKey(accountId: string): Promise<Bytes | null> {
    return Promise.resolve(this.db.accounts.get(accountId)?.identityKey ?? null);
  }

  setUsername(accountId: string, username: string): Promise<boolean> {
    const holder = this.holder(username.toLowerCase());
    if (holder !== undefined && holder !== accountId) return Promise.resolve(false);
    const account = this.db.accounts.get(accountId);
    if (account) account.username = username;
    return Promise.resolve(true);
  }

  clearUsername(accountId: string): Promise<void> {
    const account = this.db.accounts.get(accountId);
    if (account) account.username = null;
    return Promise.resolve();
  }

  unidentifiedAccess(accountIds: string[]): Promise<Map<string, { accessKey: Bytes | null; unrestricted: boolean }>> {
    const found = new Map<string, { accessKey: Bytes | null; unrestricted: boolean }>();
    for (const id of accountIds) {
      const account = this.db.accounts.get(id);
      if (account) {
        found.set(id, {
          accessKey: account.unidentifiedAccessKey ?? null,
          unrestricted: account.unrestrictedUnidentifiedAccess ?? false,
        });
      }
    }
    return Promise.resolve(found);
  }

  setUnidentifiedAccess(
    accountId: string,
    attributes: { accessKey?: Bytes | null; unrestricted?: boolean },
  ): Promise<void> {
    const account = this.db.accounts.get(accountId);
    if (account && attributes.accessKey !== undefined) account.unidentifiedAccessKey = attributes.accessKey;
    if (account && attributes.unrestricted !== undefined)
      account.unrestrictedUnidentifiedAccess = attributes.unrestricted;
    return Promise.resolve();
  }

  findByUsername(username: string): Promise<{ id: string; username: string } | null> {
    const id = this.holder(username.toLowerCase());
    const spelled = id === undefined ? null : this.db.accounts.get(id)?.username;
    return Promise.resolve(id !== undefined && spelled ? { id, username: spelled } : null);
  }

  /** Like the cascade from the account row: its devices, their keys, envelopes and subscriptions, and the username. */
  remove(accountId: string): Promise<number[] | null> {
    if (!this.db.accounts.delete(accountId)) return Promise.resolve(null);
    const devices = this.db.devicesOf(accountId).map((d) => d.deviceId);
    for (const deviceId of devices) this.db.removeDevice(accountId, deviceId);
    return Promise.resolve(devices);
  }

  private holder(usernameKey: string): string | undefined {
    return [...this.db.accounts.values()].find((a) => a.username?.toLowerCase() === usernameKey)?.id;
  }
}

export class InMemoryPreKeyRepository implements Public<PreKeyRepository> {
  constructor(private readonly db: InMemoryDatabase) {}

  upload(
    accountId: string,
    deviceId: number,
    keys: {
      preKeys: StoredPreKey[];
      kyberPreKeys: StoredSignedPreKey[];
      signedPreKey?: StoredSignedPreKey;
      kyberLastResortPreKey?: StoredSignedPreKey;
    },
    caps: { maxStored: number },
  ): Promise<'ok' | 'limit_reached'> {
    const key = deviceKey(accountId, deviceId);
    const before = { ec: this.db.preKeys.get(key), kyber: this.db.kyberPreKeys.get(key) };
    this.db.putKeys(accountId, deviceId, keys.preKeys, keys.kyberPreKeys);
    if (
      (this.db.preKeys.get(key)?.length ?? 0) > caps.maxStored ||
      (this.db.kyberPreKeys.get(key)?.length ?? 0) > caps.maxStored
    ) {
      /** All or none, as the real transaction: the keys written above are rolled back. */
      this.db.preKeys.set(key, before.ec ?? []);
      this.db.kyberPreKeys.set(key, before.kyber ?? []);
      return Promise.resolve('limit_reached');
    }
    const device = this.db.device(accountId, deviceId);
    if (device && keys.signedPreKey) device.signedPreKey = keys.signedPreKey;
    if (device && keys.kyberLastResortPreKey) device.kyberLastResortPreKey = keys.kyberLastResortPreKey;
    return Promise.resolve('ok');
  }

  counts(accountId: string, deviceId: number): Promise<{ preKeyCount: number; kyberPreKeyCount: number }> {
    const key = deviceKey(accountId, deviceId);
    return Promise.resolve({
      preKeyCount: this.db.preKeys.get(key)?.length ?? 0,
      kyberPreKeyCount: this.db.kyberPreKeys.get(key)?.length ?? 0,
    });
  }

  claimPreKey(accountId: string, deviceId: number): Promise<StoredPreKey | null> {
    return Promise.resolve(claimLowest(this.db.preKeys, deviceKey(accountId, deviceId)));
  }

  claimKyberPreKey(accountId: string, deviceId: number): Promise<StoredSignedPreKey | null> {
    return Promise.resolve(claimLowest(this.db.kyberPreKeys, deviceKey(accountId, deviceId)));
  }
}

/** Removes and returns the key with the lowest id (the real claim's `ORDER BY key_id LIMIT 1`). */
function claimLowest<K extends { keyId: number }>(table: Map<string, K[]>, key: string): K | null {
  const keys = table.get(key) ?? [];
  const lowest = keys.reduce<K | null>((low, k) => (low === null || k.keyId < low.keyId ? k : low), null);
  if (lowest)
    table.set(
      key,
      keys.filter((k) => k !== lowest),
    );
  return lowest;
}

/** The device-repository members the prekey, message and auth rules read. */
export type DeviceReads = 'credential' | 'touch' | 'list' | 'keys' | 'deviceMap' | 'remove';

export class InMemoryDeviceRepository implements Pick<DeviceRepository, DeviceReads> {
  constructor(
    private readonly db: InMemoryDatabase,
    private readonly now: () => number = Date.now,
  ) {}

  credential(accountId: string, deviceId: number): Promise<{ credentialHash: Bytes; lastSeenAt: Date } | null> {
    const d = this.db.device(accountId, deviceId);
    return Promise.resolve(d ? { credentialHash: d.credentialHash, lastSeenAt: d.lastSeenAt } : null);
  }

  touch(accountId: string, deviceId: number): Promise<void> {
    const d = this.db.device(accountId, deviceId);
    if (d) d.lastSeenAt = new Date(this.now());
    return Promise.resolve();
  }

  list(accountId: string): Promise<DeviceRecord[]> {
    return Promise.resolve(
      this.db.devicesOf(accountId).map(({ deviceId, registrationId, createdAt, lastSeenAt, name }) => ({
        accountId,
        deviceId,
        registrationId,
        createdAt,
        lastSeenAt,
        name: name ?? null,
      })),
    );
  }

  keys(accountId: string, deviceId: number | null): Promise<DeviceKeys[]> {
    return Promise.resolve(
      this.db
        .devicesOf(accountId)
        .filter((d) => deviceId === null || d.deviceId === deviceId)
        .map(({ deviceId: id, registrationId, signedPreKey, kyberLastResortPreKey }) => ({
          deviceId: id,
          registrationId,
          signedPreKey,
          kyberLastResortPreKey,
        })),
    );
  }

  deviceMap(accountIds: string[]): Promise<DeviceMap> {
    const map: DeviceMap = new Map();
    for (const id of accountIds) {
      map.set(id, new Map(this.db.devicesOf(id).map((d) => [d.deviceId, d.registrationId])));
    }
    return Promise.resolve(map);
  }

  remove(accountId: string, deviceId: number): Promise<boolean> {
    return Promise.resolve(this.db.removeDevice(accountId, deviceId));
  }
}

export class InMemoryEnvelopeRepository implements Public<EnvelopeRepository> {
  /** Rows of each `insertChecked` call, for specs that assert what one group commit wrote. */
  readonly batches: CheckedEnvelopeRow[][] = [];

  constructor(private readonly db: InMemoryDatabase) {}

  insert(rows: EnvelopeRow[]): Promise<void> {
    this.db.storeEnvelopes(rows);
    return Promise.resolve();
  }

  /**
   * The contract of the real statement: a send whose sending device no longer exists is skipped as `senderGone`; a
   * send whose rows do not address exactly the destination's current devices
   * (minus the sender's own device for a send to oneself) with their registration ids is refused whole; of the
   * others, in request order, a send that would take a destination device past `caps` (counting the earlier sends of
   * the batch) is skipped whole with its full devices; the rest are stored. Written apart from `deviceCoverage` on
   * purpose: `device-coverage.spec.ts` checks that both refuse the same sends of one table of cases.
   */
  insertChecked(rows: CheckedEnvelopeRow[], caps: QueueCaps): Promise<CheckedInsert> {
    this.batches.push(rows);
    const refused = new Set<number>();
    const full = new Map<number, number[]>();
    const senderGone = new Set<number>();
    const requests = [...new Set(rows.map((r) => r.request))].sort((a, b) => a - b);
    const queued = new Map<string, { n: number; bytes: number }>();
    const queueOf = (accountId: string, deviceId: number): { n: number; bytes: number } => {
      const key = deviceKey(accountId, deviceId);
      let q = queued.get(key);
      if (!q) {
        const stored = this.db.envelopesOf(accountId, deviceId);
        q = { n: stored.length, bytes: stored.reduce((sum, e) => sum + e.content.byteLength, 0) };
        queued.set(key, q);
      }
      return q;
    };
    const accepted: CheckedEnvelopeRow[] = [];
    for (const request of requests) {
      const own = rows.filter((r) => r.request === request);
      const first = own[0] as CheckedEnvelopeRow;
      if (first.sourceAccountId !== null && !this.db.device(first.sourceAccountId, first.sourceDeviceId ?? 0)) {
        senderGone.add(request);
        continue;
      }
      const toSelf = first.accountId === first.sourceAccountId;
      const current = this.db
        .devicesOf(first.accountId)
        .filter((d) => !(toSelf && d.deviceId === first.sourceDeviceId));
      const addressed = own.every((r) =>
        current.some((d) => d.deviceId === r.deviceId && d.registrationId === r.registrationId),
      );
      const covered = current.every((d) => own.some((r) => r.deviceId === d.deviceId));
      if (!addressed || !covered) {
        refused.add(request);
        continue;
      }
      const over = own
        .filter((r) => {
          const q = queueOf(r.accountId, r.deviceId);
          /** Counted even when skipped, as the statement's running window counts every unrefused send. */
          q.n += 1;
          q.bytes += r.content.byteLength;
          return q.n > caps.envelopes || q.bytes > caps.bytes;
        })
        .map((r) => r.deviceId)
        .sort((a, b) => a - b);
      if (over.length) full.set(request, over);
      else accepted.push(...own);
    }
    this.db.storeEnvelopes(accepted);
    return Promise.resolve({ refused, full, senderGone });
  }

  /**
   * The contract of the real statement: a send whose sending device is gone is `senderGone`; a send that does not
   * address exactly the current devices of every recipient account (for the sender's own account all but the sending
   * device), with their registration ids, is refused whole; of the others, in request order, each target device whose
   * queue would pass `caps` (counting the earlier sends of the batch) is skipped into `full` and every other device
   * gets a row. The rows of one send share one content buffer: stored once, as the real shared payload. A send with
   * `store` false is only checked. Written apart from `deviceCoverage`, like `insertChecked`.
   */
  insertMulti(sends: MultiSendRow[], targets: MultiTargetRow[], caps: QueueCaps): Promise<MultiInsert> {
    const outcome: MultiInsert = { refused: new Set(), senderGone: new Set(), full: new Map() };
    const queued = new Map<string, { n: number; bytes: number }>();
    const stored: EnvelopeRow[] = [];
    for (const send of [...sends].sort((a, b) => a.request - b.request)) {
      if (send.sourceAccountId !== null && !this.db.device(send.sourceAccountId, send.sourceDeviceId ?? 0)) {
        outcome.senderGone.add(send.request);
        continue;
      }
      const own = targets.filter((t) => t.request === send.request);
      const accounts = [...new Set(own.map((t) => t.accountId))];
      const covered = accounts.every((accountId) => {
        const toSelf = accountId === send.sourceAccountId;
        const current = this.db.devicesOf(accountId).filter((d) => !(toSelf && d.deviceId === send.sourceDeviceId));
        const rows = own.filter((t) => t.accountId === accountId);
        return (
          rows.every((r) => current.some((d) => d.deviceId === r.deviceId && d.registrationId === r.registrationId)) &&
          current.every((d) => rows.some((r) => r.deviceId === d.deviceId))
        );
      });
      if (!covered) {
        outcome.refused.add(send.request);
        continue;
      }
      if (!send.store) continue;
      const skipped = new Set<string>();
      for (const t of own) {
        const key = deviceKey(t.accountId, t.deviceId);
        let q = queued.get(key);
        if (!q) {
          const waiting = this.db.envelopesOf(t.accountId, t.deviceId);
          q = { n: waiting.length, bytes: waiting.reduce((sum, e) => sum + e.content.byteLength, 0) };
          queued.set(key, q);
        }
        q.n += 1;
        q.bytes += send.content.byteLength + (t.own?.byteLength ?? 0);
        if (q.n > caps.envelopes || q.bytes > caps.bytes) {
          skipped.add(key);
          continue;
        }
        stored.push({
          guid: t.guid,
          accountId: t.accountId,
          deviceId: t.deviceId,
          type: send.type,
          sourceAccountId: send.sourceAccountId,
          sourceDeviceId: send.sourceDeviceId,
          timestamp: send.timestamp,
          serverTimestamp: send.serverTimestamp,
          urgent: send.urgent,
          content: t.own ? new Uint8Array(Buffer.concat([t.own, send.content])) : send.content,
        });
      }
      if (skipped.size) outcome.full.set(send.request, skipped);
    }
    this.db.storeEnvelopes(stored);
    return Promise.resolve(outcome);
  }

  page(
    accountId: string,
    deviceId: number,
    afterId: string,
    limit: number,
    maxBytes?: number,
  ): Promise<StoredEnvelope[]> {
    const rows = this.db
      .envelopesOf(accountId, deviceId)
      .filter((e) => Number(e.id) > Number(afterId))
      .slice(0, limit);
    if (maxBytes === undefined) return Promise.resolve(rows);
    let before = 0;
    return Promise.resolve(
      rows.filter((e) => {
        const fits = before < maxBytes;
        before += e.content.byteLength;
        return fits;
      }),
    );
  }

  byGuids(accountId: string, deviceId: number, guids: string[]): Promise<StoredEnvelope[]> {
    return Promise.resolve(this.db.envelopesOf(accountId, deviceId).filter((e) => guids.includes(e.guid)));
  }

  delete(keys: EnvelopeKey[]): Promise<Set<string>> {
    const deleted = new Set<string>();
    for (const k of keys) {
      const index = this.db.envelopes.findIndex(
        (e) => e.guid === k.guid && e.accountId === k.accountId && e.deviceId === k.deviceId,
      );
      if (index >= 0) {
        this.db.envelopes.splice(index, 1);
        deleted.add(envelopeKey(k));
      }
    }
    return Promise.resolve(deleted);
  }
}

export class InMemoryPushSubscriptionRepository implements Public<PushSubscriptionRepository> {
  constructor(private readonly db: InMemoryDatabase) {}

  upsert(accountId: string, deviceId: number, endpoint: string, p256dh: string, auth: string): Promise<boolean> {
    if (!this.db.device(accountId, deviceId)) return Promise.resolve(false);
    this.db.subscriptions.set(deviceKey(accountId, deviceId), {
      accountId,
      deviceId,
      endpoint,
      p256dh,
      auth,
      wokenAt: null,
      wokenUrgent: false,
    });
    return Promise.resolve(true);
  }

  get(accountId: string, deviceId: number): Promise<PushSubscriptionRecord | null> {
    const s = this.db.subscriptions.get(deviceKey(accountId, deviceId));
    return Promise.resolve(s ? { ...s } : null);
  }

  remove(accountId: string, deviceId: number): Promise<boolean> {
    return Promise.resolve(this.db.subscriptions.delete(deviceKey(accountId, deviceId)));
  }

  removeEndpoint(accountId: string, deviceId: number, endpoint: string): Promise<boolean> {
    const key = deviceKey(accountId, deviceId);
    if (this.db.subscriptions.get(key)?.endpoint !== endpoint) return Promise.resolve(false);
    return Promise.resolve(this.db.subscriptions.delete(key));
  }

  markWoken(accountId: string, deviceId: number, at: Date, urgent: boolean): Promise<void> {
    const s = this.db.subscriptions.get(deviceKey(accountId, deviceId));
    if (s) Object.assign(s, { wokenAt: at, wokenUrgent: urgent });
    return Promise.resolve();
  }

  clearWoken(accountId: string, deviceId: number): Promise<void> {
    const s = this.db.subscriptions.get(deviceKey(accountId, deviceId));
    if (s) Object.assign(s, { wokenAt: null, wokenUrgent: false });
    return Promise.resolve();
  }

  count(): Promise<number> {
    return Promise.resolve(this.db.subscriptions.size);
  }
}

export class InMemoryMailboxRepository implements Public<MailboxRepository> {
  constructor(private readonly db: InMemoryDatabase) {}

  totals(): Promise<{ envelopes: number; accounts: number; devices: number }> {
    return Promise.resolve({
      envelopes: this.db.envelopes.length,
      accounts: this.db.accounts.size,
      devices: this.db.devices.size,
    });
  }

  pending(accountId: string, deviceId: number): Promise<PendingSummary> {
    return Promise.resolve(summary(this.db.envelopesOf(accountId, deviceId)));
  }

  wakeContext(accountId: string, deviceId: number): Promise<WakeContext | null> {
    const s = this.db.subscriptions.get(deviceKey(accountId, deviceId));
    if (!s) return Promise.resolve(null);
    const waiting = this.db.envelopesOf(accountId, deviceId);
    const oldest = waiting[0];
    return Promise.resolve({
      subscription: {
        endpoint: s.endpoint,
        p256dh: s.p256dh,
        auth: s.auth,
        wokenAt: s.wokenAt,
        wokenUrgent: s.wokenUrgent,
      },
      pending: summary(waiting),
      oldest: oldest
        ? {
            guid: oldest.guid,
            type: oldest.type,
            sourceAccountId: oldest.sourceAccountId,
            sourceDeviceId: oldest.sourceDeviceId,
            timestamp: oldest.timestamp,
            serverTimestamp: oldest.serverTimestamp,
            content: oldest.content,
          }
        : null,
    });
  }

  awaitingWake(
    unwokenBefore: number,
    renotifyBefore: Date,
    limit: number,
  ): Promise<Array<{ accountId: string; deviceId: number }>> {
    const due = [...this.db.subscriptions.values()].filter((s) => {
      const waiting = this.db.envelopesOf(s.accountId, s.deviceId);
      if (s.wokenAt === null) return waiting.some((e) => e.serverTimestamp < unwokenBefore);
      const woken = s.wokenAt.getTime();
      return woken < renotifyBefore.getTime() && waiting.some((e) => e.serverTimestamp > woken);
    });
    return Promise.resolve(due.slice(0, limit).map(({ accountId, deviceId }) => ({ accountId, deviceId })));
  }

  purgeAcceptedBefore(before: number): Promise<number> {
    const expired = this.db.envelopes.filter((e) => e.serverTimestamp < before);
    for (const e of expired) this.db.envelopes.splice(this.db.envelopes.indexOf(e), 1);
    return Promise.resolve(expired.length);
  }

  /** Nothing to sweep: the rows of a send share one buffer, which goes with the last of them. */
  purgeOrphanPayloads(): Promise<number> {
    return Promise.resolve(0);
  }

  idleDevices(before: Date): Promise<{ devices: number; envelopes: number }> {
    const idle = [...this.db.devices.values()].filter((d) => d.lastSeenAt < before);
    const envelopes = idle.reduce((n, d) => n + this.db.envelopesOf(d.accountId, d.deviceId).length, 0);
    return Promise.resolve({ devices: idle.length, envelopes });
  }
}

function summary(waiting: StoredEnvelope[]): PendingSummary {
  const newest = (rows: StoredEnvelope[]): number | null =>
    rows.length ? Math.max(...rows.map((e) => e.serverTimestamp)) : null;
  return { count: waiting.length, newestAt: newest(waiting), newestUrgentAt: newest(waiting.filter((e) => e.urgent)) };
}
