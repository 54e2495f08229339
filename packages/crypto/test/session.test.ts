import { beforeAll, describe, expect, it } from '@jest/globals';

import * as C from '../src/index.js';
import { Peer, UUIDS, bytesMessage } from './support/session-fixture.js';

beforeAll(async () => {
  await C.ready();
});

async function established(): Promise<[Peer, Peer]> {
  const alice = new Peer(UUIDS[0]);
  const bob = new Peer(UUIDS[1]);
  await C.processPreKeyBundle(await bob.bundle(), bob.address, alice.address, alice.sessions, alice.identities);
  expect(await bob.decrypt(alice, await alice.encrypt(bob, 'hi'))).toBe('hi');
  expect(await alice.decrypt(bob, await bob.encrypt(alice, 'hello'))).toBe('hello');
  return [alice, bob];
}

describe('session layer', () => {
  it('refuses a changed identity as UntrustedIdentity (same code as libsignal)', async () => {
    const [alice, bob] = await established();
    const impostor = new Peer(UUIDS[1]);
    await expect(
      C.processPreKeyBundle(await impostor.bundle(), bob.address, alice.address, alice.sessions, alice.identities),
    ).rejects.toMatchObject({ code: C.ErrorCode.UntrustedIdentity, addr: UUIDS[1] });
    expect(C.ErrorCode.UntrustedIdentity).toBe(3);
  });

  it('refuses a PreKey message whose addresses name another recipient, without changing state', async () => {
    const alice = new Peer(UUIDS[0]);
    const bob = new Peer(UUIDS[1]);
    await C.processPreKeyBundle(await bob.bundle(), bob.address, alice.address, alice.sessions, alice.identities);
    const m = await alice.encrypt(bob, 'for bob only');
    const before = await bob.snapshotAll([alice]);
    await expect(bob.decrypt(alice, m, C.ProtocolAddress.new(UUIDS[2], 1))).rejects.toMatchObject({
      code: C.ErrorCode.InvalidMessage,
    });
    await expect(bob.decrypt(alice, m, C.ProtocolAddress.new(UUIDS[1], 2))).rejects.toMatchObject({
      code: C.ErrorCode.InvalidMessage,
    });
    expect(await bob.snapshotAll([alice])).toBe(before);
    expect(await bob.decrypt(alice, m)).toBe('for bob only');
  });

  it('refuses a replayed PreKey message after the responder lost its session (Kyber base-key reuse)', async () => {
    const alice = new Peer(UUIDS[0]);
    const bob = new Peer(UUIDS[1]);
    await C.processPreKeyBundle(await bob.bundle(false), bob.address, alice.address, alice.sessions, alice.identities);
    const m = await alice.encrypt(bob, 'once');
    expect(await bob.decrypt(alice, m)).toBe('once');
    bob.sessions.removeSession(alice.address);
    const before = await bob.snapshotAll([alice]);
    await expect(bob.decrypt(alice, m)).rejects.toMatchObject({
      code: C.ErrorCode.InvalidMessage,
      message: 'reused base key',
    });
    expect(await bob.snapshot(alice)).toBe('none');
    expect(await bob.snapshotAll([alice])).toBe(before);
  });

  it('leaves stores untouched when a PreKey message references an unknown prekey', async () => {
    const alice = new Peer(UUIDS[0]);
    const bob = new Peer(UUIDS[1]);
    await C.processPreKeyBundle(await bob.bundle(), bob.address, alice.address, alice.sessions, alice.identities);
    const m = await alice.encrypt(bob, 'x');
    await bob.preKeys.removePreKey(1);
    const before = await bob.snapshotAll([alice]);
    await expect(bob.decrypt(alice, m)).rejects.toMatchObject({ code: C.ErrorCode.InvalidPreKeyId });
    expect(await bob.snapshot(alice)).toBe('none');
    expect(await bob.snapshotAll([alice])).toBe(before);
    expect(await bob.identities.getIdentity(alice.address)).toBeNull();
  });

  it('refuses a bundle with a bad signature as InvalidSignature', async () => {
    const alice = new Peer(UUIDS[0]);
    const bob = new Peer(UUIDS[1]);
    const b = await bob.bundle();
    const sig = b.signedPreKeySignature();
    sig[0]! ^= 1;
    const bad = C.PreKeyBundle.new(
      b.registrationId(),
      1,
      b.preKeyId(),
      b.preKeyPublic(),
      b.signedPreKeyId(),
      b.signedPreKeyPublic(),
      sig,
      b.identityKey(),
      b.kyberPreKeyId(),
      b.kyberPreKeyPublic(),
      b.kyberPreKeySignature(),
    );
    await expect(
      C.processPreKeyBundle(bad, bob.address, alice.address, alice.sessions, alice.identities),
    ).rejects.toMatchObject({
      code: C.ErrorCode.InvalidSignature,
    });
  });

  it('refuses a bundle whose Kyber key fails the FIPS 203 modulus check as InvalidKey, changing no store', async () => {
    const alice = new Peer(UUIDS[0]);
    const bob = new Peer(UUIDS[1]);
    const b = await bob.bundle();
    const kyber = b.kyberPreKeyPublic().serialize();
    kyber[1] = 0xff; // coefficient 0 of t̂ = 0xfff ≥ q; still validly signed by Bob's identity
    kyber[2] = kyber[2]! | 0x0f;
    const bad = C.PreKeyBundle.new(
      b.registrationId(),
      1,
      b.preKeyId(),
      b.preKeyPublic(),
      b.signedPreKeyId(),
      b.signedPreKeyPublic(),
      b.signedPreKeySignature(),
      b.identityKey(),
      b.kyberPreKeyId(),
      C.KEMPublicKey.deserialize(kyber),
      bob.identity.privateKey.sign(kyber),
    );
    const before = await alice.snapshotAll([bob]);
    const err = await C.processPreKeyBundle(bad, bob.address, alice.address, alice.sessions, alice.identities).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(C.SignalClientError);
    expect(err).toMatchObject({ code: C.ErrorCode.InvalidKey });
    expect(await alice.snapshotAll([bob])).toBe(before);
  });

  it('reports encryption without a session as SessionNotFound', async () => {
    const alice = new Peer(UUIDS[0]);
    const bob = new Peer(UUIDS[1]);
    await expect(alice.encrypt(bob, 'x')).rejects.toMatchObject({ code: C.ErrorCode.SessionNotFound });
    await expect(alice.decrypt(bob, bytesMessage(2, new Uint8Array(40)))).rejects.toBeInstanceOf(C.SignalClientError);
  });

  it('keeps at most 40 archived states and 5 receiver chains', async () => {
    const alice = new Peer(UUIDS[0]);
    const bob = new Peer(UUIDS[1]);
    for (let i = 0; i < 43; i++) {
      await C.processPreKeyBundle(
        await bob.bundle(false),
        bob.address,
        alice.address,
        alice.sessions,
        alice.identities,
      );
    }
    const record = (await alice.sessions.getSession(bob.address))!;
    expect(record._archivedStates().length).toBe(C.constants.ARCHIVED_STATES_MAX_LENGTH);
    const [a, b] = await established();
    for (let i = 0; i < 8; i++) {
      expect(await b.decrypt(a, await a.encrypt(b, `a${i}`))).toBe(`a${i}`);
      expect(await a.decrypt(b, await b.encrypt(a, `b${i}`))).toBe(`b${i}`);
    }
    const rec = (await a.sessions.getSession(b.address))!;
    expect(rec._currentState()!.receiverChains.length).toBe(C.constants.MAX_RECEIVER_CHAINS);
  });

  it('keeps at most 2,000 skipped message keys per chain, dropping the oldest', async () => {
    const [alice, bob] = await established();
    const msgs: C.CiphertextMessage[] = [];
    for (let i = 0; i < 2_100; i++) msgs.push(await alice.encrypt(bob, `m${i}`));
    expect(await bob.decrypt(alice, msgs[2_099]!)).toBe('m2099');
    const rec = (await bob.sessions.getSession(alice.address))!;
    const chain = rec._currentState()!.receiverChains.at(-1)!;
    expect(chain.skipped.size).toBe(C.constants.MAX_MESSAGE_KEYS);
    expect(await bob.decrypt(alice, msgs[150]!)).toBe('m150');
    await expect(bob.decrypt(alice, msgs[50]!)).rejects.toMatchObject({ code: C.ErrorCode.DuplicatedMessage });
  });

  it('uses injected randomness deterministically', async () => {
    const { seededRng } = await import('./support/seeded-rng.js');
    const a1 = C.PrivateKey.generate(seededRng('det'));
    const a2 = C.PrivateKey.generate(seededRng('det'));
    expect(a1.getPublicKey().equals(a2.getPublicKey())).toBe(true);
    expect(C.generateRegistrationId(seededRng(1))).toBeLessThanOrEqual(0x3fff);
  });

  it('exposes record metadata like libsignal', async () => {
    const [alice, bob] = await established();
    const rec = (await alice.sessions.getSession(bob.address))!;
    expect(rec.localRegistrationId()).toBe(await alice.identities.getLocalRegistrationId());
    expect(rec.remoteRegistrationId()).toBe(await bob.identities.getLocalRegistrationId());
    expect(rec.hasCurrentState()).toBe(true);
    rec.archiveCurrentState();
    expect(rec.hasCurrentState()).toBe(false);
    expect(() => rec.localRegistrationId()).toThrow(C.SignalClientError);
  });
});
