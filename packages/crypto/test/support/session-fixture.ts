/**
 * Two parties of our implementation with in-memory stores, wired for unit tests of the session layer:
 * bundle publication, encryption and decryption by message type, and store snapshots for "no state change" checks.
 * The stores are the package's in-memory ones, extended only to log every write the library makes, so a snapshot
 * can be read through the public store interface (the stores keep their contents private).
 */
import * as C from '../../src/index.js';

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Every mutating store call, in order: a rejected input must add none. */
type WriteLog = string[];

class LoggedSessionStore extends C.InMemorySessionStore {
  constructor(private readonly log: WriteLog) {
    super();
  }
  override saveSession(name: C.ProtocolAddress, record: C.SessionRecord): Promise<void> {
    this.log.push(`saveSession ${name.toString()}`);
    return super.saveSession(name, record);
  }
}

class LoggedIdentityKeyStore extends C.InMemoryIdentityKeyStore {
  constructor(
    private readonly log: WriteLog,
    identity: C.IdentityKeyPair,
    registrationId: number,
  ) {
    super(identity, registrationId);
  }
  override saveIdentity(name: C.ProtocolAddress, key: C.PublicKey): Promise<C.IdentityChange> {
    this.log.push(`saveIdentity ${name.toString()}`);
    return super.saveIdentity(name, key);
  }
}

class LoggedPreKeyStore extends C.InMemoryPreKeyStore {
  constructor(private readonly log: WriteLog) {
    super();
  }
  override savePreKey(id: number, record: C.PreKeyRecord): Promise<void> {
    this.log.push(`savePreKey ${id}`);
    return super.savePreKey(id, record);
  }
  override removePreKey(id: number): Promise<void> {
    this.log.push(`removePreKey ${id}`);
    return super.removePreKey(id);
  }
}

class LoggedSignedPreKeyStore extends C.InMemorySignedPreKeyStore {
  constructor(private readonly log: WriteLog) {
    super();
  }
  override saveSignedPreKey(id: number, record: C.SignedPreKeyRecord): Promise<void> {
    this.log.push(`saveSignedPreKey ${id}`);
    return super.saveSignedPreKey(id, record);
  }
}

class LoggedKyberPreKeyStore extends C.InMemoryKyberPreKeyStore {
  /** The used-marks the store accepted, in order (the store itself does not reveal them). */
  readonly marks: string[] = [];
  constructor(private readonly log: WriteLog) {
    super();
  }
  override saveKyberPreKey(id: number, record: C.KyberPreKeyRecord): Promise<void> {
    this.log.push(`saveKyberPreKey ${id}`);
    return super.saveKyberPreKey(id, record);
  }
  /** Logged once the store accepted it: a refused mark (a reused base key) writes nothing. */
  override async markKyberPreKeyUsed(id: number, signedId: number, baseKey: C.PublicKey): Promise<void> {
    await super.markKyberPreKeyUsed(id, signedId, baseKey);
    this.log.push(`markKyberPreKeyUsed ${id}`);
    this.marks.push(`${id}:${signedId}:${hexOf(baseKey.serialize())}`);
  }
}

/** A record's bytes, or "absent" when the store reports it missing with the typed InvalidPreKeyId error. */
async function recordBytes(read: () => Promise<{ serialize(): Uint8Array }>): Promise<string> {
  try {
    return hexOf((await read()).serialize());
  } catch (e) {
    if (C.SignalClientError.is(e, C.ErrorCode.InvalidPreKeyId)) return 'absent';
    throw e;
  }
}

export class Peer {
  readonly identity: C.IdentityKeyPair;
  /** Every write the library made to this peer's stores. */
  readonly writes: WriteLog = [];
  readonly sessions = new LoggedSessionStore(this.writes);
  readonly identities: C.InMemoryIdentityKeyStore;
  readonly preKeys = new LoggedPreKeyStore(this.writes);
  readonly signedPreKeys = new LoggedSignedPreKeyStore(this.writes);
  readonly kyberPreKeys = new LoggedKyberPreKeyStore(this.writes);
  readonly address: C.ProtocolAddress;
  private nextId = 1;

  constructor(
    readonly uuid: string,
    readonly deviceId = 1,
    identity?: C.IdentityKeyPair,
  ) {
    this.identity = identity ?? C.IdentityKeyPair.generate();
    this.identities = new LoggedIdentityKeyStore(this.writes, this.identity, C.generateRegistrationId());
    this.address = C.ProtocolAddress.new(uuid, deviceId);
  }

