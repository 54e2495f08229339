/**
 * SPQR interoperability through whole sessions: our implementation against @signalapp/libsignal-client in both
 * roles (ours as Alice, ours as Bob), plus libsignal against itself as a reference run. Both sides exchange
 * messages with random interleaving, bursts, dropped messages and reordering inside a small window, long enough
 * for the SPQR braid to pass at least ten epochs; every delivered message must decrypt to what was sent.
 * The epoch each SignalMessage carries is read from its SPQR field, so the test proves the braid advanced in
 * both directions rather than assuming it. Delivery schedules depend only on a seed, so every pairing sees the
 * same deliveries: epochs, parity chunks and (under heavy cross-epoch reordering) the exact set of messages that
 * fail must match libsignal's own run.
 */
import { randomUUID } from 'node:crypto';

import { describe, expect, it } from '@jest/globals';
import * as libsignal from '@signalapp/libsignal-client';

import * as ours from '../../src/index.js';
import { MessageType, decodeMessage } from '../../src/ratchet/spqr/message.js';
import { prng } from '../support/seeded-rng.js';

/** The subset of the libsignal-client API this test drives; both modules provide it under the same names. */
type Lib = typeof libsignal;
type AnyLib = Lib | typeof ours;
const asLib = (m: AnyLib): Lib => m as unknown as Lib;

interface Party {
  lib: Lib;
  address: libsignal.ProtocolAddress;
  identity: libsignal.IdentityKeyPair;
  registrationId: number;
  sessions: libsignal.SessionStore;
  identities: libsignal.IdentityKeyStore;
  preKeys: libsignal.PreKeyStore;
  signedPreKeys: libsignal.SignedPreKeyStore;
  kyberPreKeys: libsignal.KyberPreKeyStore;
}

function makeParty(lib: Lib, deviceId: number): Party {
  const identity = lib.IdentityKeyPair.generate();
  const registrationId = 1 + Math.floor(Math.random() * 0x3ffe);
  const address = lib.ProtocolAddress.new(randomUUID(), deviceId);

  class Sessions extends lib.SessionStore {
    private readonly map = new Map<string, Uint8Array>();
    saveSession(name: libsignal.ProtocolAddress, record: libsignal.SessionRecord): Promise<void> {
      this.map.set(name.toString(), record.serialize());
      return Promise.resolve();
    }
    getSession(name: libsignal.ProtocolAddress): Promise<libsignal.SessionRecord | null> {
      const bytes = this.map.get(name.toString());
      return Promise.resolve(bytes ? lib.SessionRecord.deserialize(bytes as Uint8Array<ArrayBuffer>) : null);
    }
    async getExistingSessions(addresses: libsignal.ProtocolAddress[]): Promise<libsignal.SessionRecord[]> {
      const out: libsignal.SessionRecord[] = [];
      for (const a of addresses) {
        const s = await this.getSession(a);
        if (!s) throw new Error(`no session for ${a.toString()}`);
        out.push(s);
      }
      return out;
    }
  }
  class Identities extends lib.IdentityKeyStore {
    private readonly map = new Map<string, libsignal.PublicKey>();
    getIdentityKey(): Promise<libsignal.PrivateKey> {
      return Promise.resolve(identity.privateKey);
    }
    getLocalRegistrationId(): Promise<number> {
      return Promise.resolve(registrationId);
    }
    saveIdentity(name: libsignal.ProtocolAddress, key: libsignal.PublicKey): Promise<libsignal.IdentityChange> {
      const old = this.map.get(name.toString());
      this.map.set(name.toString(), key);
      return Promise.resolve(
        old && !old.equals(key) ? lib.IdentityChange.ReplacedExisting : lib.IdentityChange.NewOrUnchanged,
      );
    }
    isTrustedIdentity(name: libsignal.ProtocolAddress, key: libsignal.PublicKey): Promise<boolean> {
      const old = this.map.get(name.toString());
      return Promise.resolve(!old || old.equals(key));
    }
    getIdentity(name: libsignal.ProtocolAddress): Promise<libsignal.PublicKey | null> {
      return Promise.resolve(this.map.get(name.toString()) ?? null);
    }
  }
  class PreKeys extends lib.PreKeyStore {
    readonly map = new Map<number, libsignal.PreKeyRecord>();
    savePreKey(id: number, record: libsignal.PreKeyRecord): Promise<void> {
      this.map.set(id, record);
      return Promise.resolve();
    }
    getPreKey(id: number): Promise<libsignal.PreKeyRecord> {
      const r = this.map.get(id);
      return r ? Promise.resolve(r) : Promise.reject(new Error(`no prekey ${id}`));
    }
    removePreKey(id: number): Promise<void> {
      this.map.delete(id);
      return Promise.resolve();
    }
  }
  class SignedPreKeys extends lib.SignedPreKeyStore {
    readonly map = new Map<number, libsignal.SignedPreKeyRecord>();
    saveSignedPreKey(id: number, record: libsignal.SignedPreKeyRecord): Promise<void> {
      this.map.set(id, record);
      return Promise.resolve();
    }
    getSignedPreKey(id: number): Promise<libsignal.SignedPreKeyRecord> {
      const r = this.map.get(id);
      return r ? Promise.resolve(r) : Promise.reject(new Error(`no signed prekey ${id}`));
    }
  }
  class KyberPreKeys extends lib.KyberPreKeyStore {
    readonly map = new Map<number, libsignal.KyberPreKeyRecord>();
    saveKyberPreKey(id: number, record: libsignal.KyberPreKeyRecord): Promise<void> {
      this.map.set(id, record);
      return Promise.resolve();
    }
    getKyberPreKey(id: number): Promise<libsignal.KyberPreKeyRecord> {
      const r = this.map.get(id);
      return r ? Promise.resolve(r) : Promise.reject(new Error(`no kyber prekey ${id}`));
    }
    markKyberPreKeyUsed(): Promise<void> {
      return Promise.resolve();
    }
  }
  return {
    lib,
    address,
    identity,
    registrationId,
    sessions: new Sessions(),
    identities: new Identities(),
    preKeys: new PreKeys(),
    signedPreKeys: new SignedPreKeys(),
    kyberPreKeys: new KyberPreKeys(),
  };
}

