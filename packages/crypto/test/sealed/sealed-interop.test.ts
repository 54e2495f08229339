/**
 * Sealed sender (issue 16) in all four pairings sender → receiver between ours and libsignal-client 0.103: v1
 * conversations both ways (PreKey then Whisper inside), v2 multi-recipient sends (ours and libsignal's server-side
 * parsing and per-recipient extraction of either's sent form, received form decrypted by either), certificates
 * byte-compatible both ways, and the refusals — expired, wrongly signed, revoked or untrusted certificates, a
 * certificate for another identity, a self-send, a too-large registration id, tampering — each leaving every store
 * of the receiver byte-identical.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { Aci } from '@signalapp/libsignal-client';

import { type Impl, Party } from '../interop/harness.js';
import type * as ours from '../../src/index.js';

type Name = 'ours' | 'libsignal';
const impls: Record<Name, Impl> = {
  ours: await import('../../src/index.js'),
  libsignal: (await import('@signalapp/libsignal-client')) as unknown as Impl,
};
type Parsed = ours.SealedSenderMultiRecipientMessage;
const parsers: Record<Name, new (b: Uint8Array) => Parsed> = {
  ours: impls.ours.SealedSenderMultiRecipientMessage,
  libsignal: (
    (await import('@signalapp/libsignal-client/dist/SealedSenderMultiRecipientMessage.js')) as unknown as {
      default: new (b: Uint8Array) => Parsed;
    }
  ).default,
};

beforeAll(async () => {
  await impls.ours.ready();
});

const NAMES: Name[] = ['ours', 'libsignal'];
const PAIRS: [Name, Name][] = NAMES.flatMap((s) => NAMES.map((r): [Name, Name] => [s, r]));
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** A fixed clock: certificates expire an hour after it. */
const NOW = 1_780_000_000_000;
const HOUR = 3_600_000;

/** The server's keys, made on one implementation; every party re-reads them as bytes in its own. */
class Server {
  readonly trustRoot: ours.PrivateKey;
  readonly serverKey: ours.PrivateKey;
  readonly serverCert: Uint8Array;
  constructor(impl: Impl, keyId = 1) {
    this.trustRoot = impl.PrivateKey.generate();
    this.serverKey = impl.PrivateKey.generate();
    this.serverCert = impl.ServerCertificate.new(keyId, this.serverKey.getPublicKey(), this.trustRoot).serialize();
  }
  trustRootFor(impl: Impl): ours.PublicKey {
    return impl.PublicKey.deserialize(this.trustRoot.getPublicKey().serialize());
  }
  /** A sender certificate made by `impl` for `who` (another identity key or expiry on request). */
  certify(
    impl: Impl,
    who: Party,
    opts: { key?: ours.PublicKey; expiration?: number; signer?: ours.PrivateKey; device?: number } = {},
  ): ours.SenderCertificate {
    return impl.SenderCertificate.new(
      who.name,
      '+15550001111',
      opts.device ?? who.deviceId,
      impl.PublicKey.deserialize((opts.key ?? who.identity.publicKey).serialize()),
      opts.expiration ?? NOW + HOUR,
      impl.ServerCertificate.deserialize(this.serverCert),
      impl.PrivateKey.deserialize((opts.signer ?? this.serverKey).serialize()),
    );
  }
}

async function connect(s: Party, r: Party): Promise<void> {
  await s.processBundle(r, await r.newBundle(true));
}

/** A 1:1 message from `s` to `r` as the sender's CiphertextMessage, for sealing by hand. */
function innerMessage(s: Party, r: Party, msg: string): Promise<ours.CiphertextMessage> {
  return s.impl.signalEncrypt(text(msg), s.addressOf(r), s.address, s.stores.sessions, s.stores.identities);
}

async function sealedSend(s: Party, r: Party, cert: ours.SenderCertificate, msg: string): Promise<Uint8Array> {
  return s.impl.sealedSenderEncryptMessage(text(msg), s.addressOf(r), cert, s.stores.sessions, s.stores.identities);
}