  async bundle(withOneTime = true): Promise<C.PreKeyBundle> {
    const id = this.nextId++;
    const spk = C.PrivateKey.generate();
    const spkSig = this.identity.privateKey.sign(spk.getPublicKey().serialize());
    await this.signedPreKeys.saveSignedPreKey(id, C.SignedPreKeyRecord.new(id, 0, spk.getPublicKey(), spk, spkSig));
    const kem = C.KEMKeyPair.generate();
    const kemSig = this.identity.privateKey.sign(kem.getPublicKey().serialize());
    await this.kyberPreKeys.saveKyberPreKey(id, C.KyberPreKeyRecord.new(id, 0, kem, kemSig));
    let pk: C.PrivateKey | null = null;
    if (withOneTime) {
      pk = C.PrivateKey.generate();
      await this.preKeys.savePreKey(id, C.PreKeyRecord.new(id, pk.getPublicKey(), pk));
    }
    return C.PreKeyBundle.new(
      await this.identities.getLocalRegistrationId(),
      this.deviceId,
      pk ? id : null,
      pk ? pk.getPublicKey() : null,
      id,
      spk.getPublicKey(),
      spkSig,
      this.identity.publicKey,
      id,
      kem.getPublicKey(),
      kemSig,
    );
  }

  async encrypt(to: Peer, text: string, now?: Date): Promise<C.CiphertextMessage> {
    return C.signalEncrypt(
      new TextEncoder().encode(text),
      to.address,
      this.address,
      this.sessions,
      this.identities,
      now,
    );
  }

  async decrypt(from: Peer, ct: { type(): number; serialize(): Uint8Array }, as?: C.ProtocolAddress): Promise<string> {
    const local = as ?? this.address;
    const bytes = ct.serialize();
    const out =
      ct.type() === Number(C.CiphertextMessageType.PreKey)
        ? await C.signalDecryptPreKey(
            C.PreKeySignalMessage.deserialize(bytes),
            from.address,
            local,
            this.sessions,
            this.identities,
            this.preKeys,
            this.signedPreKeys,
            this.kyberPreKeys,
          )
        : await C.signalDecrypt(
            C.SignalMessage.deserialize(bytes),
            from.address,
            local,
            this.sessions,
            this.identities,
          );
    return new TextDecoder().decode(out);
  }

  /** This peer's session record with `of`, as hex ("none" without one). */
  async snapshot(of: Peer): Promise<string> {
    const r = await this.sessions.getSession(of.address);
    return r ? hexOf(r.serialize()) : 'none';
  }

  /**
   * Every store, as comparable text read through the store interface: the session record and saved identity for
   * each of `peers`, every one-time, signed and Kyber prekey record this peer ever published (or "absent"), the
   * Kyber used-marks, and the number of writes made so far.
   */
  async snapshotAll(peers: readonly Peer[]): Promise<string> {
    const parts: string[] = [];
    for (const p of peers) {
      parts.push(`session ${p.address.toString()}: ${await this.snapshot(p)}`);
      const id = await this.identities.getIdentity(p.address);
      parts.push(`identity ${p.address.toString()}: ${id ? hexOf(id.serialize()) : 'none'}`);
    }
    for (let id = 1; id < this.nextId; id++) {
      parts.push(`prekey ${id}: ${await recordBytes(() => this.preKeys.getPreKey(id))}`);
      parts.push(`signed ${id}: ${await recordBytes(() => this.signedPreKeys.getSignedPreKey(id))}`);
      parts.push(`kyber ${id}: ${await recordBytes(() => this.kyberPreKeys.getKyberPreKey(id))}`);
    }
    parts.push(`kyber used: ${this.kyberPreKeys.marks.join(',')}`);
    parts.push(`writes: ${this.writes.length}`);
    return parts.join('\n');
  }
}

export const UUIDS = [
  '9d0652a3-dcc3-4d11-975f-74d61598733f',
  '4fcfe887-a600-40cd-9ab7-fd2a695e9981',
  'b25387a9-3f9e-4a8e-a8d4-4b3a9d0a1c11',
  'e1b0a63c-6bd3-4c1c-9f5e-2f8d6a3b7c20',
] as const;

export function bytesMessage(type: number, bytes: Uint8Array): { type(): number; serialize(): Uint8Array } {
  return { type: () => type, serialize: () => bytes };
}