/** Bob publishes a bundle (one-time prekey included); Alice's library receives it re-parsed from bytes. */
async function bundleFor(bob: Party, forLib: Lib): Promise<libsignal.PreKeyBundle> {
  const { lib } = bob;
  const preKey = lib.PrivateKey.generate();
  const signedPreKey = lib.PrivateKey.generate();
  const kyber = lib.KEMKeyPair.generate();
  const spkSig = bob.identity.privateKey.sign(signedPreKey.getPublicKey().serialize());
  const kyberSig = bob.identity.privateKey.sign(kyber.getPublicKey().serialize());
  await bob.preKeys.savePreKey(11, lib.PreKeyRecord.new(11, preKey.getPublicKey(), preKey));
  await bob.signedPreKeys.saveSignedPreKey(
    22,
    lib.SignedPreKeyRecord.new(22, Date.now(), signedPreKey.getPublicKey(), signedPreKey, spkSig),
  );
  await bob.kyberPreKeys.saveKyberPreKey(33, lib.KyberPreKeyRecord.new(33, Date.now(), kyber, kyberSig));
  const pub = (k: libsignal.PublicKey): libsignal.PublicKey => forLib.PublicKey.deserialize(k.serialize());
  return forLib.PreKeyBundle.new(
    bob.registrationId,
    bob.address.deviceId(),
    11,
    pub(preKey.getPublicKey()),
    22,
    pub(signedPreKey.getPublicKey()),
    spkSig,
    pub(bob.identity.publicKey),
    33,
    forLib.KEMPublicKey.deserialize(kyber.getPublicKey().serialize()),
    kyberSig,
  );
}

interface Wire {
  type: number;
  bytes: Uint8Array<ArrayBuffer>;
  plaintext: string;
  epoch: number;
  parity: boolean;
  /** Held back on purpose (reordering tests). */
  late?: boolean;
}

/** Chunks per value by SPQR message type: header ‖ MAC 3, key 36, ct1 30, ct2 ‖ MAC 5. */
const SYSTEMATIC: Partial<Record<MessageType, number>> = {
  [MessageType.Hdr]: 3,
  [MessageType.Ek]: 36,
  [MessageType.EkCt1Ack]: 36,
  [MessageType.Ct1]: 30,
  [MessageType.Ct2]: 5,
};

/** The SPQR message a SignalMessage carries (read with libsignal's parser); PreKey messages only open a session. */
function spqrOf(w: { type: number; bytes: Uint8Array<ArrayBuffer> }): { epoch: number; parity: boolean } {
  if (w.type !== Number(libsignal.CiphertextMessageType.Whisper)) return { epoch: 0, parity: false };
  const m = decodeMessage(libsignal.SignalMessage.deserialize(w.bytes).pqRatchet());
  const n = SYSTEMATIC[m.type];
  return { epoch: m.epoch, parity: m.chunk !== null && n !== undefined && m.chunk.index >= n };
}

async function send(from: Party, to: Party, text: string): Promise<Wire> {
  const { lib } = from;
  const remote = lib.ProtocolAddress.new(to.address.name(), to.address.deviceId());
  const ct = await lib.signalEncrypt(
    new TextEncoder().encode(text),
    remote,
    from.address,
    from.sessions,
    from.identities,
  );
  const w = { type: ct.type(), bytes: ct.serialize() };
  return { ...w, plaintext: text, ...spqrOf(w) };
}

