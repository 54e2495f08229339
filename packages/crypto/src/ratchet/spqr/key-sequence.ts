/**
 * One direction of one SPQR epoch: a symmetric KDF chain (Double Ratchet spec rev. 3, §2.1 "KDF chains" and §5,
 * "The Sparse Post-Quantum Ratchet": KDF_SCKA_CK) that hands out a 32-byte message key per counter value, plus
 * the receiving side's store of keys skipped over for messages that arrive out of order (§3.5 and §8.4,
 * "Deletion of skipped message keys").
 *
 *   step: counter += 1; HKDF-SHA256(salt 0³², chain key, be32(counter) ‖ "Signal PQ Ratchet V1 Chain Next", 64)
 *         → next chain key (bytes 0..32) ‖ message key (bytes 32..64); counters start at 1.
 *
 * Skipped keys are kept for at most `SPQR_MAX_OOO_KEYS` counter values behind the newest one (a store that grew past
 * `SPQR_SWEEP_THRESHOLD` is swept; a jump longer than the window starts it afresh), and a receiver never steps further
 * ahead in one go than the jump limit it is given. Values are immutable: every operation returns a
 * new sequence (the skipped-key map is copied only when it changes). This module knows nothing about epochs,
 * directions or the braid (see chain.ts) and never sees a wire message; its limits live in constants.ts.
 */
import { SPQR_MAX_OOO_KEYS, SPQR_SWEEP_THRESHOLD } from '../../constants.js';
import type { SpqrChainKey, SpqrMessageKey } from '../key-roles.js';
import { SpqrError } from './spqr-error.js';
import { ZERO_SALT, ascii, be32, concatBytes, hkdfSha256 } from './kdf.js';

const STEP_LABEL = ascii('Signal PQ Ratchet V1 Chain Next');

export interface KeySequence {
  /** Counter of the last key derived; 0 before the first. */
  readonly counter: number;
  /** Chain key for counter + 1; null for a sending sequence that will never send again. */
  readonly chainKey: SpqrChainKey | null;
  /** Receiving only: keys skipped over, by counter, in the order they were derived. */
  readonly skipped: ReadonlyMap<number, SpqrMessageKey>;
}

const NONE: ReadonlyMap<number, SpqrMessageKey> = new Map();

export function newSequence(chainKey: SpqrChainKey): KeySequence {
  return { counter: 0, chainKey, skipped: NONE };
}

/** The same sequence with its chain key erased: its keys can no longer be derived, only its counter remains. */
export function retire(seq: KeySequence): KeySequence {
  return { counter: seq.counter, chainKey: null, skipped: seq.skipped };
}

function step(chainKey: SpqrChainKey, counter: number): { chainKey: SpqrChainKey; key: SpqrMessageKey } {
  const out = hkdfSha256(ZERO_SALT, chainKey, concatBytes(be32(counter), STEP_LABEL), 64);
  return { chainKey: out.slice(0, 32) as SpqrChainKey, key: out.slice(32, 64) as SpqrMessageKey };
}

function liveKey(seq: KeySequence): SpqrChainKey {
  if (seq.chainKey === null) throw new SpqrError('Other', 'this key sequence was retired');
  return seq.chainKey;
}

/** The next key of a sending sequence, with its counter. */
export function nextKey(seq: KeySequence): { seq: KeySequence; counter: number; key: SpqrMessageKey } {
  const counter = seq.counter + 1;
  const { chainKey, key } = step(liveKey(seq), counter);
  return { seq: { counter, chainKey, skipped: seq.skipped }, counter, key };
}

/**
 * The key for `counter` on a receiving sequence. A counter ahead of the sequence derives forward (at most
 * `jumpLimit` steps), storing the skipped keys that fall inside the window; a counter at or behind it is served
 * once from the store. Refusals: `KeyJump` (too far ahead), `KeyTrimmed` (behind the window),
 * `KeyAlreadyRequested` (inside the window but already handed out, or counter 0).
 */
export function keyAt(seq: KeySequence, counter: number, jumpLimit: number): { seq: KeySequence; key: SpqrMessageKey } {
  if (counter > seq.counter) return stepForward(seq, counter, jumpLimit);
  if (seq.counter - counter > SPQR_MAX_OOO_KEYS) {
    throw new SpqrError('KeyTrimmed', `message key ${counter} is older than the ${SPQR_MAX_OOO_KEYS} kept`);
  }
  const key = seq.skipped.get(counter);
  if (key === undefined) throw new SpqrError('KeyAlreadyRequested', `message key ${counter} was already used`);
  const skipped = new Map(seq.skipped);
  skipped.delete(counter);
  return { seq: { counter: seq.counter, chainKey: seq.chainKey, skipped }, key };
}

function stepForward(seq: KeySequence, target: number, jumpLimit: number): { seq: KeySequence; key: SpqrMessageKey } {
  if (target - seq.counter > jumpLimit) {
    throw new SpqrError('KeyJump', `message key ${target} is more than ${jumpLimit} ahead of ${seq.counter}`);
  }
  let chainKey = liveKey(seq);
  const keepFrom = target - SPQR_MAX_OOO_KEYS;
  // A jump longer than the window leaves every stored key behind it: the store starts afresh.
  const afresh = target - seq.counter > SPQR_MAX_OOO_KEYS;
  let skipped: Map<number, SpqrMessageKey> | null = afresh ? new Map() : null;
  for (let c = seq.counter + 1; c < target; c++) {
    const s = step(chainKey, c);
    chainKey = s.chainKey;
    if (c >= keepFrom) {
      skipped ??= new Map(seq.skipped);
      skipped.set(c, s.key);
    }
  }
  const last = step(chainKey, target);
  if (skipped !== null && skipped.size >= SPQR_SWEEP_THRESHOLD) sweep(skipped, target);
  return { seq: { counter: target, chainKey: last.chainKey, skipped: skipped ?? seq.skipped }, key: last.key };
}

/** Drops stored keys more than one past the window behind `counter` (map order of the rest is kept). */
function sweep(skipped: Map<number, SpqrMessageKey>, counter: number): void {
  const oldest = counter - SPQR_MAX_OOO_KEYS - 1;
  for (const c of skipped.keys()) if (c < oldest) skipped.delete(c);
}
