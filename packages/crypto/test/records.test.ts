import { beforeAll, describe, expect, it } from '@jest/globals';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import * as libsignal from '@signalapp/libsignal-client';

import {
  ErrorCode,
  Fingerprint,
  IdentityKeyPair,
  KEMKeyPair,
  KyberPreKeyRecord,
  PreKeyBundle,
  PreKeyRecord,
  PreKeySignalMessage,
  PrivateKey,
  ProtocolAddress,
  PublicKey,
  ScannableFingerprint,
  SignalMessage,
  SignedPreKeyRecord,
  ready,
} from '../src/index.js';
import { hex, seededRng, unhex } from './support/seeded-rng.js';

type AB = Uint8Array<ArrayBuffer>;
const ab = (u: Uint8Array): AB => new Uint8Array(u);

beforeAll(async () => {
  await ready();
});

describe('ProtocolAddress', () => {
  it('accepts device ids 1..127 and refuses 0 and 128 like libsignal', () => {
    expect(ProtocolAddress.new('a', 1).toString()).toBe('a.1');
    expect(ProtocolAddress.new('a', 127).deviceId()).toBe(127);
    for (const bad of [0, 128, 1.5, -1]) {
      expect(() => ProtocolAddress.new('a', bad)).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidProtocolAddress }),
      );
    }
    expect(() => libsignal.ProtocolAddress.new('a', 128)).toThrow();
  });

  it('takes ServiceId objects', () => {
    const aci = libsignal.Aci.fromUuid('9d0652a3-dcc3-4d11-975f-74d61598733f');
    expect(ProtocolAddress.new(aci, 2).name()).toBe('9d0652a3-dcc3-4d11-975f-74d61598733f');
  });
});

describe('records', () => {
  const rng = seededRng('records');

  it('PreKeyRecord round-trips', () => {
    const k = PrivateKey.generate(rng);
    const r = PreKeyRecord.deserialize(PreKeyRecord.new(7, k.getPublicKey(), k).serialize());
    expect(r.id()).toBe(7);
    expect(r.publicKey().equals(k.getPublicKey())).toBe(true);
    expect(hex(r.privateKey().serialize())).toBe(hex(k.serialize()));
  });

  it('SignedPreKeyRecord round-trips', () => {
    const id = IdentityKeyPair.generate(rng);
    const k = PrivateKey.generate(rng);
    const sig = id.privateKey.sign(k.getPublicKey().serialize(), rng);
    const r = SignedPreKeyRecord.deserialize(
      SignedPreKeyRecord.new(0xfffffff0, 1_700_000_000_123, k.getPublicKey(), k, sig).serialize(),
    );
    expect(r.id()).toBe(0xfffffff0);
    expect(r.timestamp()).toBe(1_700_000_000_123);
    expect(hex(r.signature())).toBe(hex(sig));
    expect(id.publicKey.verify(r.publicKey().serialize(), r.signature())).toBe(true);
  });

  it('KyberPreKeyRecord round-trips', () => {
    const kp = KEMKeyPair.generate(rng);
    const r = KyberPreKeyRecord.deserialize(KyberPreKeyRecord.new(3, 42, kp, Uint8Array.of(1, 2)).serialize());
    expect(r.id()).toBe(3);
    expect(r.timestamp()).toBe(42);
    expect(hex(r.publicKey().serialize())).toBe(hex(kp.getPublicKey().serialize()));
    expect(hex(r.secretKey().serialize())).toBe(hex(kp.getSecretKey().serialize()));
  });

  it('refuses unknown versions, truncation and garbage with InvalidRecord', () => {
    const k = PrivateKey.generate(rng);
    const bytes = PreKeyRecord.new(7, k.getPublicKey(), k).serialize();
    const wrongVersion = bytes.slice();
    wrongVersion[0] = 99;
    for (const bad of [new Uint8Array(0), wrongVersion, bytes.subarray(0, 10), Uint8Array.of(1, 0xff, 0xff)]) {
      expect(() => PreKeyRecord.deserialize(bad)).toThrow(expect.objectContaining({ code: ErrorCode.InvalidRecord }));
    }
  });

  it('PreKeyBundle exposes what it was built from', () => {
    const id = IdentityKeyPair.generate(rng);
    const spk = PrivateKey.generate(rng).getPublicKey();
    const kyber = KEMKeyPair.generate(rng).getPublicKey();
    const b = PreKeyBundle.new(5, 2, null, null, 9, spk, Uint8Array.of(1), id.publicKey, 11, kyber, Uint8Array.of(2));
    expect([b.registrationId(), b.deviceId(), b.preKeyId(), b.signedPreKeyId(), b.kyberPreKeyId()]).toEqual([
      5,
      2,
      null,
      9,
      11,
    ]);
    expect(b.preKeyPublic()).toBeNull();
    expect(b.identityKey().equals(id.publicKey)).toBe(true);
  });
});