async function receive(at: Party, from: Party, w: Wire): Promise<void> {
  const { lib } = at;
  const remote = lib.ProtocolAddress.new(from.address.name(), from.address.deviceId());
  const plain =
    w.type === Number(lib.CiphertextMessageType.PreKey)
      ? await lib.signalDecryptPreKey(
          lib.PreKeySignalMessage.deserialize(w.bytes),
          remote,
          at.address,
          at.sessions,
          at.identities,
          at.preKeys,
          at.signedPreKeys,
          at.kyberPreKeys,
        )
      : await lib.signalDecrypt(lib.SignalMessage.deserialize(w.bytes), remote, at.address, at.sessions, at.identities);
  expect(new TextDecoder().decode(plain)).toBe(w.plaintext);
}

interface Outcome {
  maxEpochAtoB: number;
  maxEpochBtoA: number;
  /** Parity (non-systematic) chunks delivered in each direction. */
  parityAtoB: number;
  parityBtoA: number;
  delivered: number;
  dropped: number;
}

/** Random interleaving with bursts, loss and reordering inside a window of three messages. */
async function converse(aliceLib: AnyLib, bobLib: AnyLib, seed: number, rounds: number): Promise<Outcome> {
  const random = prng(seed);
  const alice = makeParty(asLib(aliceLib), 1);
  const bob = makeParty(asLib(bobLib), 2);
  await alice.lib.processPreKeyBundle(
    await bundleFor(bob, alice.lib),
    alice.lib.ProtocolAddress.new(bob.address.name(), bob.address.deviceId()),
    alice.address,
    alice.sessions,
    alice.identities,
  );
  const toBob: Wire[] = [];
  const toAlice: Wire[] = [];
  const out: Outcome = { maxEpochAtoB: 0, maxEpochBtoA: 0, parityAtoB: 0, parityBtoA: 0, delivered: 0, dropped: 0 };
  let bobHasSession = false;
  let n = 0;
  const flush = async (queue: Wire[], at: Party, from: Party, all: boolean): Promise<void> => {
    while (queue.length > 0 && (all || random() < 0.75)) {
      const pick = Math.floor(random() * Math.min(queue.length, 3));
      const [w] = queue.splice(pick, 1) as [Wire];
      // Loss is only simulated once the session is acknowledged (PreKey messages are never lost here).
      if (w.type !== Number(at.lib.CiphertextMessageType.PreKey) && random() < 0.12) {
        out.dropped++;
        continue;
      }
      await receive(at, from, w);
      out.delivered++;
      if (w.parity && at === bob) out.parityAtoB++;
      if (w.parity && at === alice) out.parityBtoA++;
      if (at === bob) bobHasSession = true;
    }
  };
  for (let round = 0; round < rounds; round++) {
    const burstA = random() < 0.55 ? 1 + Math.floor(random() * 5) : 0;
    const burstB = random() < 0.55 ? 1 + Math.floor(random() * 5) : 0;
    for (let i = 0; i < burstA; i++) {
      const w = await send(alice, bob, `a${n++}`);
      out.maxEpochAtoB = Math.max(out.maxEpochAtoB, w.epoch);
      toBob.push(w);
    }
    // Bob can answer once he has received Alice's first message.
    for (let i = 0; i < burstB && bobHasSession; i++) {
      const w = await send(bob, alice, `b${n++}`);
      out.maxEpochBtoA = Math.max(out.maxEpochBtoA, w.epoch);
      toAlice.push(w);
    }
    await flush(toBob, bob, alice, false);
    await flush(toAlice, alice, bob, false);
  }
  await flush(toBob, bob, alice, true);
  await flush(toAlice, alice, bob, true);
  return out;
}

type Verdict = 'ok' | 'duplicate' | 'failed';

/**
 * Heavy reordering across epoch boundaries: messages are delivered from anywhere in a long queue (some arrive
 * hundreds of messages late, after the epoch they belong to has been left behind), a few are lost. The schedule
 * depends only on the seed, never on outcomes, so every implementation pair sees the same deliveries and must
 * reach the same verdict for each one.
 */
