/**
 * The SPQR key chain: per-epoch symmetric chains that turn the braid's epoch secrets into one 32-byte key per
 * message (the salt of the Double Ratchet's message-key HKDF).
 *
 * - Start: HKDF(0³², authKey, "Signal PQ Ratchet V1 Chain  Start", 96) → next_root ‖ A→B chain ‖ B→A chain.
 * - Next key: ctr += 1; HKDF(0³², next, be32(ctr) ‖ "Signal PQ Ratchet V1 Chain Next", 64) → next ‖ key.
 * - Add epoch: HKDF(next_root, epochSecret, "Signal PQ Ratchet V1 Chain Add Epoch", 96), split like Start.
 * - Receiving keeps out-of-order keys (up to 2,000 behind the newest) and refuses jumps over 25,000; sending
 *   keeps the current send epoch and one epoch before it, and forgets the sending half of older epochs.
 *
 * Every value here is immutable: operations return a new chain and share untouched parts with the old one, so
 * a caller can drop the result of a failed decryption without copying anything up front. This module knows
 * nothing about the braid or the wire format.
 */
import { SpqrError } from './spqr-error.js';
import { ZERO_SALT, be32, concatBytes, hkdfSha256, ascii } from './kdf.js';

export type SpqrDirection = 'A2B' | 'B2A';

/** libsignal's MAX_FORWARD_JUMPS: a receiver derives at most this many keys ahead in one step. */
export const MAX_JUMP = 25_000;
/** libsignal's MAX_MESSAGE_KEYS: out-of-order keys kept back to `ctr - MAX_OOO_KEYS`. */
export const MAX_OOO_KEYS = 2_000;
/** Garbage-collect the key history once it holds this many keys (10% slack so trimming is amortised). */
export const TRIM_SIZE = Math.floor((MAX_OOO_KEYS * 11) / 10) + 1;
/** Epochs kept before the current send epoch, for late messages of the previous epoch. */
const EPOCHS_TO_KEEP_PRIOR_TO_SEND_EPOCH = 1;

const START_INFO = ascii('Signal PQ Ratchet V1 Chain  Start');
const NEXT_INFO = ascii('Signal PQ Ratchet V1 Chain Next');
const ADD_EPOCH_INFO = ascii('Signal PQ Ratchet V1 Chain Add Epoch');

export interface ChainHalf {
  /** Index of the last key derived (keys start at 1). */
  readonly ctr: number;
  /** Chain key for index ctr+1; null once the sending half of a superseded epoch is forgotten. */
  readonly next: Uint8Array | null;
  /** Skipped keys by index, kept for out-of-order messages. */
  readonly prev: ReadonlyMap<number, Uint8Array>;
}

export interface ChainLink {
  readonly send: ChainHalf;
  readonly recv: ChainHalf;
}

export interface Chain {
  readonly dir: SpqrDirection;
  /** Newest epoch whose keys exist; the last link belongs to it. */
  readonly currentEpoch: number;
  /** Epoch of the last key sent. */
  readonly sendEpoch: number;
  /** Links for epochs currentEpoch - links.length + 1 .. currentEpoch. */
  readonly links: readonly ChainLink[];
  readonly nextRoot: Uint8Array;
}

const EMPTY_HISTORY: ReadonlyMap<number, Uint8Array> = new Map();

function half(key: Uint8Array): ChainHalf {
  return { ctr: 0, next: key, prev: EMPTY_HISTORY };
}

function linkFrom(gen: Uint8Array, dir: SpqrDirection): ChainLink {
  const a2b = gen.slice(32, 64);
  const b2a = gen.slice(64, 96);
  return dir === 'A2B' ? { send: half(a2b), recv: half(b2a) } : { send: half(b2a), recv: half(a2b) };
}

export function chainStart(authKey: Uint8Array, dir: SpqrDirection): Chain {
  const gen = hkdfSha256(ZERO_SALT, authKey, START_INFO, 96);
  return { dir, currentEpoch: 0, sendEpoch: 0, links: [linkFrom(gen, dir)], nextRoot: gen.slice(0, 32) };
}

export function chainAddEpoch(chain: Chain, epoch: number, secret: Uint8Array): Chain {
  if (epoch !== chain.currentEpoch + 1) {
    throw new SpqrError('StateCorrupt', `epoch ${epoch} added after epoch ${chain.currentEpoch}`);
  }
  const gen = hkdfSha256(chain.nextRoot, secret, ADD_EPOCH_INFO, 96);
  return {
    dir: chain.dir,
    currentEpoch: epoch,
    sendEpoch: chain.sendEpoch,
    links: [...chain.links, linkFrom(gen, chain.dir)],
    nextRoot: gen.slice(0, 32),
  };
}