function sealedReceive(
  r: Party,
  bytes: Uint8Array,
  server: Server,
  at = NOW,
): Promise<ours.SealedSenderDecryptionResult> {
  const s = r.stores;
  return r.impl.sealedSenderDecryptMessage(
    bytes,
    server.trustRootFor(r.impl),
    at,
    null,
    r.name,
    r.deviceId,
    s.sessions,
    s.identities,
    s.preKeys,
    s.signedPreKeys,
    s.kyberPreKeys,
  );
}

async function rejection(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).not.toBeNull();
  return err as { code: number; message: string };
}

/** Expects `p` to be refused and `r`'s stores to be unchanged; returns the error. */
async function refusedUnchanged(r: Party, p: () => Promise<unknown>): Promise<{ code: number; message: string }> {
  const before = r.snapshot();
  const err = await rejection(p());
  expect(r.snapshot()).toBe(before);
  return err;
}

describe('certificates', () => {
  it.each(PAIRS)('%s-made certificates parse and validate in %s, byte for byte', (maker, reader) => {
    const m = impls[maker];
    const r = impls[reader];
    const server = new Server(m, 0x1234);
    const alice = new Party(m, 'alice', 3);
    const cert = server.certify(m, alice);
    const read = r.SenderCertificate.deserialize(cert.serialize());
    expect(hex(read.serialize())).toBe(hex(cert.serialize()));
    expect(hex(read.certificate())).toBe(hex(cert.certificate()));
    expect(read.senderUuid()).toBe(alice.name);
    expect(read.senderE164()).toBe('+15550001111');
    expect(read.senderDeviceId()).toBe(3);
    expect(read.expiration()).toBe(NOW + HOUR);
    expect(hex(read.key().serialize())).toBe(hex(alice.identity.publicKey.serialize()));
    expect(read.serverCertificate().keyId()).toBe(0x1234);
    expect(hex(read.serverCertificate().serialize())).toBe(hex(server.serverCert));
    const root = server.trustRootFor(r);
    expect(read.validate(root, NOW)).toBe(true);
    expect(read.validate(root, NOW + HOUR)).toBe(true);
    expect(read.validate(root, NOW + HOUR + 1)).toBe(false);
    expect(read.validate(r.PrivateKey.generate().getPublicKey(), NOW)).toBe(false);
    expect(read.validateWithTrustRoots([r.PrivateKey.generate().getPublicKey(), root], NOW)).toBe(true);
    // Signed by a key other than the certified server key: refused.
    const forged = server.certify(m, alice, { signer: m.PrivateKey.generate() });
    expect(r.SenderCertificate.deserialize(forged.serialize()).validate(root, NOW)).toBe(false);
  });

  it('our certificate body is libsignal-identical for the same inputs (only the signature is random)', () => {
    const server = new Server(impls.libsignal);
    const alice = new Party(impls.ours, 'alice', 7);
    const a = server.certify(impls.ours, alice);
    const b = server.certify(impls.libsignal, alice);
    expect(hex(a.certificate())).toBe(hex(b.certificate()));
  });

  it.each(NAMES)('a revoked server key id is refused by %s whatever its signature', (name) => {
    const impl = impls[name];
    const server = new Server(impl, 0xdeadc357);
    const cert = server.certify(impl, new Party(impl, 'alice'));
    expect(cert.validate(server.trustRootFor(impl), NOW)).toBe(false);
    expect(
      new Server(impl, 0xdeadc356)
        .certify(impl, new Party(impl, 'a'))
        .validate(new Server(impl).trustRootFor(impl), NOW),
    ).toBe(false);
  });
});

