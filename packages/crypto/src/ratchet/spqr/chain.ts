/**
 * The SPQR key chain: the symmetric half of the Sparse Post-Quantum Ratchet (Double Ratchet spec rev. 3, §5
 * "The Sparse Post-Quantum Ratchet", KDF_SCKA_INIT / KDF_SCKA_RK, and §8.10 "Deletion of old KDF Chain state").
 * Every epoch secret the ML-KEM braid agrees on is mixed into a root key, which yields one key sequence per
 * direction for that epoch; a message of braid epoch e is keyed from the sequences of epoch e − 1.
 *
 *   open:      HKDF-SHA256(salt 0³², auth key, "Signal PQ Ratchet V1 Chain  Start", 96)   (two spaces)
 *   add epoch: HKDF-SHA256(salt root key, epoch secret, "Signal PQ Ratchet V1 Chain Add Epoch", 96)
 *              → new root key (0..32) ‖ Alice→Bob chain key (32..64) ‖ Bob→Alice chain key (64..96)
 *
 * Retention (§8.10): sending in a newer epoch forgets every epoch older than the one before it and erases the
 * sending chain key of that previous epoch, so only late messages of one older epoch can still be received.
 * Epochs are added strictly in order. All values are immutable; operations return a new chain. Per-direction key
 * derivation and the out-of-order window live in key-sequence.ts; this module does not run the braid.
 */
import type { SpqrChainKey, SpqrEpochSecret, SpqrMessageKey, SpqrRootKey } from '../key-roles.js';
import type { KeySequence } from './key-sequence.js';
import { keyAt, newSequence, nextKey, retire } from './key-sequence.js';
import { SpqrError } from './spqr-error.js';
import { ZERO_SALT, ascii, hkdfSha256 } from './kdf.js';

/** Which way this side sends: Alice (the session initiator) sends Alice→Bob. */
export type SpqrDirection = 'A2B' | 'B2A';

const OPEN_LABEL = ascii('Signal PQ Ratchet V1 Chain  Start');
const ADD_LABEL = ascii('Signal PQ Ratchet V1 Chain Add Epoch');

/** Both directions' key sequences of one epoch, named from this side's point of view. */
export interface EpochKeys {
  readonly sending: KeySequence;
  readonly receiving: KeySequence;
}

export interface KeyChain {
  readonly direction: SpqrDirection;
  /** The latest epoch whose keys exist (0 = the keys from the auth key alone). */
  readonly newestEpoch: number;
  /** The epoch this side last sent in; never decreases. */
  readonly sendingEpoch: number;
  /** Keys of epochs newestEpoch − epochs.length + 1 … newestEpoch, oldest first. */
  readonly epochs: readonly EpochKeys[];
  /** Root key the next epoch secret is mixed into. */
  readonly rootKey: SpqrRootKey;
}

function split(chain: { direction: SpqrDirection }, out: Uint8Array): { rootKey: SpqrRootKey; keys: EpochKeys } {
  const aliceToBob = newSequence(out.slice(32, 64) as SpqrChainKey);
  const bobToAlice = newSequence(out.slice(64, 96) as SpqrChainKey);
  const alice = chain.direction === 'A2B';
  return {
    rootKey: out.slice(0, 32) as SpqrRootKey,
    keys: { sending: alice ? aliceToBob : bobToAlice, receiving: alice ? bobToAlice : aliceToBob },
  };
}

export function openChain(authKey: Uint8Array, direction: SpqrDirection): KeyChain {
  const { rootKey, keys } = split({ direction }, hkdfSha256(ZERO_SALT, authKey, OPEN_LABEL, 96));
  return { direction, newestEpoch: 0, sendingEpoch: 0, epochs: [keys], rootKey };
}

/** Mixes the secret of `epoch`, which must directly follow the newest one, into the chain. */
export function addEpochSecret(chain: KeyChain, epoch: number, secret: SpqrEpochSecret): KeyChain {
  if (epoch !== chain.newestEpoch + 1) {
    throw new SpqrError('StateCorrupt', `epoch ${epoch} cannot follow epoch ${chain.newestEpoch}`);
  }
  const { rootKey, keys } = split(chain, hkdfSha256(chain.rootKey, secret, ADD_LABEL, 96));
  return { ...chain, newestEpoch: epoch, epochs: [...chain.epochs, keys], rootKey };
}

function position(chain: KeyChain, epoch: number): number {
  const at = epoch - (chain.newestEpoch - chain.epochs.length + 1);
  if (epoch > chain.newestEpoch || at < 0) throw new SpqrError('Other', `no keys kept for epoch ${epoch}`);
  return at;
}

/** The next sending key of `epoch`, with its index; moving to a newer epoch drops what §8.10 says to drop. */
export function sendingKey(chain: KeyChain, epoch: number): { chain: KeyChain; index: number; key: SpqrMessageKey } {
  if (epoch <= chain.newestEpoch && epoch < chain.sendingEpoch) {
    throw new SpqrError('StateCorrupt', `cannot send in epoch ${epoch} after sending in ${chain.sendingEpoch}`);
  }
  const at = position(chain, epoch);
  let epochs = chain.epochs.slice();
  let mine = at;
  if (epoch > chain.sendingEpoch) {
    const from = Math.max(0, at - 1);
    epochs = epochs.slice(from);
    mine = at - from;
    if (mine > 0) {
      const previous = epochs[0] as EpochKeys;
      epochs[0] = { sending: retire(previous.sending), receiving: previous.receiving };
    }
  }
  const current = epochs[mine] as EpochKeys;
  const { seq, counter, key } = nextKey(current.sending);
  epochs[mine] = { sending: seq, receiving: current.receiving };
  return { chain: { ...chain, sendingEpoch: epoch, epochs }, index: counter, key };
}

/** The receiving key of `epoch` at `index`; `jumpLimit` bounds how far ahead `index` may be. */
export function receivingKey(
  chain: KeyChain,
  epoch: number,
  index: number,
  jumpLimit: number,
): { chain: KeyChain; key: SpqrMessageKey } {
  const at = position(chain, epoch);
  const current = chain.epochs[at] as EpochKeys;
  const { seq, key } = keyAt(current.receiving, index, jumpLimit);
  const epochs = chain.epochs.slice();
  epochs[at] = { sending: current.sending, receiving: seq };
  return { chain: { ...chain, epochs }, key };
}
