/**
 * A protocol zone: the Signal stores (@cove/crypto's SessionStore, IdentityKeyStore, PreKeyStore, SignedPreKeyStore,
 * KyberPreKeyStore, SenderKeyStore) as thin adapters over platform storage, with reads going to storage and writes buffered in
 * memory. One decryption or encryption runs against a zone; its buffered writes are then committed in ONE storage
 * batch together with the operation's other effects (the inbox entry, the processed GUID), so a decryption and its
 * state update commit together or not at all (read-compute-write). Discarding the zone discards every change.
 * Identity changes are collected for the caller to report after the commit. Callers serialize zones per peer.
 * Trust policy: first use is trusted; a changed key is accepted but marked unverified (and blocked for sending if
 * the old key had been verified). This module does no network I/O.
 */
import {
  Direction,
  IdentityChange,
  IdentityKeyPair,
  IdentityKeyStore,
  KyberPreKeyRecord,
  KyberPreKeyStore,
  PreKeyRecord,
  PreKeyStore,
  PublicKey,
  SenderKeyRecord,
  SenderKeyStore,
  SessionRecord,
  SessionStore,
  SignedPreKeyRecord,
  SignedPreKeyStore,
  equalBytes,
} from '@cove/crypto';
import type { ProtocolAddress, PrivateKey } from '@cove/crypto';

import type { DeleteOp, KeyValueStorage, PutOp, TableName, WriteOp } from './platform.js';
import type {
  AccountRecord,
  IdentityEntry,
  KyberPreKeyEntry,
  PreKeyEntry,
  SenderKeyEntry,
  SessionEntry,
  SignedPreKeyEntry,
  TableRows,
} from './tables.js';
import { kyberUsedKey, pad, senderKeyRecordKey, sessionKey } from './tables.js';

export type IdentityChangeNotice = {
  accountId: string;
  previousKey: Uint8Array;
  newKey: Uint8Array;
  wasVerified: boolean;
};

/** Raised when a store is asked for a key it does not have. */
export class MissingKeyError extends Error {
  override readonly name = 'MissingKeyError';
}

/** The buffered state shared by the five stores of one zone. */
export class ProtocolZone {
  private readonly writes = new Map<string, WriteOp>();
  readonly identityChanges: IdentityChangeNotice[] = [];
  /** Prekey ids removed in this zone (a PreKey message consumed them). */
  readonly consumedPreKeys: number[] = [];
  /**
   * The identity key each address's session was last saved with in this zone (sessionKey → serialized key): after a
   * decryption, the key of the device that sent; after an encryption, the key the message was encrypted to.
   */
  readonly usedIdentities = new Map<string, Uint8Array>();
  /** Identity keys an encryption in this zone must use (sessionKey → serialized key); any other is untrusted. */
  readonly pinnedIdentities = new Map<string, Uint8Array>();

  /** Rows this zone read from storage ("<table>\0<key>" → the read), each read at most once per zone. */
  private readonly stored = new Map<string, Promise<TableRows[TableName] | undefined>>();

  readonly sessionStore: ZoneSessionStore;
  readonly identityStore: ZoneIdentityStore;
  readonly preKeyStore: ZonePreKeyStore;
  readonly signedPreKeyStore: ZoneSignedPreKeyStore;
  readonly kyberPreKeyStore: ZoneKyberPreKeyStore;
  readonly senderKeyStore: ZoneSenderKeyStore;

  constructor(
    readonly storage: KeyValueStorage,
    readonly account: AccountRecord,
    readonly now: () => number,
  ) {
    this.sessionStore = new ZoneSessionStore(this);
    this.identityStore = new ZoneIdentityStore(this);
    this.preKeyStore = new ZonePreKeyStore(this);
    this.signedPreKeyStore = new ZoneSignedPreKeyStore(this);
    this.kyberPreKeyStore = new ZoneKyberPreKeyStore(this);
    this.senderKeyStore = new ZoneSenderKeyStore(this);
  }

  /**
   * A row as this zone will commit it: its own pending write first, else what storage held when this zone first
   * read it. One encryption or decryption asks for the same session, identity and account rows several times; the
   * zone runs under the peer's lock, so a second storage read could only return the same row, at the price of
   * another storage round trip (on a browser, an IndexedDB transaction). Every caller gets its own copy.
   */
  async read<T extends TableName>(table: T, key: string): Promise<TableRows[T] | undefined> {
    const cell = `${table}\u0000${key}`;
    const pending = this.writes.get(cell);
    // A pending write under "<table>\0<key>" was made by put() below for that same table, so its value has that
    // table's row type (the map's value type cannot say so).
    if (pending) return pending.op === 'put' ? (structuredClone(pending.value) as TableRows[T]) : undefined;
    // The cell names the table, so the remembered row has that table's row type.
    const value = (await this.load(table, key)) as TableRows[T] | undefined;
    return value === undefined ? undefined : structuredClone(value);
  }

