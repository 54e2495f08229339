/**
 * In-memory libsignal protocol stores for tests that run a real Signal session through the server (the canary
 * test). Test-only: no persistence, trust on first use.
 */
import * as signal from '@signalapp/libsignal-client';

const key = (address: signal.ProtocolAddress): string => `${address.name()}.${address.deviceId()}`;

export class MemoryStores {
  readonly sessions = new Map<string, signal.SessionRecord>();
  readonly identities = new Map<string, signal.PublicKey>();
  readonly preKeys = new Map<number, signal.PreKeyRecord>();
  readonly signedPreKeys = new Map<number, signal.SignedPreKeyRecord>();
  readonly kyberPreKeys = new Map<number, signal.KyberPreKeyRecord>();

  constructor(
    readonly identity: signal.IdentityKeyPair,
    readonly registrationId: number,
  ) {}

  readonly sessionStore = new (class extends signal.SessionStore {
    constructor(private readonly outer: MemoryStores) {
      super();
    }
    saveSession(name: signal.ProtocolAddress, record: signal.SessionRecord): Promise<void> {
      this.outer.sessions.set(key(name), record);
      return Promise.resolve();
    }
    getSession(name: signal.ProtocolAddress): Promise<signal.SessionRecord | null> {
      return Promise.resolve(this.outer.sessions.get(key(name)) ?? null);
    }
    getExistingSessions(addresses: signal.ProtocolAddress[]): Promise<signal.SessionRecord[]> {
      return Promise.resolve(addresses.map((a) => this.outer.sessions.get(key(a))).filter((r) => r !== undefined));
    }
  })(this);

  readonly identityStore = new (class extends signal.IdentityKeyStore {
    constructor(private readonly outer: MemoryStores) {
      super();
    }
    getIdentityKey(): Promise<signal.PrivateKey> {
      return Promise.resolve(this.outer.identity.privateKey);
    }
    getLocalRegistrationId(): Promise<number> {
      return Promise.resolve(this.outer.registrationId);
    }
    saveIdentity(name: signal.ProtocolAddress, k: signal.PublicKey): Promise<signal.IdentityChange> {
      this.outer.identities.set(key(name), k);
      return Promise.resolve(signal.IdentityChange.NewOrUnchanged);
    }
    isTrustedIdentity(): Promise<boolean> {
      return Promise.resolve(true);
    }
    getIdentity(name: signal.ProtocolAddress): Promise<signal.PublicKey | null> {
      return Promise.resolve(this.outer.identities.get(key(name)) ?? null);
    }
  })(this);

  readonly preKeyStore = new (class extends signal.PreKeyStore {
    constructor(private readonly outer: MemoryStores) {
      super();
    }
    savePreKey(id: number, record: signal.PreKeyRecord): Promise<void> {
      this.outer.preKeys.set(id, record);
      return Promise.resolve();
    }
    getPreKey(id: number): Promise<signal.PreKeyRecord> {
      const record = this.outer.preKeys.get(id);
      return record ? Promise.resolve(record) : Promise.reject(new Error(`no prekey ${id}`));
    }
    removePreKey(id: number): Promise<void> {
      this.outer.preKeys.delete(id);
      return Promise.resolve();
    }
  })(this);

  readonly signedPreKeyStore = new (class extends signal.SignedPreKeyStore {
    constructor(private readonly outer: MemoryStores) {
      super();
    }
    saveSignedPreKey(id: number, record: signal.SignedPreKeyRecord): Promise<void> {
      this.outer.signedPreKeys.set(id, record);
      return Promise.resolve();
    }
    getSignedPreKey(id: number): Promise<signal.SignedPreKeyRecord> {
      const record = this.outer.signedPreKeys.get(id);
      return record ? Promise.resolve(record) : Promise.reject(new Error(`no signed prekey ${id}`));
    }
  })(this);

  readonly kyberPreKeyStore = new (class extends signal.KyberPreKeyStore {
    constructor(private readonly outer: MemoryStores) {
      super();
    }
    saveKyberPreKey(id: number, record: signal.KyberPreKeyRecord): Promise<void> {
      this.outer.kyberPreKeys.set(id, record);
      return Promise.resolve();
    }
    getKyberPreKey(id: number): Promise<signal.KyberPreKeyRecord> {
      const record = this.outer.kyberPreKeys.get(id);
      return record ? Promise.resolve(record) : Promise.reject(new Error(`no kyber prekey ${id}`));
    }
    markKyberPreKeyUsed(): Promise<void> {
      return Promise.resolve();
    }
  })(this);
}
