/**
 * In-memory implementations of every store, for tests, tools and ephemeral clients. Records are kept as their
 * serialized bytes, so what a caller reads back is always a fresh copy. Trust is "trust on first use": a new
 * identity is trusted, a changed one is not until saved. Kyber prekeys are treated as last-resort keys: each
 * (kyber id, signed prekey id, base key) may be used once, a reuse is refused as libsignal's store refuses it.
 * Contents are `#private` and never print (redaction.ts); read them through the store methods.
 */
import type { ProtocolAddress } from '../address.js';
import { ErrorCode, fail } from '../errors.js';
import type { IdentityKeyPair, PrivateKey, PublicKey } from '../keys/curve.js';
import { KyberPreKeyRecord, PreKeyRecord, SignedPreKeyRecord } from '../records.js';
import type { PublicFacts, RedactedJson } from '../redaction.js';
import { INSPECT_CUSTOM, REDACTED, describeRedacted, redactedJson } from '../redaction.js';
import { SessionRecord } from '../session/session-record.js';
import type { Direction } from './stores.js';
import {
  IdentityChange,
  IdentityKeyStore,
  KyberPreKeyStore,
  PreKeyStore,
  SessionStore,
  SignedPreKeyStore,
} from './stores.js';

export class InMemorySessionStore extends SessionStore {
  /** address → serialized record; `#private` (records hold session keys). */
  readonly #sessions = new Map<string, Uint8Array>();

  saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void> {
    this.#sessions.set(name.toString(), record.serialize());
    return Promise.resolve();
  }

  getSession(name: ProtocolAddress): Promise<SessionRecord | null> {
    const b = this.#sessions.get(name.toString());
    return Promise.resolve(b ? SessionRecord.deserialize(b) : null);
  }

  getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    return Promise.resolve(
      addresses.map((a) => {
        const b = this.#sessions.get(a.toString());
        if (!b) fail(ErrorCode.SessionNotFound, 'SessionStore_GetExistingSessions', `no session for ${a.toString()}`);
        return SessionRecord.deserialize(b);
      }),
    );
  }

  /** Forgets the session of one address (e.g. to simulate a lost device). */
  removeSession(name: ProtocolAddress): void {
    this.#sessions.delete(name.toString());
  }

  toJSON(): RedactedJson {
    return redactedJson('InMemorySessionStore', { sessions: this.#sessions.size });
  }

  override toString(): string {
    return describeRedacted('InMemorySessionStore', { sessions: this.#sessions.size });
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }
}

export class InMemoryIdentityKeyStore extends IdentityKeyStore {
  readonly #identities = new Map<string, PublicKey>();
  readonly #identityKeyPair: IdentityKeyPair;
  readonly #registrationId: number;

  constructor(identityKeyPair: IdentityKeyPair, registrationId: number) {
    super();
    this.#identityKeyPair = identityKeyPair;
    this.#registrationId = registrationId;
  }

  getIdentityKey(): Promise<PrivateKey> {
    return Promise.resolve(this.#identityKeyPair.privateKey);
  }

  override getIdentityKeyPair(): Promise<IdentityKeyPair> {
    return Promise.resolve(this.#identityKeyPair);
  }

  getLocalRegistrationId(): Promise<number> {
    return Promise.resolve(this.#registrationId);
  }

  saveIdentity(name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const k = name.toString();
    const existing = this.#identities.get(k);
    this.#identities.set(k, key);
    return Promise.resolve(
      existing && !existing.equals(key) ? IdentityChange.ReplacedExisting : IdentityChange.NewOrUnchanged,
    );
  }

  isTrustedIdentity(name: ProtocolAddress, key: PublicKey, _direction: Direction): Promise<boolean> {
    const existing = this.#identities.get(name.toString());
    return Promise.resolve(!existing || existing.equals(key));
  }

  getIdentity(name: ProtocolAddress): Promise<PublicKey | null> {
    return Promise.resolve(this.#identities.get(name.toString()) ?? null);
  }

  toJSON(): RedactedJson {
    return redactedJson('InMemoryIdentityKeyStore', this.facts());
  }

  override toString(): string {
    return describeRedacted('InMemoryIdentityKeyStore', this.facts());
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }

  private facts(): PublicFacts {
    return { identities: this.#identities.size, identityKeyPair: REDACTED };
  }
}

export class InMemoryPreKeyStore extends PreKeyStore {
  /** id → serialized record; `#private` (records hold private keys). */
  readonly #keys = new Map<number, Uint8Array>();

  savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    this.#keys.set(id, record.serialize());
    return Promise.resolve();
  }

  getPreKey(id: number): Promise<PreKeyRecord> {
    const b = this.#keys.get(id);
    if (!b) fail(ErrorCode.InvalidPreKeyId, 'PreKeyStore_GetPreKey', 'invalid prekey identifier');
    return Promise.resolve(PreKeyRecord.deserialize(b));
  }

  removePreKey(id: number): Promise<void> {
    this.#keys.delete(id);
    return Promise.resolve();
  }

  toJSON(): RedactedJson {
    return redactedJson('InMemoryPreKeyStore', { preKeys: this.#keys.size });
  }

  override toString(): string {
    return describeRedacted('InMemoryPreKeyStore', { preKeys: this.#keys.size });
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }
}

export class InMemorySignedPreKeyStore extends SignedPreKeyStore {
  /** id → serialized record; `#private` (records hold private keys). */
  readonly #keys = new Map<number, Uint8Array>();

  saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    this.#keys.set(id, record.serialize());
    return Promise.resolve();
  }

  getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    const b = this.#keys.get(id);
    if (!b) fail(ErrorCode.InvalidPreKeyId, 'SignedPreKeyStore_GetSignedPreKey', 'invalid signed prekey identifier');
    return Promise.resolve(SignedPreKeyRecord.deserialize(b));
  }

  toJSON(): RedactedJson {
    return redactedJson('InMemorySignedPreKeyStore', { signedPreKeys: this.#keys.size });
  }

  override toString(): string {
    return describeRedacted('InMemorySignedPreKeyStore', { signedPreKeys: this.#keys.size });
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }
}

export class InMemoryKyberPreKeyStore extends KyberPreKeyStore {
  /** id → serialized record; `#private` (records hold secret keys). */
  readonly #keys = new Map<number, Uint8Array>();
  readonly #used = new Set<string>();

  saveKyberPreKey(kyberPreKeyId: number, record: KyberPreKeyRecord): Promise<void> {
    this.#keys.set(kyberPreKeyId, record.serialize());
    return Promise.resolve();
  }

  getKyberPreKey(kyberPreKeyId: number): Promise<KyberPreKeyRecord> {
    const b = this.#keys.get(kyberPreKeyId);
    if (!b) fail(ErrorCode.InvalidPreKeyId, 'KyberPreKeyStore_GetKyberPreKey', 'invalid kyber prekey identifier');
    return Promise.resolve(KyberPreKeyRecord.deserialize(b));
  }

  markKyberPreKeyUsed(kyberPreKeyId: number, signedPreKeyId: number, baseKey: PublicKey): Promise<void> {
    const k = `${kyberPreKeyId}:${signedPreKeyId}:${Array.from(baseKey.getPublicKeyBytes(), (b) => b.toString(16).padStart(2, '0')).join('')}`;
    if (this.#used.has(k)) fail(ErrorCode.InvalidMessage, 'KyberPreKeyStore_MarkKyberPreKeyUsed', 'reused base key');
    this.#used.add(k);
    return Promise.resolve();
  }

  toJSON(): RedactedJson {
    return redactedJson('InMemoryKyberPreKeyStore', this.facts());
  }

  override toString(): string {
    return describeRedacted('InMemoryKyberPreKeyStore', this.facts());
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }

  private facts(): PublicFacts {
    return { kyberPreKeys: this.#keys.size, usedBaseKeys: this.#used.size };
  }
}