async function reorderHeavily(aliceLib: AnyLib, bobLib: AnyLib, seed: number, rounds: number): Promise<Verdict[]> {
  const random = prng(seed);
  const alice = makeParty(asLib(aliceLib), 1);
  const bob = makeParty(asLib(bobLib), 2);
  await alice.lib.processPreKeyBundle(
    await bundleFor(bob, alice.lib),
    alice.lib.ProtocolAddress.new(bob.address.name(), bob.address.deviceId()),
    alice.address,
    alice.sessions,
    alice.identities,
  );
  const verdicts: Verdict[] = [];
  const toBob: Wire[] = [];
  const toAlice: Wire[] = [];
  let n = 0;
  // Alice's first message is delivered at once so that Bob has a session to answer from.
  toBob.push(await send(alice, bob, `a${n++}`));
  await receive(bob, alice, toBob.pop()!);
  // Some messages are held back for 20–400 rounds (several epochs); the rest arrive in a window of four.
  const held: { due: number; w: Wire; toBob: boolean }[] = [];
  const deliver = async (round: number, queue: Wire[], at: Party, from: Party): Promise<void> => {
    for (const h of held.filter((x) => x.due === round && x.toBob === (at === bob))) {
      held.splice(held.indexOf(h), 1);
      queue.push(h.w);
    }
    const count = Math.floor(random() * 4);
    for (let i = 0; i < count && queue.length > 0; i++) {
      const [w] = queue.splice(Math.floor(random() * Math.min(queue.length, 4)), 1) as [Wire];
      if (random() < 0.04 && !w.late) {
        held.push({ due: round + 20 + Math.floor(random() * 380), w: { ...w, late: true }, toBob: at === bob });
        continue;
      }
      try {
        await receive(at, from, w);
        verdicts.push('ok');
      } catch (e) {
        verdicts.push((e as { code?: unknown }).code === 1 ? 'duplicate' : 'failed');
      }
    }
  };
  for (let round = 0; round < rounds; round++) {
    const burstA = Math.floor(random() * 4);
    const burstB = Math.floor(random() * 4);
    for (let i = 0; i < burstA; i++) toBob.push(await send(alice, bob, `a${n++}`));
    for (let i = 0; i < burstB; i++) toAlice.push(await send(bob, alice, `b${n++}`));
    await deliver(round, toBob, bob, alice);
    await deliver(round, toAlice, alice, bob);
  }
  return verdicts;
}

const SEED = 2;
const ROUNDS = 600;

describe('SPQR interop with libsignal-client 0.103 through whole sessions', () => {
  let cached: Promise<Outcome> | null = null;
  const referenceRun = (): Promise<Outcome> => (cached ??= converse(libsignal, libsignal, SEED, ROUNDS));

  it('libsignal ↔ libsignal: reference run of the schedule', async () => {
    const reference = await referenceRun();
    expect(Math.min(reference.maxEpochAtoB, reference.maxEpochBtoA)).toBeGreaterThanOrEqual(10);
    expect(Math.min(reference.parityAtoB, reference.parityBtoA)).toBeGreaterThan(0);
  }, 120_000);

  it('ours as Alice ↔ libsignal as Bob: keys agree past ten epochs with bursts, loss and reordering', async () => {
    await ours.ready();
    const r = await converse(ours, libsignal, SEED, ROUNDS);
    // The schedule does not depend on the implementation: the braid must progress exactly as libsignal's.
    expect(r).toEqual(await referenceRun());
    expect(r.dropped).toBeGreaterThan(20);
    expect(Math.min(r.maxEpochAtoB, r.maxEpochBtoA)).toBeGreaterThanOrEqual(10);
    // Lagrange-coded chunks crossed between the implementations in both directions.
    expect(Math.min(r.parityAtoB, r.parityBtoA)).toBeGreaterThan(0);
  }, 120_000);

  it('libsignal as Alice ↔ ours as Bob: keys agree past ten epochs with bursts, loss and reordering', async () => {
    await ours.ready();
    const r = await converse(libsignal, ours, SEED, ROUNDS);
    expect(r).toEqual(await referenceRun());
    expect(r.dropped).toBeGreaterThan(20);
    expect(Math.min(r.maxEpochAtoB, r.maxEpochBtoA)).toBeGreaterThanOrEqual(10);
    // Lagrange-coded chunks crossed between the implementations in both directions.
    expect(Math.min(r.parityAtoB, r.parityBtoA)).toBeGreaterThan(0);
  }, 120_000);

  it('fails exactly where libsignal fails under heavy reordering across epochs, in every pairing', async () => {
    await ours.ready();
    const expected = await reorderHeavily(libsignal, libsignal, 9, 700);
    expect(expected.filter((v) => v === 'failed').length).toBeGreaterThan(0);
    expect(expected.filter((v) => v === 'ok').length).toBeGreaterThan(expected.length * 0.8);
    for (const [a, b] of [
      [ours, libsignal],
      [libsignal, ours],
      [ours, ours],
    ] as const) {
      expect(await reorderHeavily(a, b, 9, 700)).toEqual(expected);
    }
  }, 240_000);
});