describe.each(PAIRS)('sealed sender v1, %s → %s', (sName, rName) => {
  const setup = async () => {
    const server = new Server(impls[sName]);
    const alice = new Party(impls[sName], 'alice');
    const bob = new Party(impls[rName], 'bob', 2);
    await connect(alice, bob);
    return { server, alice, bob };
  };

  it('a conversation both ways: PreKey and Whisper messages inside, sender known only from the certificate', async () => {
    const { server, alice, bob } = await setup();
    const aliceCert = server.certify(alice.impl, alice);
    const bobCert = server.certify(bob.impl, bob);
    for (let i = 0; i < 3; i++) {
      const res = await sealedReceive(bob, await sealedSend(alice, bob, aliceCert, `a${i}`), server);
      expect(str(res.message())).toBe(`a${i}`);
      expect(res.senderUuid()).toBe(alice.name);
      expect(res.senderE164()).toBe('+15550001111');
      expect(res.deviceId()).toBe(1);
      const back = await sealedReceive(alice, await sealedSend(bob, alice, bobCert, `b${i}`), server);
      expect(str(back.message())).toBe(`b${i}`);
      expect(back.senderUuid()).toBe(bob.name);
      expect(back.deviceId()).toBe(2);
    }
  });

  it('refuses expired, untrusted and wrongly signed certificates, with no state change', async () => {
    const { server, alice, bob } = await setup();
    const ok = await sealedSend(alice, bob, server.certify(alice.impl, alice), 'hi');
    await refusedUnchanged(bob, () => sealedReceive(bob, ok, server, NOW + HOUR + 1));
    await refusedUnchanged(bob, () => sealedReceive(bob, ok, new Server(alice.impl)));
    const forged = server.certify(alice.impl, alice, { signer: alice.impl.PrivateKey.generate() });
    await refusedUnchanged(bob, async () => sealedReceive(bob, await sealedSend(alice, bob, forged, 'x'), server));
    // The genuine message still decrypts afterwards.
    expect(str((await sealedReceive(bob, ok, server)).message())).toBe('hi');
  });

  it('refuses a certificate naming another identity key than the one that sealed the message', async () => {
    const { server, alice, bob } = await setup();
    const mallory = alice.impl.PrivateKey.generate().getPublicKey();
    const cert = server.certify(alice.impl, alice, { key: mallory });
    const err = await refusedUnchanged(bob, async () =>
      sealedReceive(bob, await sealedSend(alice, bob, cert, 'x'), server),
    );
    expect(err.message).toMatch(/sender certificate key does not match|mismatch|does not match/i);
  });

  it("refuses a certificate whose identity is not the inner message's (ours; libsignal relies on the session)", async () => {
    const { server, alice, bob } = await setup();
    // Mallory holds a certificate naming Alice's account with Mallory's own key (a server-signed lie) and seals
    // Alice's genuine messages under it: the envelope and certificate check out, only the inner identity differs.
    const mallory = new Party(alice.impl, 'mallory');
    await mallory.stores.identities.saveIdentity(
      alice.addressOf(bob),
      alice.impl.PublicKey.deserialize(bob.identity.publicKey.serialize()),
    );
    const lie = server.certify(alice.impl, alice, { key: mallory.identity.publicKey });
    const reseal = async (inner: ours.CiphertextMessage): Promise<Uint8Array> =>
      alice.impl.sealedSenderEncrypt(
        alice.impl.UnidentifiedSenderMessageContent.new(inner, lie, 0, null),
        alice.addressOf(bob),
        mallory.stores.identities,
      );
    const first = await innerMessage(alice, bob, 'prekey');
    const prekeyForgery = await reseal(first);
    if (bob.impl === impls.ours) {
      const err = await refusedUnchanged(bob, () => sealedReceive(bob, prekeyForgery, server));
      expect(err.message).toBe('sender certificate identity does not match the message');
    } else {
      // libsignal-client 0.103 accepts it (the content is Alice's and names Alice): ours is stricter on purpose.
      expect(str((await sealedReceive(bob, prekeyForgery, server)).message())).toBe('prekey');
      return;
    }
    // The genuine PreKey message, then a Whisper message under the lie.
    const genuine = alice.impl.UnidentifiedSenderMessageContent.new(first, server.certify(alice.impl, alice), 0, null);
    const sealed = await alice.impl.sealedSenderEncrypt(genuine, alice.addressOf(bob), alice.stores.identities);
    expect(str((await sealedReceive(bob, sealed, server)).message())).toBe('prekey');
    await alice.decrypt(bob, await bob.encrypt(alice, text('ack')));
    const whisperForgery = await reseal(await innerMessage(alice, bob, 'whisper'));
    const err = await refusedUnchanged(bob, () => sealedReceive(bob, whisperForgery, server));
    expect(err.message).toBe('sender certificate identity does not match the message');
  });

  it('refuses a message from our own device (self-send)', async () => {
    const { server, alice, bob } = await setup();
    // Alice's session and seal, but a certificate naming Bob's own account and device, for Bob's identity key:
    // the envelope must then be sealed by Bob's identity (as a copy of Bob's device would).
    const bobAsSender = new Party(alice.impl, 'bob-copy', bob.deviceId, bob);
    await connect(bobAsSender, bob);
    const cert = server.certify(bobAsSender.impl, bobAsSender);
    const sealed = await sealedSend(bobAsSender, bob, cert, 'me');
    const err = await refusedUnchanged(bob, () => sealedReceive(bob, sealed, server));
    expect(err.code).toBe(bob.impl.ErrorCode.SealedSenderSelfSend);
  });

  it('refuses every single-byte tampering, with no state change', async () => {
    const { server, alice, bob } = await setup();
    const sealed = await sealedSend(alice, bob, server.certify(alice.impl, alice), 'tamper');
    const positions = [0, 1, 2, 3, 5, 8, 40, 41, 100, sealed.length - 11, sealed.length - 2, sealed.length - 1];
    for (let i = 150; i < sealed.length; i += 97) positions.push(i);
    for (const p of positions) {
      const t = sealed.slice();
      t[p] = (t[p] as number) ^ (p === 0 ? 0x80 : 0x01);
      await refusedUnchanged(bob, () => sealedReceive(bob, t, server));
    }
    expect(str((await sealedReceive(bob, sealed, server)).message())).toBe('tamper');
  });
});