describe('SignalMessage wire format', () => {
  const rng = seededRng('wire');

  it('is byte-identical to libsignal SignalMessage._new', () => {
    for (let i = 0; i < 10; i++) {
      const macKey = rng(32);
      const ratchet = PrivateKey.generate(rng).getPublicKey();
      const sender = PrivateKey.generate(rng).getPublicKey();
      const receiver = PrivateKey.generate(rng).getPublicKey();
      const ct = rng(16 * (i + 1));
      const pq = rng(40 + i);
      const counter = i * 1000;
      const ours = SignalMessage._new(4, macKey, ratchet, counter, i, ct, sender, receiver, pq);
      const L = (k: PublicKey) => libsignal.PublicKey.deserialize(ab(k.serialize()));
      const theirs = libsignal.SignalMessage._new(
        4,
        ab(macKey),
        L(ratchet),
        counter,
        i,
        ab(ct),
        L(sender),
        L(receiver),
        ab(pq),
      );
      expect(hex(ours.serialize())).toBe(hex(theirs.serialize()));
      const parsed = SignalMessage.deserialize(theirs.serialize());
      expect(parsed.counter()).toBe(counter);
      expect(hex(parsed.body())).toBe(hex(ct));
      expect(hex(parsed.pqRatchet())).toBe(hex(pq));
      expect(parsed.verifyMac(sender, receiver, macKey)).toBe(true);
      expect(parsed.verifyMac(receiver, sender, macKey)).toBe(false);
    }
  });

  it('rejects bad versions with libsignal-like typed errors', () => {
    const m = SignalMessage._new(
      4,
      rng(32),
      PrivateKey.generate(rng).getPublicKey(),
      1,
      0,
      rng(16),
      PrivateKey.generate(rng).getPublicKey(),
      PrivateKey.generate(rng).getPublicKey(),
      rng(40),
    ).serialize();
    const v2 = m.slice();
    v2[0] = 0x24;
    const v5 = m.slice();
    v5[0] = 0x54;
    expect(() => SignalMessage.deserialize(v2)).toThrow(
      expect.objectContaining({ code: ErrorCode.LegacyCiphertextVersion }),
    );
    expect(() => SignalMessage.deserialize(v5)).toThrow(
      expect.objectContaining({ code: ErrorCode.UnrecognizedCiphertextVersion }),
    );
    const lowNibble = m.slice();
    lowNibble[0] = 0x4f;
    expect(SignalMessage.deserialize(lowNibble).messageVersion()).toBe(4);
    expect(() => SignalMessage.deserialize(m.subarray(0, 8))).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidMessage }),
    );
    expect(() => SignalMessage.deserialize(Uint8Array.of(0x44, 1, 2, 3, 4, 5, 6, 7, 8, 9))).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidMessage }),
    );
  });

  it('requires ratchet key, counter and ciphertext', () => {
    // field 2 only (counter = 1) + 8 MAC bytes
    expect(() => SignalMessage.deserialize(Uint8Array.of(0x44, 0x10, 0x01, 0, 0, 0, 0, 0, 0, 0, 0))).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidMessage }),
    );
  });
});

