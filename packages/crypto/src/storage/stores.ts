/**
 * The store interfaces of libsignal-client, as abstract classes with the same method names and argument order,
 * plus the `Direction` and `IdentityChange` enums. Applications persist these however they like; the session layer
 * only calls these methods. No implementation here (see in-memory.ts).
 */
import type { ProtocolAddress } from '../address.js';
import { IdentityKeyPair } from '../keys/curve.js';
import type { PrivateKey, PublicKey } from '../keys/curve.js';
import type { KyberPreKeyRecord, PreKeyRecord, SignedPreKeyRecord } from '../records.js';
import type { SessionRecord } from '../session/session-record.js';

export enum Direction {
  Sending = 0,
  Receiving = 1,
}

export enum IdentityChange {
  NewOrUnchanged = 0,
  ReplacedExisting = 1,
}

export abstract class SessionStore {
  abstract saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void>;
  abstract getSession(name: ProtocolAddress): Promise<SessionRecord | null>;
  abstract getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]>;
}

export abstract class IdentityKeyStore {
  abstract getIdentityKey(): Promise<PrivateKey>;
  async getIdentityKeyPair(): Promise<IdentityKeyPair> {
    const key = await this.getIdentityKey();
    return new IdentityKeyPair(key.getPublicKey(), key);
  }
  abstract getLocalRegistrationId(): Promise<number>;
  abstract saveIdentity(name: ProtocolAddress, key: PublicKey): Promise<IdentityChange>;
  abstract isTrustedIdentity(name: ProtocolAddress, key: PublicKey, direction: Direction): Promise<boolean>;
  abstract getIdentity(name: ProtocolAddress): Promise<PublicKey | null>;
}

export abstract class PreKeyStore {
  abstract savePreKey(id: number, record: PreKeyRecord): Promise<void>;
  abstract getPreKey(id: number): Promise<PreKeyRecord>;
  abstract removePreKey(id: number): Promise<void>;
}

export abstract class SignedPreKeyStore {
  abstract saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void>;
  abstract getSignedPreKey(id: number): Promise<SignedPreKeyRecord>;
}

export abstract class KyberPreKeyStore {
  abstract saveKyberPreKey(kyberPreKeyId: number, record: KyberPreKeyRecord): Promise<void>;
  abstract getKyberPreKey(kyberPreKeyId: number): Promise<KyberPreKeyRecord>;
  abstract markKyberPreKeyUsed(kyberPreKeyId: number, signedPreKeyId: number, baseKey: PublicKey): Promise<void>;
}
