/**
 * Test harness for the interop matrix: one `Party` type that runs on either implementation (ours or
 * libsignal-client), with stores written only against the shared API (abstract store classes, record
 * serialize/deserialize), so the same scenario code drives both. Everything crosses between parties as bytes.
 */
/* eslint-disable @typescript-eslint/require-await -- the store interface is async; these in-memory bodies have nothing to await */
import type * as ours from '../../src/index.js';

export type Impl = typeof ours;
export type Msg = { type: number; bytes: Uint8Array };

const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * Stores written once against the shared API; each persists records as their serialized bytes, except that a
 * session store may be switched to keep the record objects (`keepObjects`), for scenarios that send tens of
 * thousands of messages. Snapshots still serialize, so a record changed in place would show.
 */
export function makeStores(impl: Impl, identity: ours.IdentityKeyPair, registrationId: number) {
  class Sessions extends impl.SessionStore {
    readonly objects = new Map<string, ours.SessionRecord>();
    readonly bytes = new Map<string, Uint8Array>();
    keepObjects = false;
    get data(): Map<string, Uint8Array> {
      const all = new Map(this.bytes);
      for (const [k, r] of this.objects) all.set(k, r.serialize());
      return all;
    }
    clear(): void {
      this.objects.clear();
      this.bytes.clear();
    }
    /** Stores the kept record objects as bytes and stops keeping objects: the next load deserializes. */
    flush(): void {
      for (const [k, r] of this.objects) this.bytes.set(k, r.serialize());
      this.objects.clear();
      this.keepObjects = false;
    }
    async saveSession(name: ours.ProtocolAddress, record: ours.SessionRecord) {
      if (this.keepObjects) this.objects.set(name.toString(), record);
      else this.bytes.set(name.toString(), record.serialize());
    }
    async getSession(name: ours.ProtocolAddress) {
      const o = this.objects.get(name.toString());
      if (o) return o;
      const b = this.bytes.get(name.toString());
      return b ? impl.SessionRecord.deserialize(b) : null;
    }
    async getExistingSessions(addresses: ours.ProtocolAddress[]) {
      return addresses.map((a) => impl.SessionRecord.deserialize(this.data.get(a.toString())!));
    }
  }
  class Identities extends impl.IdentityKeyStore {
    readonly known = new Map<string, ours.PublicKey>();
    /**
     * Trust every identity on receive (as Signal's apps do: a changed key is shown to the user, not refused);
     * sending stays trust-on-first-use. Off by default.
     */
    trustOnReceive = false;
    async getIdentityKey() {
      return identity.privateKey;
    }
    override async getIdentityKeyPair() {
      return identity;
    }
    async getLocalRegistrationId() {
      return registrationId;
    }
    async saveIdentity(name: ours.ProtocolAddress, key: ours.PublicKey) {
      const prev = this.known.get(name.toString());
      this.known.set(name.toString(), key);
      return prev && !prev.equals(key) ? impl.IdentityChange.ReplacedExisting : impl.IdentityChange.NewOrUnchanged;
    }
    async isTrustedIdentity(name: ours.ProtocolAddress, key: ours.PublicKey, direction: ours.Direction) {
      if (this.trustOnReceive && direction === impl.Direction.Receiving) return true;
      const prev = this.known.get(name.toString());
      return !prev || prev.equals(key);
    }
    async getIdentity(name: ours.ProtocolAddress) {
      return this.known.get(name.toString()) ?? null;
    }
  }
  class PreKeys extends impl.PreKeyStore {
    readonly data = new Map<number, Uint8Array>();
    async savePreKey(id: number, record: ours.PreKeyRecord) {
      this.data.set(id, record.serialize());
    }
    async getPreKey(id: number) {
      const b = this.data.get(id);
      if (!b) throw new Error(`no prekey ${id}`);
      return impl.PreKeyRecord.deserialize(b);
    }
    async removePreKey(id: number) {
      this.data.delete(id);
    }
  }
  class SignedPreKeys extends impl.SignedPreKeyStore {
    readonly data = new Map<number, Uint8Array>();
    async saveSignedPreKey(id: number, record: ours.SignedPreKeyRecord) {
      this.data.set(id, record.serialize());
    }
    async getSignedPreKey(id: number) {
      const b = this.data.get(id);
      if (!b) throw new Error(`no signed prekey ${id}`);
      return impl.SignedPreKeyRecord.deserialize(b);
    }
  }
  class KyberPreKeys extends impl.KyberPreKeyStore {
    readonly data = new Map<number, Uint8Array>();
    readonly used = new Set<string>();
    async saveKyberPreKey(id: number, record: ours.KyberPreKeyRecord) {
      this.data.set(id, record.serialize());
    }
    async getKyberPreKey(id: number) {
      const b = this.data.get(id);
      if (!b) throw new Error(`no kyber prekey ${id}`);
      return impl.KyberPreKeyRecord.deserialize(b);
    }
    async markKyberPreKeyUsed(id: number, signedId: number, baseKey: ours.PublicKey) {
      const k = `${id}:${signedId}:${hexOf(baseKey.serialize())}`;
      if (this.used.has(k)) throw new Error('reused base key');
      this.used.add(k);
    }
  }
  return {
    sessions: new Sessions(),
    identities: new Identities(),
    preKeys: new PreKeys(),
    signedPreKeys: new SignedPreKeys(),
    kyberPreKeys: new KyberPreKeys(),
  };
}

