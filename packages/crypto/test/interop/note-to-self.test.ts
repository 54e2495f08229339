/**
 * Note-to-self sessions (two devices of one account: same ServiceId, same identity key) have no forward-jump
 * limit, as in libsignal: a linked device that was away for more than 25,000 of its own account's messages must
 * still decrypt the next one. Sessions between two accounts keep the 25,000 limit, in the Double Ratchet and in
 * SPQR. Two kinds of gap: one with both ratchets jumping, and one with only SPQR's chain index jumping (the
 * receiver's replies keep resetting the sender's Double Ratchet chain while none of the sender's messages
 * arrive, so the SPQR epoch cannot advance). Every record is loaded from its stored bytes before it decrypts
 * across the gap, so the limit must survive a save and a load on both sides.
 *
 * What is covered, always with ours receiving (libsignal's receiving side is libsignal's behaviour, not ours):
 * - ours → ours: the initiator's gap (both ratchets) reaches the responder, the responder's gap (SPQR only)
 *   reaches the initiator;
 * - libsignal → ours (libsignal initiates): libsignal's gap (both ratchets) reaches our responder;
 * - ours → libsignal (ours initiates): libsignal's gap (SPQR only) reaches our initiator;
 * - two accounts, SPQR only, ours → ours: our responder refuses the far message changing nothing, decrypts one
 *   within the limit, then the far one. (The same refusal with both ratchets jumping, from libsignal to ours, is
 *   matrix.test.ts's "rejects a message past the 25,000 forward-jump limit".)
 *
 * Speed: dropped messages are never encrypted by ours. Our sender runs only the state transition of each
 * dropped send (`ratchetSendStep`, the real chain step and SPQR send, without building the message), which is
 * proved here to leave the same record and the same next wire bytes as real sends. libsignal has no such seam,
 * so it encrypts every dropped message.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';

import { defaultRng } from '../../src/primitives/random.js';
import { ratchetSendStep } from '../../src/ratchet/session-state.js';
import { seededRng } from '../support/seeded-rng.js';
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
/** The message that is kept back in the refusal scenario, well within the limit of the far one. */
const NEAR = 20;
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
 * Test-only seam: `count` sends of `from` to `to` whose messages are lost, applied to the stored record as the
 * state transitions alone. Only for ours, and only on an acknowledged session (a pending PreKey session would
 * wrap each message in a PreKey envelope, which changes no state either).
 */
async function dropSendsFast(from: Party, to: Party, count: number, rng = defaultRng): Promise<void> {
  const address = from.addressOf(to);
  const record = await from.stores.sessions.getSession(address);
  let state = record?._currentState();
  if (!record || !state || state.pendingPreKey !== null) throw new Error('fast drops need an acknowledged session');
  for (let i = 0; i < count; i++) state = ratchetSendStep(state, rng).state;
  const updated = record.clone();
  updated.setCurrentState(state);
  await from.stores.sessions.saveSession(address, updated);
}

/** `count` sends of `from` to `to` that never arrive: through the seam for ours, really encrypted by libsignal. */
async function dropSends(from: Party, to: Party, count: number): Promise<void> {
  if (from.impl === impls.ours) return dropSendsFast(from, to, count);
  for (let i = 0; i < count; i++) await from.encrypt(to, text('lost'));
}

/**
 * `from` sends GAP messages of which none arrive; returns the last one and the NEAR-th. With `spqrOnly`, `to`
 * replies after every REPLY_EVERY messages and `from` receives the replies.
 */
async function gap(from: Party, to: Party, spqrOnly: boolean): Promise<{ last: Msg; near: Msg }> {
  from.stores.sessions.keepObjects = true; // the sender's record is not serialized 25,010 times
  let last: Msg | null = null;
  let near: Msg | null = null;
  let sent = 0;
  while (sent < GAP) {
    const nextReply = spqrOnly ? (Math.floor(sent / REPLY_EVERY) + 1) * REPLY_EVERY : GAP;
    const stop = Math.min(GAP, nextReply, sent < NEAR ? NEAR : GAP);
    await dropSends(from, to, stop - 1 - sent);
    sent = stop;
    const msg = await from.encrypt(to, text(`m${sent}`));
    if (sent === NEAR) near = msg;
    if (sent === GAP) last = msg;
    if (spqrOnly && sent % REPLY_EVERY === 0) {
      expect(str(await from.decrypt(to, await to.encrypt(from, text(`r${sent}`))))).toBe(`r${sent}`);
    }
  }
  from.stores.sessions.flush();
  return { last: last as Msg, near: near as Msg };
}