  /** The storage read of a row, made once per zone and remembered (a failed one is not: it is asked again). */
  private load(table: TableName, key: string): Promise<TableRows[TableName] | undefined> {
    const cell = `${table}\u0000${key}`;
    let stored = this.stored.get(cell);
    if (!stored) {
      stored = this.storage.get(table, key);
      this.stored.set(cell, stored);
      stored.catch(() => this.stored.delete(cell));
    }
    return stored;
  }

  /**
   * Starts the storage reads an encryption or decryption with `accountId` will make — the peer's identity and the
   * session of each of `deviceIds` — without waiting for them, so that they share one storage round trip (on a
   * browser, one IndexedDB transaction) with what the caller reads at the same moment, instead of following one
   * another inside the protocol code (session first, identity after it). The answers are what `read` would have
   * fetched later under the same peer lock; a failed one is simply read again when asked for.
   */
  prefetch(accountId: string, deviceIds: readonly number[]): void {
    for (const deviceId of deviceIds)
      void this.load('sessions', sessionKey(accountId, deviceId)).catch(() => undefined);
    void this.load('identities', accountId).catch(() => undefined);
  }

  put<T extends TableName>(table: T, key: string, value: TableRows[T]): void {
    const op: PutOp<T> = { op: 'put', table, key, value };
    // Every PutOp<T> is a WriteOp; TypeScript cannot widen one whose table is still generic.
    this.writes.set(`${table}\u0000${key}`, op as WriteOp);
  }

  delete<T extends TableName>(table: T, key: string): void {
    const op: DeleteOp<T> = { op: 'delete', table, key };
    this.writes.set(`${table}\u0000${key}`, op as WriteOp);
  }

  /** The buffered writes, to be committed with the rest of the operation's batch. */
  operations(): WriteOp[] {
    return [...this.writes.values()];
  }
}

export class ZoneSessionStore extends SessionStore {
  constructor(private readonly zone: ProtocolZone) {
    super();
  }

  override saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void> {
    const entry: SessionEntry = { record: record.serialize(), updatedAt: this.zone.now() };
    this.zone.put('sessions', sessionKey(name.name(), name.deviceId()), entry);
    return Promise.resolve();
  }

  override async getSession(name: ProtocolAddress): Promise<SessionRecord | null> {
    const entry = await this.zone.read('sessions', sessionKey(name.name(), name.deviceId()));
    return entry ? SessionRecord.deserialize(new Uint8Array(entry.record)) : null;
  }

  override async getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    const records: SessionRecord[] = [];
    for (const address of addresses) {
      const record = await this.getSession(address);
      if (!record) throw new MissingKeyError(`no session for ${address.toString()}`);
      records.push(record);
    }
    return records;
  }

  /** Forgets the session with one device (a stale or removed device, or a reset). */
  deleteSession(accountId: string, deviceId: number): void {
    this.zone.delete('sessions', sessionKey(accountId, deviceId));
  }
}

export class ZoneIdentityStore extends IdentityKeyStore {
  constructor(private readonly zone: ProtocolZone) {
    super();
  }

  private keyPair(): IdentityKeyPair {
    return IdentityKeyPair.deserialize(new Uint8Array(this.zone.account.identityKeyPair));
  }

  override getIdentityKey(): Promise<PrivateKey> {
    return Promise.resolve(this.keyPair().privateKey);
  }

  override getIdentityKeyPair(): Promise<IdentityKeyPair> {
    return Promise.resolve(this.keyPair());
  }

  override getLocalRegistrationId(): Promise<number> {
    return Promise.resolve(this.zone.account.registrationId);
  }

  override async saveIdentity(name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const accountId = name.name();
    const serialized = key.serialize();
    this.zone.usedIdentities.set(sessionKey(accountId, name.deviceId()), serialized);
    const existing = await this.zone.read('identities', accountId);
    const now = this.zone.now();
    if (!existing) {
      const entry: IdentityEntry = {
        publicKey: serialized,
        trust: 'trusted-first-use',
        firstSeenAt: now,
        changedAt: null,
        blocked: false,
      };
      this.zone.put('identities', accountId, entry);
      return IdentityChange.NewOrUnchanged;
    }
    if (equalBytes(new Uint8Array(existing.publicKey), serialized)) return IdentityChange.NewOrUnchanged;
    const wasVerified = existing.trust === 'verified';
    const entry: IdentityEntry = {
      publicKey: serialized,
      trust: 'unverified',
      firstSeenAt: existing.firstSeenAt,
      changedAt: now,
      blocked: wasVerified || existing.blocked,
    };
    this.zone.put('identities', accountId, entry);
    this.zone.identityChanges.push({
      accountId,
      previousKey: new Uint8Array(existing.publicKey),
      newKey: serialized,
      wasVerified,
    });
    return IdentityChange.ReplacedExisting;
  }