describe.each(PAIRS)('sealed sender v2, %s → %s', (sName, rName) => {
  it('multi-recipient send: both servers parse it alike, every recipient decrypts its received form', async () => {
    const sImpl = impls[sName];
    const rImpl = impls[rName];
    const server = new Server(sImpl);
    const alice = new Party(sImpl, 'alice');
    const bob = new Party(rImpl, 'bob');
    const bob2 = new Party(rImpl, 'bob-2', 2, bob);
    const carol = new Party(rImpl, 'carol', 5);
    for (const r of [bob, bob2, carol]) await connect(alice, r);
    const usmc = sImpl.UnidentifiedSenderMessageContent.new(
      await innerMessage(alice, bob, 'group'),
      server.certify(sImpl, alice),
      sImpl.ContentHint.Resendable,
      Uint8Array.of(1, 2, 3),
    );
    const excluded = new Party(rImpl, 'dave');
    const sent = await sImpl.sealedSenderMultiRecipientEncrypt({
      content: usmc,
      recipients: [alice.addressOf(bob), alice.addressOf(carol), alice.addressOf(bob2)],
      excludedRecipients: [Aci.fromUuid(excluded.name)],
      identityStore: alice.stores.identities,
      sessionStore: alice.stores.sessions,
    });
    expect(sent[0]).toBe(0x23);
    // libsignal lists Bob twice (his devices are not adjacent); both parsers merge them.

    const views = NAMES.map((n) => new parsers[n](sent));
    const shapes = views.map((v) => {
      const map = v.recipientsByServiceIdString();
      return Object.fromEntries(
        Object.keys(map)
          .sort()
          .map((k) => [k, { deviceIds: map[k]!.deviceIds, registrationIds: map[k]!.registrationIds }]),
      );
    });
    expect(shapes[0]).toEqual(shapes[1]);
    expect(shapes[0]).toEqual({
      [bob.name]: { deviceIds: [1, 2], registrationIds: [bob.registrationId, bob2.registrationId] },
      [carol.name]: { deviceIds: [5], registrationIds: [carol.registrationId] },
    });
    expect(views.map((v) => [...v.excludedRecipientServiceIdStrings()])).toEqual([[excluded.name], [excluded.name]]);
    const forBob = views.map((v) => hex(v.messageForRecipient(v.recipientsByServiceIdString()[bob.name]!)));
    expect(forBob[0]).toBe(forBob[1]);

    const received = views[0]!.messageForRecipient(views[0]!.recipientsByServiceIdString()[bob.name]!);
    expect(received[0]).toBe(0x22);
    const res = await sealedReceive(bob, received, server);
    expect(str(res.message())).toBe('group');
    expect(res.senderUuid()).toBe(alice.name);
    for (const r of [bob2, carol]) {
      const mine = views[1]!.messageForRecipient(views[1]!.recipientsByServiceIdString()[r.name]!);
      const content = await rImpl.sealedSenderDecryptToUsmc(mine, r.stores.identities);
      expect(content.senderCertificate().senderUuid()).toBe(alice.name);
      expect(content.contentHint()).toBe(1);
      expect(hex(content.groupId()!)).toBe('010203');
      expect(content.msgType()).toBe(rImpl.CiphertextMessageType.PreKey);
    }
  });

  it('refuses tampering with the received form (C, AT, E, ciphertext) and a forged sender, with no state change', async () => {
    const sImpl = impls[sName];
    const server = new Server(sImpl);
    const alice = new Party(sImpl, 'alice');
    const bob = new Party(impls[rName], 'bob');
    await connect(alice, bob);
    const inner = await innerMessage(alice, bob, 'v2');
    const content = (key?: ours.PublicKey) =>
      sImpl.UnidentifiedSenderMessageContent.new(inner, server.certify(sImpl, alice, key ? { key } : {}), 0, null);
    const send = async (usmc: ours.UnidentifiedSenderMessageContent) =>
      sImpl.sealedSenderMultiRecipientMessageForSingleRecipient(
        await sImpl.sealedSenderMultiRecipientEncrypt(
          usmc,
          [alice.addressOf(bob)],
          alice.stores.identities,
          alice.stores.sessions,
        ),
      );
    const received = await send(content());
    for (const p of [1, 20, 33, 40, 49, 60, 81, 100, received.length - 1]) {
      const t = received.slice();
      t[p] = (t[p] as number) ^ 0x01;
      await refusedUnchanged(bob, () => sealedReceive(bob, t, server));
    }
    // A certificate for another identity key: the AT was computed with Alice's key, so it does not verify.
    const forged = await send(content(sImpl.PrivateKey.generate().getPublicKey()));
    await refusedUnchanged(bob, () => sealedReceive(bob, forged, server));
    expect(str((await sealedReceive(bob, received, server)).message())).toBe('v2');
  });

  it('refuses a registration id above 0x3FFF', async () => {
    const sImpl = impls[sName];
    const server = new Server(sImpl);
    const alice = new Party(sImpl, 'alice');
    const bob = new Party(impls[rName], 'bob');
    const bundle = await bob.newBundle(true);
    await alice.processBundle(bob, { ...bundle, registrationId: 0x4000 });
    const usmc = sImpl.UnidentifiedSenderMessageContent.new(
      await innerMessage(alice, bob, 'x'),
      server.certify(sImpl, alice),
      0,
      null,
    );
    const err = await rejection(
      sImpl.sealedSenderMultiRecipientEncrypt(
        usmc,
        [alice.addressOf(bob)],
        alice.stores.identities,
        alice.stores.sessions,
      ),
    );
    expect(err.code).toBe(sImpl.ErrorCode.InvalidRegistrationId);
  });
});
