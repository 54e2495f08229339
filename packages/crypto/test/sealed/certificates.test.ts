/**
 * Sealed-sender certificate rules beyond the interop suite: the forms libsignal's encoder never writes but a
 * decoder meets (UUID as 16 bytes, a server certificate referenced by id), device ids out of range, validation
 * without trust roots, and the self-send rule by E.164. Typed errors only.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

import * as C from '../../src/index.js';
import { type Impl, Party } from '../interop/harness.js';

beforeAll(async () => {
  await C.ready();
});

const NOW = 1_780_000_000_000;
const UUID = '0c0e1a2b-3c4d-4e5f-8a6b-00000000beef';
const UUID_BYTES = Uint8Array.from(Buffer.from(UUID.replace(/-/g, ''), 'hex'));

function server() {
  const trustRoot = C.PrivateKey.generate();
  const serverKey = C.PrivateKey.generate();
  return { trustRoot, serverKey, cert: C.ServerCertificate.new(9, serverKey.getPublicKey(), trustRoot) };
}

/** A signed sender certificate with hand-written fields (what another encoder might send). */
function handMade(s: ReturnType<typeof server>, write: (w: BinaryWriter) => void): Uint8Array {
  const w = new BinaryWriter();
  write(w);
  const body = w.finish();
  return new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .bytes(body)
    .tag(2, WireType.LengthDelimited)
    .bytes(s.serverKey.sign(body))
    .finish();
}

function common(w: BinaryWriter, s: ReturnType<typeof server>, device = 1): void {
  w.tag(2, WireType.Varint).uint32(device);
  w.tag(3, WireType.Bit64).fixed64(BigInt(NOW + 1000));
  w.tag(4, WireType.LengthDelimited).bytes(C.PrivateKey.generate().getPublicKey().serialize());
  w.tag(5, WireType.LengthDelimited).bytes(s.cert.serialize());
}

function expectInvalid(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(C.SignalClientError);
    expect((e as C.SignalClientError).code).toBe(C.ErrorCode.InvalidMessage);
    expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error('accepted');
}

describe('sender certificate decoding', () => {
  it('reads a sender UUID written as 16 bytes (field 7) and validates it', () => {
    const s = server();
    const bytes = handMade(s, (w) => {
      common(w, s);
      w.tag(7, WireType.LengthDelimited).bytes(UUID_BYTES);
    });
    const cert = C.SenderCertificate.deserialize(bytes);
    expect(cert.senderUuid()).toBe(UUID);
    expect(cert.senderE164()).toBeNull();
    expect(cert.validate(s.trustRoot.getPublicKey(), NOW)).toBe(true);
  });

  it('refuses a certificate that references its server certificate by id (no built-in table here)', () => {
    const s = server();
    const bytes = handMade(s, (w) => {
      w.tag(2, WireType.Varint).uint32(1);
      w.tag(3, WireType.Bit64).fixed64(BigInt(NOW));
      w.tag(4, WireType.LengthDelimited).bytes(C.PrivateKey.generate().getPublicKey().serialize());
      w.tag(6, WireType.LengthDelimited).string(UUID);
      w.tag(8, WireType.Varint).uint32(0x7357c357);
    });
    expectInvalid(() => C.SenderCertificate.deserialize(bytes), /unknown server certificate id 1935131479/);
  });

  it('refuses device ids outside 1..127, a missing UUID, and an expiry beyond 2^53', () => {
    const s = server();
    for (const device of [0, 128]) {
      const bytes = handMade(s, (w) => {
        common(w, s, device);
        w.tag(6, WireType.LengthDelimited).string(UUID);
      });
      expectInvalid(() => C.SenderCertificate.deserialize(bytes), /device id out of range/);
    }
    expectInvalid(() => C.SenderCertificate.deserialize(handMade(s, (w) => common(w, s))), /missing sender UUID/);
    const far = handMade(s, (w) => {
      common(w, s);
      w.tag(3, WireType.Bit64).fixed64(2n ** 60n);
      w.tag(6, WireType.LengthDelimited).string(UUID);
    });
    expectInvalid(() => C.SenderCertificate.deserialize(far), /expiration out of range/);
  });

  it('never validates without a trust root, and refuses bad arguments on creation', () => {
    const s = server();
    const key = C.PrivateKey.generate().getPublicKey();
    const cert = C.SenderCertificate.new(UUID, null, 1, key, NOW, s.cert, s.serverKey);
    expect(cert.validateWithTrustRoots([], NOW)).toBe(false);
    for (const device of [0, 128, 1.5]) {
      expect(() => C.SenderCertificate.new(UUID, null, device, key, NOW, s.cert, s.serverKey)).toThrow(
        C.SignalClientError,
      );
    }
    expect(() => C.SenderCertificate.new(UUID, null, 1, key, -1, s.cert, s.serverKey)).toThrow(C.SignalClientError);
    expect(() => C.ServerCertificate.new(2 ** 32, key, s.trustRoot)).toThrow(C.SignalClientError);
  });
});

describe('self-send', () => {
  it('is refused by E.164 too (another UUID form of our account on our device), changing no store', async () => {
    const s = server();
    const impl: Impl = C;
    const bob = new Party(impl, 'bob', 3);
    const copy = new Party(impl, 'bob-copy', 3, bob);
    await copy.processBundle(bob, await bob.newBundle(true));
    // The certificate names another UUID but Bob's number and device.
    const cert = C.SenderCertificate.new(
      UUID,
      '+15550002222',
      3,
      bob.identity.publicKey,
      NOW + 1000,
      s.cert,
      s.serverKey,
    );
    const sealed = await C.sealedSenderEncryptMessage(
      new Uint8Array(8),
      copy.addressOf(bob),
      cert,
      copy.stores.sessions,
      copy.stores.identities,
    );
    const before = bob.snapshot();
    const st = bob.stores;
    const err = await C.sealedSenderDecryptMessage(
      sealed,
      s.trustRoot.getPublicKey(),
      NOW,
      '+15550002222',
      bob.name,
      3,
      st.sessions,
      st.identities,
      st.preKeys,
      st.signedPreKeys,
      st.kyberPreKeys,
    ).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(C.SignalClientError);
    expect((err as C.SignalClientError).code).toBe(C.ErrorCode.SealedSenderSelfSend);
    expect(bob.snapshot()).toBe(before);
  });
});
