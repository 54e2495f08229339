/**
 * Deterministic SPQR conversations for the byte-exact transcript (spqr-transcript.test.ts): seeded randomness for
 * key generation and encapsulation, seeded schedules for bursts, loss, late delivery, far jumps, duplicates and
 * forgeries. Every step folds what it produced — wire message, message key, the serialized state of the party
 * that changed, or the kind of the error it raised — into a running SHA-256; the digest is recorded every
 * `CHECKPOINT_EVERY` steps. Two implementations that agree on every checkpoint agree byte for byte on the wire,
 * in every key and in every stored state. Only the public SPQR API is used, so the scenarios outlive rewrites of
 * the modules behind it. Not a test by itself; not for production use.
 */
import { createHash } from 'node:crypto';

import type { SpqrState } from '../../src/ratchet/spqr/index.js';
import { SpqrError, spqrInitialState, spqrRecv, spqrSend } from '../../src/ratchet/spqr/index.js';
import { decodeMessage, encodeMessage } from '../../src/ratchet/spqr/message.js';
import { prng, seededRng } from '../support/seeded-rng.js';

/** Steps between recorded digests: small enough to locate a divergence, large enough to keep the file small. */
export const CHECKPOINT_EVERY = 100;

export interface Transcript {
  /** Running digest (first 16 hex digits) after every CHECKPOINT_EVERY steps, and after the last step. */
  checkpoints: string[];
  /** Steps that raised, as `step:kind`. */
  errors: string[];
  /** Highest epoch either party reached. */
  epoch: number;
}

interface InFlight {
  readonly message: Uint8Array;
  readonly key: Uint8Array;
}

class Recorder {
  private hash = createHash('sha256');
  private step = 0;
  readonly checkpoints: string[] = [];
  readonly errors: string[] = [];

  fold(label: string, ...parts: Uint8Array[]): void {
    this.hash.update(label);
    for (const p of parts) {
      this.hash.update(String(p.length));
      this.hash.update(p);
    }
    this.step++;
    if (this.step % CHECKPOINT_EVERY === 0) this.checkpoints.push(this.digest());
  }

  error(kind: string): void {
    this.errors.push(`${this.step}:${kind}`);
    this.fold(`error:${kind}`);
  }

  finish(): void {
    this.checkpoints.push(this.digest());
  }

  private digest(): string {
    return this.hash.copy().digest('hex').slice(0, 16);
  }
}

class Side {
  constructor(
    public state: SpqrState,
    private readonly rng: (n: number) => Uint8Array,
    private readonly rec: Recorder,
    private readonly label: string,
  ) {}

  /** Sends; `withState: false` folds only message and key (long one-way runs, where only a counter moves). */
  send(withState = true): InFlight {
    const out = spqrSend(this.state, this.rng);
    this.state = out.state;
    if (withState) this.rec.fold(`${this.label}>`, out.message, out.key, out.state.serialize());
    else this.rec.fold(`${this.label}>`, out.message, out.key);
    return { message: out.message, key: out.key };
  }

  /** Receives; a genuine message must give the sender's key. Returns false (recorded) when SPQR refuses it. */
  recv(m: InFlight | Uint8Array): boolean {
    const bytes = m instanceof Uint8Array ? m : m.message;
    let out: { state: SpqrState; key: Uint8Array };
    try {
      out = spqrRecv(this.state, bytes);
    } catch (e) {
      if (!(e instanceof SpqrError)) throw e;
      this.rec.error(e.kind);
      return false;
    }
    if (!(m instanceof Uint8Array) && Buffer.compare(out.key, m.key) !== 0) throw new Error('keys disagree');
    this.state = out.state;
    this.rec.fold(`${this.label}<`, out.key, out.state.serialize());
    return true;
  }

  /** Processes input without keeping the result: what it yields (or the error) is recorded, the state stays. */
  probe(bytes: Uint8Array): void {
    try {
      const out = spqrRecv(this.state, bytes);
      this.rec.fold(`${this.label}?`, out.key, out.state.serialize());
    } catch (e) {
      if (!(e instanceof SpqrError)) throw e;
      this.rec.error(e.kind);
    }
  }
}

function start(seed: string): { rec: Recorder; alice: Side; bob: Side } {
  const rec = new Recorder();
  const authKey = seededRng(`${seed}:auth`)(32);
  return {
    rec,
    alice: new Side(spqrInitialState(authKey, 'A2B'), seededRng(`${seed}:alice`), rec, 'A'),
    bob: new Side(spqrInitialState(authKey, 'B2A'), seededRng(`${seed}:bob`), rec, 'B'),
  };
}

function done(rec: Recorder, alice: Side, bob: Side): Transcript {
  rec.finish();
  return { checkpoints: rec.checkpoints, errors: rec.errors, epoch: Math.max(alice.state.epoch, bob.state.epoch) };
}

