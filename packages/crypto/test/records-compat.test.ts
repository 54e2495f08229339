import { readFileSync } from 'node:fs';

import { beforeAll, describe, expect, it } from '@jest/globals';

import * as C from '../src/index.js';
import { UUIDS } from './support/session-fixture.js';

interface Fixture {
  aliceIdentity: string;
  bobIdentity: string;
  aliceRegistrationId: number;
  bobRegistrationId: number;
  aliceSession: string;
  bobSession: string;
  skippedMessage: string;
  pendingMessage: string;
  preKeyRecord: string;
  signedPreKeyRecord: string;
  kyberPreKeyRecord: string;
  preKeyPublic: string;
}

const fx = JSON.parse(readFileSync(new URL('./fixtures/records-v1.json', import.meta.url), 'utf8')) as Fixture;
const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

beforeAll(async () => {
  await C.ready();
});

describe('records saved by format version 1 still load', () => {
  it('prekey records', () => {
    const pub = C.PublicKey.deserialize(b(fx.preKeyPublic));
    const p = C.PreKeyRecord.deserialize(b(fx.preKeyRecord));
    expect(p.id()).toBe(77);
    expect(p.publicKey().equals(pub)).toBe(true);
    const s = C.SignedPreKeyRecord.deserialize(b(fx.signedPreKeyRecord));
    expect([s.id(), s.timestamp()]).toEqual([78, 1_764_000_000_000]);
    expect(pub.verify(s.publicKey().serialize(), s.signature())).toBe(true);
    const k = C.KyberPreKeyRecord.deserialize(b(fx.kyberPreKeyRecord));
    expect([k.id(), k.timestamp()]).toEqual([79, 1_764_000_000_000]);
    expect(pub.verify(k.publicKey().serialize(), k.signature())).toBe(true);
    const { ciphertext, sharedSecret } = k.publicKey().encapsulate();
    expect(Buffer.from(k.secretKey().decapsulate(ciphertext)).equals(Buffer.from(sharedSecret))).toBe(true);
  });

  it('session records, which carry on the saved conversation', async () => {
    const aliceAddr = C.ProtocolAddress.new(UUIDS[0], 1);
    const bobAddr = C.ProtocolAddress.new(UUIDS[1], 1);
    const aliceRec = C.SessionRecord.deserialize(b(fx.aliceSession));
    const bobRec = C.SessionRecord.deserialize(b(fx.bobSession));
    expect(aliceRec._archivedStates().length).toBe(1);
    expect(aliceRec.remoteRegistrationId()).toBe(fx.bobRegistrationId);
    expect(bobRec.localRegistrationId()).toBe(fx.bobRegistrationId);

    const aliceId = C.IdentityKeyPair.deserialize(b(fx.aliceIdentity));
    const bobId = C.IdentityKeyPair.deserialize(b(fx.bobIdentity));
    const aS = new C.InMemorySessionStore();
    const bS = new C.InMemorySessionStore();
    await aS.saveSession(bobAddr, aliceRec);
    await bS.saveSession(aliceAddr, bobRec);
    const aI = new C.InMemoryIdentityKeyStore(aliceId, fx.aliceRegistrationId);
    const bI = new C.InMemoryIdentityKeyStore(bobId, fx.bobRegistrationId);
    const dec = async (bytes: Uint8Array): Promise<string> =>
      new TextDecoder().decode(await C.signalDecrypt(C.SignalMessage.deserialize(bytes), aliceAddr, bobAddr, bS, bI));
    expect(await dec(b(fx.pendingMessage))).toBe('pending');
    expect(await dec(b(fx.skippedMessage))).toBe('skipped');
    for (let i = 0; i < 5; i++) {
      const m = await C.signalEncrypt(new TextEncoder().encode(`new${i}`), bobAddr, aliceAddr, aS, aI);
      expect(await dec(m.serialize())).toBe(`new${i}`);
      const r = await C.signalEncrypt(new TextEncoder().encode(`re${i}`), aliceAddr, bobAddr, bS, bI);
      const out = await C.signalDecrypt(C.SignalMessage.deserialize(r.serialize()), bobAddr, aliceAddr, aS, aI);
      expect(new TextDecoder().decode(out)).toBe(`re${i}`);
    }
  });
});