  override async isTrustedIdentity(name: ProtocolAddress, key: PublicKey, direction: Direction): Promise<boolean> {
    // Our own other devices hold our identity key: a sibling under any other key (one a server added) gets nothing.
    if (name.name() === this.zone.account.accountId)
      return equalBytes(this.keyPair().publicKey.serialize(), key.serialize());
    if (direction === Direction.Receiving) return true;
    const pinned = this.zone.pinnedIdentities.get(sessionKey(name.name(), name.deviceId()));
    if (pinned && !equalBytes(pinned, key.serialize())) return false;
    const existing = await this.zone.read('identities', name.name());
    if (!existing) return true;
    if (equalBytes(new Uint8Array(existing.publicKey), key.serialize())) return !existing.blocked;
    return existing.trust !== 'verified' && !existing.blocked;
  }

  override async getIdentity(name: ProtocolAddress): Promise<PublicKey | null> {
    const existing = await this.zone.read('identities', name.name());
    return existing ? PublicKey.deserialize(new Uint8Array(existing.publicKey)) : null;
  }
}

export class ZonePreKeyStore extends PreKeyStore {
  constructor(private readonly zone: ProtocolZone) {
    super();
  }

  override savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    const entry: PreKeyEntry = { record: record.serialize(), createdAt: this.zone.now() };
    this.zone.put('preKeys', pad(id, 8), entry);
    return Promise.resolve();
  }

  override async getPreKey(id: number): Promise<PreKeyRecord> {
    const entry = await this.zone.read('preKeys', pad(id, 8));
    if (!entry) throw new MissingKeyError(`no prekey ${id}`);
    return PreKeyRecord.deserialize(new Uint8Array(entry.record));
  }

  override removePreKey(id: number): Promise<void> {
    this.zone.delete('preKeys', pad(id, 8));
    this.zone.consumedPreKeys.push(id);
    return Promise.resolve();
  }
}

export class ZoneSignedPreKeyStore extends SignedPreKeyStore {
  constructor(private readonly zone: ProtocolZone) {
    super();
  }

  override saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    const entry: SignedPreKeyEntry = { record: record.serialize(), createdAt: this.zone.now(), retiredAt: null };
    this.zone.put('signedPreKeys', pad(id, 8), entry);
    return Promise.resolve();
  }

  override async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    const entry = await this.zone.read('signedPreKeys', pad(id, 8));
    if (!entry) throw new MissingKeyError(`no signed prekey ${id}`);
    return SignedPreKeyRecord.deserialize(new Uint8Array(entry.record));
  }
}

export class ZoneKyberPreKeyStore extends KyberPreKeyStore {
  constructor(private readonly zone: ProtocolZone) {
    super();
  }

  override saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
    const entry: KyberPreKeyEntry = {
      record: record.serialize(),
      createdAt: this.zone.now(),
      lastResort: false,
      retiredAt: null,
    };
    this.zone.put('kyberPreKeys', pad(id, 8), entry);
    return Promise.resolve();
  }

  override async getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
    const entry = await this.zone.read('kyberPreKeys', pad(id, 8));
    if (!entry) throw new MissingKeyError(`no Kyber prekey ${id}`);
    return KyberPreKeyRecord.deserialize(new Uint8Array(entry.record));
  }

  /** One-time Kyber keys are deleted once used; a last-resort key records the base key so it is never reused. */
  override async markKyberPreKeyUsed(id: number, signedPreKeyId: number, baseKey: PublicKey): Promise<void> {
    const entry = await this.zone.read('kyberPreKeys', pad(id, 8));
    if (!entry) throw new MissingKeyError(`no Kyber prekey ${id}`);
    if (!entry.lastResort) {
      this.zone.delete('kyberPreKeys', pad(id, 8));
      return;
    }
    const usedKey = kyberUsedKey(id, signedPreKeyId, baseKey.serialize());
    if (await this.zone.read('kyberPreKeysUsed', usedKey))
      throw new Error('reused base key with a last-resort Kyber prekey');
    this.zone.put('kyberPreKeysUsed', usedKey, { at: this.zone.now() });
  }
}

/** Group members' sender-key chains (and our own), by sender address and distribution id (table `senderKeys`). */
export class ZoneSenderKeyStore extends SenderKeyStore {
  constructor(private readonly zone: ProtocolZone) {
    super();
  }

  override saveSenderKey(sender: ProtocolAddress, distributionId: string, record: SenderKeyRecord): Promise<void> {
    const entry: SenderKeyEntry = { record: record.serialize(), updatedAt: this.zone.now() };
    this.zone.put('senderKeys', senderKeyRecordKey(sender.name(), sender.deviceId(), distributionId), entry);
    return Promise.resolve();
  }

  override async getSenderKey(sender: ProtocolAddress, distributionId: string): Promise<SenderKeyRecord | null> {
    const entry = await this.zone.read(
      'senderKeys',
      senderKeyRecordKey(sender.name(), sender.deviceId(), distributionId),
    );
    // Rows under "r/" are records; the other prefixes of the table hold other shapes.
    return entry && 'record' in entry ? SenderKeyRecord.deserialize(new Uint8Array(entry.record)) : null;
  }

  /** Forgets a sender device's chain for one distribution id (a removed member, a replaced key). */
  deleteSenderKey(accountId: string, deviceId: number, distributionId: string): void {
    this.zone.delete('senderKeys', senderKeyRecordKey(accountId, deviceId, distributionId));
  }
}