/** Random bursts both ways, delivery shuffled within a window of four, one message in ten lost. */
function lossyBursts(): Transcript {
  const { rec, alice, bob } = start('lossy-bursts');
  const random = prng(0x5eed01);
  const queues: [InFlight[], Side][] = [
    [[], bob],
    [[], alice],
  ];
  const deliver = (queue: InFlight[], to: Side, all: boolean): void => {
    while (queue.length > 0 && (all || random() < 0.7)) {
      const [m] = queue.splice(Math.floor(random() * Math.min(queue.length, 4)), 1);
      if (random() < 0.1) continue;
      to.recv(m as InFlight);
    }
  };
  for (let round = 0; round < 700; round++) {
    for (const [i, from] of [alice, bob].entries()) {
      const burst = random() < 0.5 ? 1 + Math.floor(random() * 6) : 0;
      for (let k = 0; k < burst; k++) (queues[i] as [InFlight[], Side])[0].push(from.send());
    }
    for (const [queue, to] of queues) deliver(queue, to, false);
  }
  for (const [queue, to] of queues) deliver(queue, to, true);
  return done(rec, alice, bob);
}

/**
 * Ping-pong where about one message in six is held back for 20–400 further steps: late messages cross epoch
 * boundaries, so some are refused (trimmed keys, epochs no longer kept) while the braid ignores stale chunks.
 */
function lateDelivery(): Transcript {
  const { rec, alice, bob } = start('late-delivery');
  const random = prng(0x5eed02);
  const held: { due: number; m: InFlight; to: Side }[] = [];
  for (let step = 0; step < 1600; step++) {
    const [from, to] = random() < 0.5 ? [alice, bob] : [bob, alice];
    const m = from.send();
    if (random() < 0.17) held.push({ due: step + 20 + Math.floor(random() * 380), m, to });
    else if (random() < 0.95) to.recv(m);
    for (let i = held.length - 1; i >= 0; i--) {
      const h = held[i] as (typeof held)[number];
      if (h.due <= step) {
        held.splice(i, 1);
        h.to.recv(h.m);
      }
    }
  }
  for (const h of held) h.to.recv(h.m);
  return done(rec, alice, bob);
}

/**
 * Long one-way runs with few deliveries: receive windows that grow past their sweep threshold, keys taken out of
 * order from the middle and the far past, duplicates, a jump of exactly the limit and one past it; then enough
 * ping-pong to carry the large histories through further epochs.
 */
function farJumps(): Transcript {
  const { rec, alice, bob } = start('far-jumps');
  const random = prng(0x5eed03);
  const pingPong = (rounds: number): void => {
    for (let i = 0; i < rounds; i++) {
      bob.recv(alice.send());
      alice.recv(bob.send());
    }
  };
  pingPong(30);
  for (const run of [2_150, 2_205, 4_700, 1_999, 2_001]) {
    const sent: InFlight[] = [];
    for (let i = 0; i < run; i++) sent.push(alice.send(i % 500 === 0));
    const picks = [run - 1, Math.floor(run / 2), 0, run - 2_000, run - 2_001, run - 1_999, 3, run - 1];
    for (let i = 0; i < 40; i++) picks.push(Math.floor(random() * run));
    for (const p of picks) if (p >= 0 && p < run) bob.recv(sent[p] as InFlight);
    pingPong(25);
  }
  // The jump limit itself: exactly 25,000 ahead is accepted; 25,001 ahead is refused until a nearer one arrives.
  let last: InFlight | null = null;
  for (let i = 0; i < 25_000; i++) last = alice.send(i % 500 === 0);
  bob.recv(last as InFlight);
  pingPong(25);
  const sent: InFlight[] = [];
  for (let i = 0; i < 25_001; i++) sent.push(alice.send(i % 500 === 0));
  bob.recv(sent[25_000] as InFlight);
  bob.recv(sent[24_990] as InFlight);
  bob.recv(sent[25_000] as InFlight);
  bob.recv(sent[10] as InFlight);
  pingPong(120);
  return done(rec, alice, bob);
}

/**
 * Genuine traffic interleaved with probes of bad input: chunks replaced by random bytes in every message type
 * (header, key and ciphertext checks fail when such a chunk completes its value), flipped bits, epochs from the
 * future and truncations, each processed against the current state and then dropped (a forged chunk that is kept
 * would poison its decoder for the whole epoch); plus genuine replays, which are kept.
 */
function forgeries(): Transcript {
  const { rec, alice, bob } = start('forgeries');
  const random = prng(0x5eed04);
  const noise = seededRng('forgeries:noise');
  for (let step = 0; step < 900; step++) {
    const [from, to] = random() < 0.5 ? [alice, bob] : [bob, alice];
    const m = from.send();
    const parsed = decodeMessage(m.message);
    const r = random();
    if (r < 0.25 && parsed.chunk !== null) {
      const forged = encodeMessage({ ...parsed, chunk: { index: parsed.chunk.index, data: noise(32) } });
      to.probe(forged);
    } else if (r < 0.3) {
      to.probe(encodeMessage({ ...parsed, epoch: parsed.epoch + 1 + Math.floor(random() * 3) }));
    } else if (r < 0.35) {
      const flipped = m.message.slice();
      const at = Math.floor(random() * flipped.length);
      flipped[at] = (flipped[at] as number) ^ (1 << Math.floor(random() * 8));
      to.probe(flipped);
    } else if (r < 0.38) {
      to.probe(m.message.slice(0, Math.floor(random() * m.message.length)));
    }
    if (random() < 0.9) {
      to.recv(m);
      if (random() < 0.05) to.recv(m);
    }
  }
  return done(rec, alice, bob);
}

export const SCENARIOS: Record<string, () => Transcript> = { lossyBursts, lateDelivery, farJumps, forgeries };
