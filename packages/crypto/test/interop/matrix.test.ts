/**
 * The interop matrix: one scenario suite, run unchanged for every pair of implementations (ours and
 * libsignal-client 0.103, imported as module namespaces), initiator → responder. Schedules come from a seeded PRNG.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';

import { prng } from '../support/seeded-rng.js';
import { type Impl, type Msg, Party, spqrEpoch } from './harness.js';

const impls: Record<'ours' | 'libsignal', Impl> = {
  ours: await import('../../src/index.js'),
  libsignal: (await import('@signalapp/libsignal-client')) as unknown as Impl,
};

beforeAll(async () => {
  await impls.ours.ready();
});

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);
const DAY = 24 * 60 * 60 * 1000;

/** Codes a receiving implementation may use for a rejected (malformed, forged or undecryptable) message. */
function rejectionCodes(impl: Impl): number[] {
  const c = impl.ErrorCode as unknown as Record<string, number | undefined>;
  return ['InvalidMessage', 'LegacyCiphertextVersion', 'UnrecognizedCiphertextVersion', 'InvalidKey', 'SessionNotFound']
    .map((n) => c[n])
    .filter((v): v is number => v !== undefined)
    .concat(impl.ErrorCode.Generic);
}

async function expectRejected(receiver: Party, p: Promise<unknown>): Promise<void> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  // Not `toBeInstanceOf(Error)`: libsignal's native module builds its errors in the realm of the first test file
  // that loaded it, and Jest gives every test file its own realm.
  expect(err).not.toBeNull();
  expect(rejectionCodes(receiver.impl)).toContain((err as { code: number }).code);
}

async function establish(a: Party, b: Party, withOneTime = true): Promise<void> {
  await a.processBundle(b, await b.newBundle(withOneTime));
  const first = await a.encrypt(b, text('hello'));
  expect(first.type).toBe(3);
  expect(str(await b.decrypt(a, first))).toBe('hello');
  const reply = await b.encrypt(a, text('hi'));
  expect(reply.type).toBe(2);
  expect(str(await a.decrypt(b, reply))).toBe('hi');
}

async function chat(a: Party, b: Party, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const m = await a.encrypt(b, text(`a${i}`));
    expect(m.type).toBe(2);
    expect(str(await b.decrypt(a, m))).toBe(`a${i}`);
    const r = await b.encrypt(a, text(`b${i}`));
    expect(r.type).toBe(2);
    expect(str(await a.decrypt(b, r))).toBe(`b${i}`);
  }
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

const pairs: [keyof typeof impls, keyof typeof impls][] = [
  ['ours', 'ours'],
  ['ours', 'libsignal'],
  ['libsignal', 'ours'],
  ['libsignal', 'libsignal'],
];