async function roundTrips(phone: Party, laptop: Party): Promise<void> {
  for (let i = 0; i < 3; i++) {
    expect(str(await laptop.decrypt(phone, await phone.encrypt(laptop, text(`p${i}`))))).toBe(`p${i}`);
    expect(str(await phone.decrypt(laptop, await laptop.encrypt(phone, text(`l${i}`))))).toBe(`l${i}`);
  }
}

describe('the fast-drop seam', () => {
  it('should leave the same record and the same next message as really encrypted drops', async () => {
    const alice = new Party(impls.ours, 'alice', 1);
    const bob = new Party(impls.ours, 'bob', 2);
    await establish(alice, bob);
    // Bob receives all of Alice's SPQR header, so his next send encapsulates (consuming randomness) and the
    // drops after it carry ciphertext chunks, systematic then parity.
    for (let i = 0; i < 3; i++) await bob.decrypt(alice, await alice.encrypt(bob, text(`h${i}`)));
    const address = bob.addressOf(alice);
    const saved = bob.stores.sessions.data.get(address.toString()) as Uint8Array;
    const { SessionRecord, signalEncrypt } = impls.ours;
    const now = new Date();
    /** Past SPQR's 30 systematic ciphertext chunks into parity ones. */
    const DROPS = 40;
    const send = (plaintext: string, rng: (n: number) => Uint8Array) =>
      signalEncrypt(text(plaintext), address, bob.address, bob.stores.sessions, bob.stores.identities, now, rng);
    const record = async (): Promise<string> =>
      Buffer.from((await bob.stores.sessions.getSession(address))!.serialize()).toString('hex');

    const real = seededRng('drops');
    for (let i = 0; i < DROPS; i++) await send('lost', real);
    const realNext = await send('next', real);
    const realRecord = await record();

    await bob.stores.sessions.saveSession(address, SessionRecord.deserialize(saved));
    const fast = seededRng('drops');
    await dropSendsFast(bob, alice, DROPS, fast);
    const fastNext = await send('next', fast);

    expect(Buffer.from(fastNext.serialize()).toString('hex')).toBe(Buffer.from(realNext.serialize()).toString('hex'));
    expect(await record()).toBe(realRecord);
    expect(str(await alice.decrypt(bob, { type: fastNext.type(), bytes: fastNext.serialize() }))).toBe('next');
  });
});

describe('note to self', () => {
  it('should decrypt after a gap of 25,010 messages in both directions, ours → ours', async () => {
    const phone = new Party(impls.ours, 'phone', 1);
    const laptop = new Party(impls.ours, 'laptop', 2, phone);
    await establish(phone, laptop);

    const toLaptop = await gap(phone, laptop, false);
    expect(str(await laptop.decrypt(phone, toLaptop.last))).toBe(`m${GAP}`);
    const toPhone = await gap(laptop, phone, true);
    expect(str(await phone.decrypt(laptop, toPhone.last))).toBe(`m${GAP}`);
    await roundTrips(phone, laptop);
  }, 120_000);

  it("should decrypt after a gap of 25,010 messages from libsignal's initiator to our responder", async () => {
    const phone = new Party(impls.libsignal, 'phone', 1);
    const laptop = new Party(impls.ours, 'laptop', 2, phone);
    await establish(phone, laptop);

    const toLaptop = await gap(phone, laptop, false);
    expect(str(await laptop.decrypt(phone, toLaptop.last))).toBe(`m${GAP}`);
    await roundTrips(phone, laptop);
  }, 300_000);

  it("should decrypt after a gap of 25,010 SPQR indices from libsignal's responder to our initiator", async () => {
    const phone = new Party(impls.ours, 'phone', 1);
    const laptop = new Party(impls.libsignal, 'laptop', 2, phone);
    await establish(phone, laptop);

    const toPhone = await gap(laptop, phone, true);
    expect(str(await phone.decrypt(laptop, toPhone.last))).toBe(`m${GAP}`);
    await roundTrips(phone, laptop);
  }, 300_000);
});

describe('two accounts, ours → ours', () => {
  it("should refuse the same gap between two accounts when only SPQR's index jumps, changing nothing", async () => {
    const alice = new Party(impls.ours, 'alice', 1);
    const bob = new Party(impls.ours, 'bob', 2);
    await establish(alice, bob);

    const { last, near } = await gap(alice, bob, true);
    const before = bob.snapshot();
    const err = await bob.decrypt(alice, last).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as { code?: number } | null)?.code).toBe(impls.ours.ErrorCode.InvalidMessage);
    expect(bob.snapshot()).toBe(before);

    // A message within the limit still decrypts, and after it the far one is within reach.
    expect(str(await bob.decrypt(alice, near))).toBe(`m${NEAR}`);
    expect(str(await bob.decrypt(alice, last))).toBe(`m${GAP}`);
  }, 300_000);
});