export interface BundleBytes {
  registrationId: number;
  deviceId: number;
  preKeyId: number | null;
  preKey: Uint8Array | null;
  signedPreKeyId: number;
  signedPreKey: Uint8Array;
  signedPreKeySignature: Uint8Array;
  identityKey: Uint8Array;
  kyberPreKeyId: number;
  kyberPreKey: Uint8Array;
  kyberPreKeySignature: Uint8Array;
}

let nextUuid = 1;
function uuid(): string {
  const n = (nextUuid++).toString(16).padStart(12, '0');
  return `0c0e1a2b-3c4d-4e5f-8a6b-${n}`;
}

export class Party {
  readonly name: string;
  readonly identity: ours.IdentityKeyPair;
  readonly registrationId: number;
  stores: ReturnType<typeof makeStores>;
  readonly address: ours.ProtocolAddress;
  private nextKeyId = 1;

  /**
   * A new device with its own stores and registration id. With `account`, the device belongs to that party's
   * account (same name and identity key pair, like a linked device); otherwise to a new account.
   */
  constructor(
    readonly impl: Impl,
    readonly label: string,
    readonly deviceId = 1,
    account?: Party,
  ) {
    this.name = account ? account.name : uuid();
    this.identity = account
      ? impl.IdentityKeyPair.deserialize(account.identity.serialize())
      : impl.IdentityKeyPair.generate();
    this.registrationId = 1 + (nextUuid % 0x3ffe);
    this.stores = makeStores(impl, this.identity, this.registrationId);
    this.address = impl.ProtocolAddress.new(this.name, deviceId);
  }

  /** Forgets every session and known identity (keeps identity key and prekeys), like a restored device. */
  loseSessions(): void {
    this.stores.sessions.clear();
  }

  addressOf(other: Party): ours.ProtocolAddress {
    return this.impl.ProtocolAddress.new(other.name, other.deviceId);
  }

  /** Publishes fresh prekeys: signed, Kyber, and optionally a one-time prekey. */
  async newBundle(withOneTime: boolean): Promise<BundleBytes> {
    const impl = this.impl;
    const id = this.nextKeyId++;
    const spk = impl.PrivateKey.generate();
    const spkSig = this.identity.privateKey.sign(spk.getPublicKey().serialize());
    await this.stores.signedPreKeys.saveSignedPreKey(
      id,
      impl.SignedPreKeyRecord.new(id, Date.now(), spk.getPublicKey(), spk, spkSig),
    );
    const kem = impl.KEMKeyPair.generate();
    const kemSig = this.identity.privateKey.sign(kem.getPublicKey().serialize());
    await this.stores.kyberPreKeys.saveKyberPreKey(id, impl.KyberPreKeyRecord.new(id, Date.now(), kem, kemSig));
    let preKey: Uint8Array | null = null;
    if (withOneTime) {
      const pk = impl.PrivateKey.generate();
      await this.stores.preKeys.savePreKey(id, impl.PreKeyRecord.new(id, pk.getPublicKey(), pk));
      preKey = pk.getPublicKey().serialize();
    }
    return {
      registrationId: this.registrationId,
      deviceId: this.deviceId,
      preKeyId: withOneTime ? id : null,
      preKey,
      signedPreKeyId: id,
      signedPreKey: spk.getPublicKey().serialize(),
      signedPreKeySignature: spkSig,
      identityKey: this.identity.publicKey.serialize(),
      kyberPreKeyId: id,
      kyberPreKey: kem.getPublicKey().serialize(),
      kyberPreKeySignature: kemSig,
    };
  }

  async processBundle(other: Party, b: BundleBytes, now?: Date): Promise<void> {
    const impl = this.impl;
    const bundle = impl.PreKeyBundle.new(
      b.registrationId,
      b.deviceId,
      b.preKeyId,
      b.preKey ? impl.PublicKey.deserialize(b.preKey) : null,
      b.signedPreKeyId,
      impl.PublicKey.deserialize(b.signedPreKey),
      b.signedPreKeySignature,
      impl.PublicKey.deserialize(b.identityKey),
      b.kyberPreKeyId,
      impl.KEMPublicKey.deserialize(b.kyberPreKey),
      b.kyberPreKeySignature,
    );
    await impl.processPreKeyBundle(
      bundle,
      this.addressOf(other),
      this.address,
      this.stores.sessions,
      this.stores.identities,
      now,
    );
  }

