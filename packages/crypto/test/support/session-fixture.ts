/**
 * Two parties of our implementation with in-memory stores, wired for unit tests of the session layer:
 * bundle publication, encryption and decryption by message type, and store snapshots for "no state change" checks.
 */
import * as C from '../../src/index.js';

export class Peer {
  readonly identity: C.IdentityKeyPair;
  readonly sessions = new C.InMemorySessionStore();
  readonly identities: C.InMemoryIdentityKeyStore;
  readonly preKeys = new C.InMemoryPreKeyStore();
  readonly signedPreKeys = new C.InMemorySignedPreKeyStore();
  readonly kyberPreKeys = new C.InMemoryKyberPreKeyStore();
  readonly address: C.ProtocolAddress;
  private nextId = 1;

  constructor(
    readonly uuid: string,
    readonly deviceId = 1,
    identity?: C.IdentityKeyPair,
  ) {
    this.identity = identity ?? C.IdentityKeyPair.generate();
    this.identities = new C.InMemoryIdentityKeyStore(this.identity, C.generateRegistrationId());
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

  async snapshot(of: Peer): Promise<string> {
    const r = await this.sessions.getSession(of.address);
    return r ? Buffer.from(r.serialize()).toString('hex') : 'none';
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