describe('PreKeySignalMessage wire format', () => {
  it('encodes exactly as a general protobuf writer does, for every varint width and with or without prekey id', () => {
    const rng = seededRng('pksm-encode');
    const L = WireType.LengthDelimited;
    const V = WireType.Varint;
    const widths = [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455, 268_435_456, 0xffffffff];
    for (let i = 0; i < widths.length; i++) {
      const big = widths[i]!;
      const small = widths[widths.length - 1 - i]!;
      const base = PrivateKey.generate(rng).getPublicKey();
      const identity = PrivateKey.generate(rng).getPublicKey();
      const addresses = i % 2 === 0 ? rng(34 + i) : null;
      const pq = i % 3 === 0 ? new Uint8Array(0) : rng(40 + i);
      const macKey = rng(32);
      const inner = SignalMessage._new(4, macKey, base, big, small, rng(16 * (i + 1)), identity, base, pq, addresses);
      const innerBody = new BinaryWriter()
        .tag(1, L)
        .bytes(base.serialize())
        .tag(2, V)
        .uint32(big)
        .tag(3, V)
        .uint32(small);
      innerBody.tag(4, L).bytes(inner.body());
      if (pq.length > 0) innerBody.tag(5, L).bytes(pq);
      if (addresses) innerBody.tag(6, L).bytes(addresses);
      const innerBytes = inner.serialize();
      expect(hex(innerBytes.subarray(1, innerBytes.length - 8))).toBe(hex(innerBody.finish()));
      expect(innerBytes[0]).toBe(0x44);
      expect(inner.verifyMac(identity, base, macKey)).toBe(true);

      const kyberCiphertext = Uint8Array.of(8, ...rng(1568));
      const preKeyId = i % 2 === 0 ? null : big;
      const m = PreKeySignalMessage._create({
        registrationId: small,
        preKeyId,
        signedPreKeyId: big,
        kyberPreKeyId: small,
        kyberCiphertext,
        baseKey: base,
        identityKey: identity,
        message: inner,
      });
      const w = new BinaryWriter();
      if (preKeyId !== null) w.tag(1, V).uint32(preKeyId);
      w.tag(2, L).bytes(base.serialize()).tag(3, L).bytes(identity.serialize()).tag(4, L).bytes(innerBytes);
      w.tag(5, V).uint32(small).tag(6, V).uint32(big).tag(7, V).uint32(small).tag(8, L).bytes(kyberCiphertext);
      expect(hex(m.serialize())).toBe('44' + hex(w.finish()));
      expect(PreKeySignalMessage.deserialize(m.serialize()).parsed.kyberPreKeyId).toBe(small);
    }
  });

  it('parses libsignal v3 messages as "X3DH no longer supported" and requires Kyber fields', () => {
    const rng = seededRng('pksm');
    const L = (k: PublicKey) => libsignal.PublicKey.deserialize(ab(k.serialize()));
    const inner = libsignal.SignalMessage._new(
      3,
      ab(rng(32)),
      L(PrivateKey.generate(rng).getPublicKey()),
      0,
      0,
      ab(rng(16)),
      L(PrivateKey.generate(rng).getPublicKey()),
      L(PrivateKey.generate(rng).getPublicKey()),
      ab(new Uint8Array(0)),
    );
    const v3 = libsignal.PreKeySignalMessage._new(
      3,
      1,
      2,
      3,
      L(PrivateKey.generate(rng).getPublicKey()),
      L(PrivateKey.generate(rng).getPublicKey()),
      inner,
    );
    expect(() => PreKeySignalMessage.deserialize(v3.serialize())).toThrow(/X3DH no longer supported/);
    const v4 = v3.serialize();
    v4[0] = 0x44;
    expect(() => PreKeySignalMessage.deserialize(v4)).toThrow(/missing pq pre-key ID/);
  });
});

describe('Fingerprint (version 2, 5200 iterations)', () => {
  const alice = PublicKey.deserialize(unhex('0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868'));
  const bob = PublicKey.deserialize(unhex('05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b'));
  const aliceId = new TextEncoder().encode('+14152222222');
  const bobId = new TextEncoder().encode('+14153333333');

  it('matches the known-answer vectors', () => {
    const a = Fingerprint.new(5200, 2, aliceId, alice, bobId, bob);
    const b = Fingerprint.new(5200, 2, bobId, bob, aliceId, alice);
    expect(a.displayableFingerprint().toString()).toBe('300354477692869396892869876765458257569162576843440918079131');
    expect(b.displayableFingerprint().toString()).toBe('300354477692869396892869876765458257569162576843440918079131');
    expect(hex(a.scannableFingerprint().toBuffer())).toBe(
      '080212220a201e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df1a220a20d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d',
    );
    expect(hex(b.scannableFingerprint().toBuffer())).toBe(
      '080212220a20d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d1a220a201e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df',
    );
    expect(a.scannableFingerprint().compare(b.scannableFingerprint())).toBe(true);
    expect(a.scannableFingerprint().compare(a.scannableFingerprint())).toBe(false);
  });

  it('is identical to libsignal for random keys and UUID identifiers, and compares across implementations', () => {
    const rng = seededRng('fp');
    const k1 = IdentityKeyPair.generate(rng).publicKey;
    const k2 = IdentityKeyPair.generate(rng).publicKey;
    const id1 = rng(16);
    const id2 = rng(16);
    const ours = Fingerprint.new(5200, 2, id1, k1, id2, k2);
    const L = (k: PublicKey) => libsignal.PublicKey.deserialize(ab(k.serialize()));
    const theirs = libsignal.Fingerprint.new(5200, 2, ab(id1), L(k1), ab(id2), L(k2));
    expect(ours.displayableFingerprint().toString()).toBe(theirs.displayableFingerprint().toString());
    expect(hex(ours.scannableFingerprint().toBuffer())).toBe(hex(theirs.scannableFingerprint().toBuffer()));
    const theirMirror = libsignal.Fingerprint.new(5200, 2, ab(id2), L(k2), ab(id1), L(k1));
    expect(
      ours
        .scannableFingerprint()
        .compare(ScannableFingerprint._fromBuffer(theirMirror.scannableFingerprint().toBuffer())),
    ).toBe(true);
  });

  it('reports a version mismatch', () => {
    const v1 = Fingerprint.new(5200, 1, aliceId, alice, bobId, bob);
    const v2 = Fingerprint.new(5200, 2, bobId, bob, aliceId, alice);
    expect(() => v1.scannableFingerprint().compare(v2.scannableFingerprint())).toThrow(
      expect.objectContaining({ code: ErrorCode.FingerprintVersionMismatch }),
    );
  });
});