  async encrypt(to: Party, plaintext: Uint8Array, now?: Date): Promise<Msg> {
    const ct = await this.impl.signalEncrypt(
      plaintext,
      this.addressOf(to),
      this.address,
      this.stores.sessions,
      this.stores.identities,
      now,
    );
    return { type: ct.type(), bytes: ct.serialize() };
  }

  async decrypt(from: Party, msg: Msg): Promise<Uint8Array> {
    const impl = this.impl;
    const s = this.stores;
    if (msg.type === Number(impl.CiphertextMessageType.PreKey)) {
      return impl.signalDecryptPreKey(
        impl.PreKeySignalMessage.deserialize(msg.bytes),
        this.addressOf(from),
        this.address,
        s.sessions,
        s.identities,
        s.preKeys,
        s.signedPreKeys,
        s.kyberPreKeys,
      );
    }
    return impl.signalDecrypt(
      impl.SignalMessage.deserialize(msg.bytes),
      this.addressOf(from),
      this.address,
      s.sessions,
      s.identities,
    );
  }

  /**
   * Everything a rejected input must leave untouched, as comparable bytes: every session record, every saved
   * identity, every one-time, signed and Kyber prekey record, and every Kyber used-mark.
   */
  snapshot(): string {
    const s = this.stores;
    const byKey = <K, V>(m: Map<K, V>): [K, V][] => [...m].sort(([a], [b]) => String(a).localeCompare(String(b)));
    const parts: string[] = [];
    for (const [k, v] of byKey(s.sessions.data)) parts.push(`session:${k}:${hexOf(v)}`);
    for (const [k, v] of byKey(s.identities.known)) parts.push(`identity:${k}:${hexOf(v.serialize())}`);
    for (const [k, v] of byKey(s.preKeys.data)) parts.push(`prekey:${k}:${hexOf(v)}`);
    for (const [k, v] of byKey(s.signedPreKeys.data)) parts.push(`signed:${k}:${hexOf(v)}`);
    for (const [k, v] of byKey(s.kyberPreKeys.data)) parts.push(`kyber:${k}:${hexOf(v)}`);
    parts.push(`kyber-used:${[...s.kyberPreKeys.used].sort().join(',')}`);
    return parts.join('|');
  }
}

/** The SPQR epoch carried by a SignalMessage (byte 0 version, then a varint epoch). */
export function spqrEpoch(impl: Impl, msg: Msg): number {
  const signal =
    msg.type === Number(impl.CiphertextMessageType.PreKey)
      ? impl.SignalMessage.deserialize(innerSignalMessage(msg.bytes))
      : impl.SignalMessage.deserialize(msg.bytes);
  const pq = signal.pqRatchet();
  let v = 0;
  let shift = 0;
  for (let i = 1; i < pq.length; i++) {
    const b = pq[i]!;
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
  }
  return v;
}

/** One protobuf field of a message: a varint or a length-delimited byte string. */
export type ProtoField = { no: number; value: number | Uint8Array };

/**
 * Splits `version byte ‖ protobuf` into its fields, in order (varint and length-delimited fields only, as in
 * every 1:1 message). Test-side and independent of either implementation, for building forgeries.
 */
export function readProtoFields(bytes: Uint8Array): { version: number; fields: ProtoField[] } {
  let i = 1;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
  };
  const fields: ProtoField[] = [];
  while (i < bytes.length) {
    const tag = varint();
    if ((tag & 7) === 0) fields.push({ no: tag >> 3, value: varint() });
    else if ((tag & 7) === 2) {
      const len = varint();
      fields.push({ no: tag >> 3, value: bytes.slice(i, i + len) });
      i += len;
    } else throw new Error('unexpected wire type');
  }
  return { version: bytes[0]!, fields };
}

/** The inverse of `readProtoFields`: `version byte ‖ fields`, in the given order. */
export function writeProtoFields(version: number, fields: readonly ProtoField[]): Uint8Array {
  const out: number[] = [version];
  const varint = (x: number): void => {
    while (x >= 0x80) {
      out.push((x & 0x7f) | 0x80);
      x = Math.floor(x / 128);
    }
    out.push(x);
  };
  for (const { no, value } of fields) {
    if (typeof value === 'number') {
      varint(no << 3);
      varint(value);
    } else {
      varint((no << 3) | 2);
      varint(value.length);
      out.push(...value);
    }
  }
  return Uint8Array.from(out);
}

/** Extracts field 4 (the inner SignalMessage) of a PreKeySignalMessage. */
export function innerSignalMessage(bytes: Uint8Array): Uint8Array {
  let i = 1;
  const varint = (): number => {
    let v = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[i++]!;
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
      shift += 7;
    }
  };
  while (i < bytes.length) {
    const tag = varint();
    const wt = tag & 7;
    if (wt === 0) varint();
    else if (wt === 2) {
      const len = varint();
      if (tag >> 3 === 4) return bytes.subarray(i, i + len);
      i += len;
    } else throw new Error('unexpected wire type');
  }
  throw new Error('no inner message');
}