describe.each(pairs)('%s → %s', (aName, bName) => {
  const A = impls[aName];
  const B = impls[bName];

  it('sets up a session with a one-time prekey, consuming it and marking the Kyber prekey used', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    const bundle = await bob.newBundle(true);
    await alice.processBundle(bob, bundle);
    const m = await alice.encrypt(bob, text('first'));
    expect(m.type).toBe(3);
    expect(bob.stores.preKeys.data.has(bundle.preKeyId!)).toBe(true);
    expect(str(await bob.decrypt(alice, m))).toBe('first');
    expect(bob.stores.preKeys.data.has(bundle.preKeyId!)).toBe(false);
    expect(bob.stores.kyberPreKeys.used.size).toBe(1);
    // Until Alice hears back, she keeps sending PreKey messages.
    const m2 = await alice.encrypt(bob, text('second'));
    expect(m2.type).toBe(3);
    expect(str(await bob.decrypt(alice, m2))).toBe('second');
    expect(str(await alice.decrypt(bob, await bob.encrypt(alice, text('ack'))))).toBe('ack');
    expect((await alice.encrypt(bob, text('third'))).type).toBe(2);
    await chat(alice, bob, 3);
  });

  it('sets up a session without a one-time prekey', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    await establish(alice, bob, false);
    await chat(alice, bob, 3);
  });

  it('refuses a bundle with a bad signed-prekey or Kyber-prekey signature', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    const good = await bob.newBundle(true);
    for (const field of ['signedPreKeySignature', 'kyberPreKeySignature'] as const) {
      const sig = good[field].slice();
      sig[5]! ^= 0x01;
      await expect(alice.processBundle(bob, { ...good, [field]: sig })).rejects.toThrow();
    }
    expect(alice.stores.sessions.data.size).toBe(0);
  });

  it('refuses a changed identity key with UntrustedIdentity (the same code in both implementations)', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    await establish(alice, bob);
    const impostor = new Party(B, 'impostor');
    const forged = await impostor.newBundle(true);
    const err = await alice.processBundle(bob, forged).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as { code: number }).code).toBe(A.ErrorCode.UntrustedIdentity);
    await chat(alice, bob, 1);
  });

  it('runs 1,200 messages with random interleaving, bursts, reordering and drops across many SPQR epochs', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    await establish(alice, bob);
    const rand = prng(0xc0ffee ^ (aName.length * 31 + bName.length));
    type InFlight = { msg: Msg; body: string };
    const queues = { ab: [] as InFlight[], ba: [] as InFlight[] };
    let sent = 0;
    let delivered = 0;
    let dropped = 0;
    let maxEpoch = 0;
    const send = async (from: Party, to: Party, q: InFlight[], impl: Impl): Promise<void> => {
      const burst = rand() < 0.2 ? 2 + Math.floor(rand() * 6) : 1;
      for (let i = 0; i < burst; i++) {
        const body = `${from.label}-${sent++}`;
        const msg = await from.encrypt(to, text(body));
        maxEpoch = Math.max(maxEpoch, spqrEpoch(impl, msg));
        q.push({ msg, body });
      }
    };
    const deliver = async (to: Party, from: Party, q: InFlight[]): Promise<void> => {
      if (q.length === 0) return;
      const i = Math.floor(rand() * Math.min(3, q.length)); // reordering within a small window
      const [item] = q.splice(i, 1);
      if (rand() < 0.03) {
        dropped++;
        return;
      }
      expect(str(await to.decrypt(from, item!.msg))).toBe(item!.body);
      delivered++;
    };
    while (sent < 1200) {
      const r = rand();
      if (r < 0.15) await send(alice, bob, queues.ab, A);
      else if (r < 0.3) await send(bob, alice, queues.ba, B);
      else if (r < 0.65) await deliver(bob, alice, queues.ab);
      else await deliver(alice, bob, queues.ba);
    }
    while (queues.ab.length > 0) await deliver(bob, alice, queues.ab);
    while (queues.ba.length > 0) await deliver(alice, bob, queues.ba);
    expect(delivered + dropped).toBe(sent);
    expect(dropped).toBeGreaterThan(10);
    expect(maxEpoch).toBeGreaterThanOrEqual(5);
    await chat(alice, bob, 2);
  }, 120_000);

  it('reports duplicates as DuplicatedMessage and changes no state', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    const first = await (async () => {
      await alice.processBundle(bob, await bob.newBundle(true));
      return alice.encrypt(bob, text('prekey'));
    })();
    expect(str(await bob.decrypt(alice, first))).toBe('prekey');
    let before = bob.snapshot();
    const dupPreKey = await bob.decrypt(alice, first).then(
      () => null,
      (e: unknown) => e,
    );
    expect((dupPreKey as { code: number }).code).toBe(B.ErrorCode.DuplicatedMessage);
    expect(bob.snapshot()).toBe(before);
    await chat(bob, alice, 1);
    const msgs = [
      await alice.encrypt(bob, text('x0')),
      await alice.encrypt(bob, text('x1')),
      await alice.encrypt(bob, text('x2')),
    ];
    expect(str(await bob.decrypt(alice, msgs[2]!))).toBe('x2');
    expect(str(await bob.decrypt(alice, msgs[0]!))).toBe('x0');
    before = bob.snapshot();
    for (const m of [msgs[0]!, msgs[2]!]) {
      const err = await bob.decrypt(alice, m).then(
        () => null,
        (e: unknown) => e,
      );
      expect((err as { code: number }).code).toBe(B.ErrorCode.DuplicatedMessage);
      expect(bob.snapshot()).toBe(before);
    }
    expect(str(await bob.decrypt(alice, msgs[1]!))).toBe('x1');
    await chat(alice, bob, 2);
  });

  it('rejects a message past the 25,000 forward-jump limit, then carries on', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    await establish(alice, bob);
    alice.stores.sessions.keepObjects = true;
    const keep = new Map<number, Msg>();
    for (let i = 0; i <= 25_001; i++) {
      const m = await alice.encrypt(bob, text(`j${i}`));
      if (i === 24_990 || i === 25_001) keep.set(i, m);
    }
    const before = bob.snapshot();
    await expectRejected(bob, bob.decrypt(alice, keep.get(25_001)!));
    expect(bob.snapshot()).toBe(before);
    // 24,990 is within both the Double Ratchet and the SPQR jump limits.
    expect(str(await bob.decrypt(alice, keep.get(24_990)!))).toBe('j24990');
    expect(str(await bob.decrypt(alice, keep.get(25_001)!))).toBe('j25001');
    await chat(bob, alice, 2);
  }, 120_000);

  it('converges after simultaneous initiation', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    await alice.processBundle(bob, await bob.newBundle(true));
    await bob.processBundle(alice, await alice.newBundle(true));
    const toBob = await alice.encrypt(bob, text('from alice'));
    const toAlice = await bob.encrypt(alice, text('from bob'));
    expect([toBob.type, toAlice.type]).toEqual([3, 3]);
    expect(str(await alice.decrypt(bob, toAlice))).toBe('from bob');
    expect(str(await bob.decrypt(alice, toBob))).toBe('from alice');
    const m = await alice.encrypt(bob, text('after'));
    expect(m.type).toBe(2);
    expect(str(await bob.decrypt(alice, m))).toBe('after');
    const r = await bob.encrypt(alice, text('reply'));
    expect(r.type).toBe(2);
    expect(str(await alice.decrypt(bob, r))).toBe('reply');
    await chat(alice, bob, 5);
    await chat(bob, alice, 5);
  });

  it('re-establishes a session after the responder loses its state', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    await establish(alice, bob);
    await chat(alice, bob, 2);
    bob.loseSessions();
    const lost = await alice.encrypt(bob, text('into the void'));
    await expectRejected(bob, bob.decrypt(alice, lost));
    await bob.processBundle(alice, await alice.newBundle(true));
    const restart = await bob.encrypt(alice, text('i am back'));
    expect(restart.type).toBe(3);
    expect(str(await alice.decrypt(bob, restart))).toBe('i am back');
    await chat(alice, bob, 3);
  });

  it('re-establishes a session after the initiator loses its state', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    await establish(alice, bob);
    await chat(alice, bob, 2);
    alice.loseSessions();
    await establish(alice, bob);
    await chat(bob, alice, 3);
  });

  it('stops using an unacknowledged session after 30 days', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    const t0 = new Date('2026-01-01T00:00:00Z');
    await alice.processBundle(bob, await bob.newBundle(true), t0);
    expect((await alice.encrypt(bob, text('early'), new Date(t0.getTime() + 29 * DAY))).type).toBe(3);
    await expect(alice.encrypt(bob, text('late'), new Date(t0.getTime() + 31 * DAY))).rejects.toThrow();
    const record = A.SessionRecord.deserialize(alice.stores.sessions.data.get(alice.addressOf(bob).toString())!);
    expect(record.hasCurrentState(new Date(t0.getTime() + 29 * DAY))).toBe(true);
    expect(record.hasCurrentState(new Date(t0.getTime() + 31 * DAY))).toBe(false);
  });

  it('rejects tampered Whisper messages without changing state, and the conversation continues', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    await establish(alice, bob);
    await chat(alice, bob, 1);
    const m = await alice.encrypt(bob, text('tamper target'));
    const bytes = m.bytes;
    const parsed = A.SignalMessage.deserialize(bytes);
    const bodyAt = indexOf(bytes, parsed.body());
    const pqAt = indexOf(bytes, parsed.pqRatchet());
    const flip = (at: number, mask = 0x01): Uint8Array => {
      const c = bytes.slice();
      c[at]! ^= mask;
      return c;
    };
    const variants: [string, Uint8Array][] = [
      ['ciphertext', flip(bodyAt + 3)],
      ['ciphertext last block', flip(bodyAt + parsed.body().length - 1)],
      ['MAC', flip(bytes.length - 1)],
      ['MAC first byte', flip(bytes.length - 8, 0x80)],
      ['version 3', Uint8Array.of(0x33, ...bytes.subarray(1))],
      ['version 2', Uint8Array.of(0x24, ...bytes.subarray(1))],
      ['version 5', Uint8Array.of(0x54, ...bytes.subarray(1))],
      ['ratchet key', flip(3 + 10)],
      ['ratchet key type', flip(3, 0x03)],
      ['SPQR payload', flip(pqAt + 5)],
      ['counter', flip(bytes.indexOf(0x10, 35) + 1, 0x40)],
      ['truncated to 1 byte', bytes.subarray(0, 1)],
      ['truncated to 9 bytes', bytes.subarray(0, 9)],
      ['truncated in half', bytes.subarray(0, bytes.length >> 1)],
      ['missing last byte', bytes.subarray(0, bytes.length - 1)],
      ['empty', new Uint8Array(0)],
    ];
    const before = bob.snapshot();
    for (const [, v] of variants) {
      await expectRejected(bob, bob.decrypt(alice, { type: 2, bytes: v }));
      expect(bob.snapshot()).toBe(before);
    }
    expect(str(await bob.decrypt(alice, m))).toBe('tamper target');
    await chat(bob, alice, 3);
  });

  it('rejects tampered PreKey messages without consuming prekeys, and the genuine one still works', async () => {
    const alice = new Party(A, 'alice');
    const bob = new Party(B, 'bob');
    await alice.processBundle(bob, await bob.newBundle(true));
    const m = await alice.encrypt(bob, text('prekey target'));
    const bytes = m.bytes;
    const baseKey = (() => {
      // base key (field 2) and identity key (field 3) are tagged 0x12 0x21 and 0x1a 0x21
      return {
        base: indexOf(bytes, Uint8Array.of(0x12, 0x21)) + 3,
        identity: indexOf(bytes, Uint8Array.of(0x1a, 0x21)) + 3,
      };
    })();
    const flip = (at: number): Uint8Array => {
      const c = bytes.slice();
      c[at]! ^= 0x01;
      return c;
    };
    const variants = [
      flip(baseKey.base + 7),
      flip(baseKey.identity + 7),
      flip(bytes.length - 700), // inside the Kyber ciphertext (the last field)
      flip(bytes.length - 1),
      bytes.subarray(0, bytes.length - 1),
      bytes.subarray(0, 40),
      Uint8Array.of(0x34, ...bytes.subarray(1)),
    ];
    const before = bob.snapshot();
    for (const v of variants) {
      await expectRejected(bob, bob.decrypt(alice, { type: 3, bytes: v }));
      expect(bob.snapshot()).toBe(before);
    }
    expect(str(await bob.decrypt(alice, m))).toBe('prekey target');
    await chat(bob, alice, 2);
  });
});
