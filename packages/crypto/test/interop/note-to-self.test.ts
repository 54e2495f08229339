/**
 * Note-to-self sessions (two devices of one account: same ServiceId, same identity key) have no forward-jump
 * limit, as in libsignal: a linked device that was away for more than 25,000 of its own account's messages must
 * still decrypt the next one. Sessions between two accounts keep the 25,000 limit, in the Double Ratchet and in
 * SPQR. Run for every pairing of ours and libsignal-client (initiator → responder), with the gap in both
 * directions: once with both ratchets jumping, once with only SPQR's chain index jumping (the receiver's replies
 * keep resetting the sender's Double Ratchet chain while none of the sender's messages arrive, so the SPQR epoch
 * cannot advance). Every record is loaded from its stored bytes before it decrypts across the gap, so the limit
 * must survive a save and a load on both sides.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';

import { type Impl, type Msg, Party } from './harness.js';

const impls: Record<'ours' | 'libsignal', Impl> = {
  ours: await import('../../src/index.js'),
  libsignal: (await import('@signalapp/libsignal-client')) as unknown as Impl,
};

beforeAll(async () => {
  await impls.ours.ready();
});

/** Past the 25,000-jump limit of a session between two accounts, by as much as the review's scenario. */
const GAP = 25_010;
/** In the SPQR-only gap, the receiver answers after every this many undelivered messages. */
const REPLY_EVERY = 1_000;

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

async function establish(a: Party, b: Party): Promise<void> {
  await a.processBundle(b, await b.newBundle(true));
  expect(str(await b.decrypt(a, await a.encrypt(b, text('hello'))))).toBe('hello');
  expect(str(await a.decrypt(b, await b.encrypt(a, text('hi'))))).toBe('hi');
}

/**
 * `from` sends GAP messages of which none arrive; returns the last one and one GAP − 20 back. With
 * `spqrOnly`, `to` replies every REPLY_EVERY messages and `from` receives the replies.
 */
async function gap(from: Party, to: Party, spqrOnly: boolean): Promise<{ last: Msg; near: Msg }> {
  from.stores.sessions.keepObjects = true; // the sender's record is not serialized 25,010 times
  let last: Msg | null = null;
  let near: Msg | null = null;
  for (let i = 1; i <= GAP; i++) {
    last = await from.encrypt(to, text(`m${i}`));
    if (i === 20) near = last;
    if (spqrOnly && i % REPLY_EVERY === 0) {
      expect(str(await from.decrypt(to, await to.encrypt(from, text(`r${i}`))))).toBe(`r${i}`);
    }
  }
  from.stores.sessions.flush();
  return { last: last as Msg, near: near as Msg };
}

/** The code each implementation gives a message it cannot decrypt: ours InvalidMessage, libsignal Generic. */
function invalidMessageCode(impl: Impl): number {
  return (impl.ErrorCode as unknown as Record<string, number | undefined>).InvalidMessage ?? impl.ErrorCode.Generic;
}

const pairs: [keyof typeof impls, keyof typeof impls][] = [
  ['ours', 'ours'],
  ['ours', 'libsignal'],
  ['libsignal', 'ours'],
  ['libsignal', 'libsignal'],
];

describe.each(pairs)('note to self, %s → %s', (aName, bName) => {
  const A = impls[aName];
  const B = impls[bName];

  it('should decrypt after a gap of 25,010 messages in both directions', async () => {
    const phone = new Party(A, 'phone', 1);
    const laptop = new Party(B, 'laptop', 2, phone);
    await establish(phone, laptop);

    const toLaptop = await gap(phone, laptop, false);
    expect(str(await laptop.decrypt(phone, toLaptop.last))).toBe(`m${GAP}`);

    const toPhone = await gap(laptop, phone, true);
    expect(str(await phone.decrypt(laptop, toPhone.last))).toBe(`m${GAP}`);

    for (let i = 0; i < 3; i++) {
      expect(str(await laptop.decrypt(phone, await phone.encrypt(laptop, text(`p${i}`))))).toBe(`p${i}`);
      expect(str(await phone.decrypt(laptop, await laptop.encrypt(phone, text(`l${i}`))))).toBe(`l${i}`);
    }
  }, 600_000);

  it("should refuse the same gap between two accounts when only SPQR's index jumps, changing nothing", async () => {
    const alice = new Party(A, 'alice', 1);
    const bob = new Party(B, 'bob', 2);
    await establish(alice, bob);

    const { last, near } = await gap(alice, bob, true);
    const before = bob.snapshot();
    const err = await bob.decrypt(alice, last).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as { code?: number } | null)?.code).toBe(invalidMessageCode(B));
    expect(bob.snapshot()).toBe(before);

    // A message within the limit still decrypts, and after it the far one is within reach.
    expect(str(await bob.decrypt(alice, near))).toBe('m20');
    expect(str(await bob.decrypt(alice, last))).toBe(`m${GAP}`);
  }, 300_000);
});