/** One step of a chain half: the key for index ctr+1 and the chain key after it. */
function step(next: Uint8Array, ctr: number): { next: Uint8Array; key: Uint8Array } {
  const gen = hkdfSha256(ZERO_SALT, next, concatBytes(be32(ctr + 1), NEXT_INFO), 64);
  return { next: gen.subarray(0, 32), key: gen.subarray(32, 64) };
}

function linkIndex(chain: Chain, epoch: number): number {
  const back = chain.currentEpoch - epoch;
  if (epoch > chain.currentEpoch || back >= chain.links.length) {
    throw new SpqrError('Other', `epoch ${epoch} not in valid range`);
  }
  return chain.links.length - 1 - back;
}

export function chainSendKey(chain: Chain, epoch: number): { chain: Chain; index: number; key: Uint8Array } {
  if (epoch < chain.sendEpoch) {
    throw new SpqrError('StateCorrupt', `send epoch went back from ${chain.sendEpoch} to ${epoch}`);
  }
  let idx = linkIndex(chain, epoch);
  let links = chain.links.slice();
  if (epoch !== chain.sendEpoch) {
    while (idx > EPOCHS_TO_KEEP_PRIOR_TO_SEND_EPOCH) {
      links.shift();
      idx--;
    }
    links = links.map((l, i) => (i < idx ? { send: { ...l.send, next: null }, recv: l.recv } : l));
  }
  const link = links[idx] as ChainLink;
  const s = link.send;
  if (s.next === null) throw new SpqrError('StateCorrupt', `sending chain of epoch ${epoch} is gone`);
  if (s.ctr >= 0xffff_ffff) throw new SpqrError('Other', 'sending chain exhausted');
  const { next, key } = step(s.next, s.ctr);
  links[idx] = { send: { ctr: s.ctr + 1, next, prev: s.prev }, recv: link.recv };
  return {
    chain: { dir: chain.dir, currentEpoch: chain.currentEpoch, sendEpoch: epoch, links, nextRoot: chain.nextRoot },
    index: s.ctr + 1,
    key: key.slice(),
  };
}

function historyGet(h: ChainHalf, at: number): { half: ChainHalf; key: Uint8Array } {
  if (at + MAX_OOO_KEYS < h.ctr) throw new SpqrError('KeyTrimmed', `key trimmed: ${at}`);
  const key = h.prev.get(at);
  if (key === undefined) throw new SpqrError('KeyAlreadyRequested', `key already requested: ${at}`);
  const prev = new Map(h.prev);
  prev.delete(at);
  return { half: { ctr: h.ctr, next: h.next, prev }, key };
}

function recvHalfKey(h: ChainHalf, at: number): { half: ChainHalf; key: Uint8Array } {
  if (at < h.ctr) return historyGet(h, at);
  if (at === h.ctr) throw new SpqrError('KeyAlreadyRequested', `key already requested: ${at}`);
  if (at - h.ctr > MAX_JUMP) throw new SpqrError('KeyJump', `key jump: ${h.ctr} - ${at}`);
  if (h.next === null) throw new SpqrError('StateCorrupt', 'receiving chain is gone');
  let prev: Map<number, Uint8Array> | null = at > h.ctr + MAX_OOO_KEYS ? new Map() : null;
  let ctr = h.ctr;
  let next = h.next;
  while (at > ctr + 1) {
    const s = step(next, ctr);
    ctr++;
    next = s.next;
    if (ctr + MAX_OOO_KEYS >= at) {
      prev ??= new Map(h.prev);
      prev.set(ctr, s.key.slice());
    }
  }
  const current = prev ?? h.prev;
  if (current.size >= TRIM_SIZE) {
    const horizon = ctr - MAX_OOO_KEYS;
    const kept = new Map<number, Uint8Array>();
    for (const [i, k] of current) if (i >= horizon) kept.set(i, k);
    prev = kept;
  }
  const last = step(next, ctr);
  return { half: { ctr: ctr + 1, next: last.next, prev: prev ?? h.prev }, key: last.key.slice() };
}

export function chainRecvKey(chain: Chain, epoch: number, index: number): { chain: Chain; key: Uint8Array } {
  const idx = linkIndex(chain, epoch);
  const link = chain.links[idx] as ChainLink;
  const { half: recv, key } = recvHalfKey(link.recv, index);
  const links = chain.links.slice();
  links[idx] = { send: link.send, recv };
  return { chain: { ...chain, links }, key };
}
