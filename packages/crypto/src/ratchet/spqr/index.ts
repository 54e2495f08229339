/**
 * SPQR v1, the Sparse Post-Quantum Ratchet that libsignal's triple ratchet runs beside the Double Ratchet.
 * Every Double Ratchet message carries one SPQR message (SignalMessage field 5), and every SPQR send or receive
 * yields a 32-byte key that salts that message's key derivation.
 *
 * Public surface: `spqrInitialState` (with `selfSession` for note-to-self sessions, which lifts the receiving
 * jump limit for the life of the state), `spqrSend`, `spqrRecv`, `SpqrState` (serialize / deserialize) and
 * `SpqrError`. The functions are pure and synchronous: they never mutate their input state and return its
 * successor, which the caller commits only once the whole decryption succeeded. Randomness comes from the
 * caller; like the rest of the package, key derivation needs `ready()` to have resolved once. Version V0 (an
 * empty message, a peer without SPQR) is refused with `MinimumVersion`, as libsignal does since it requires SPQR;
 * a later version than V1 is refused too (libsignal would skip the salt for it; no V1 peer sends one). This
 * module does not encrypt anything itself and knows nothing about sessions.
 */
import { SPQR_MAX_JUMP, SPQR_UNLIMITED_JUMPS } from '../../constants.js';
import type { SpqrMessageKey } from '../key-roles.js';
import { aliceBraid, bobBraid, braidOnReceive, braidOnSend } from './braid.js';
import type { Rng } from './braid.js';
import { addEpochSecret, openChain, receivingKey, sendingKey } from './chain.js';
import type { SpqrDirection } from './chain.js';
import { SPQR_VERSION_V1, decodeMessage, encodeMessage } from './message.js';
import { SpqrError } from './spqr-error.js';
import { SpqrState } from './state.js';

export type { Rng } from './braid.js';
export type { SpqrDirection } from './chain.js';
export { SpqrError } from './spqr-error.js';
export type { SpqrErrorKind } from './spqr-error.js';
export { SpqrState } from './state.js';

/** The PQXDH output slice SPQR starts from (HKDF bytes 64..96). */
export const SPQR_AUTH_KEY_SIZE = 32;

function guard<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof SpqrError) throw e;
    throw new SpqrError('Other', `internal failure: ${e instanceof Error ? e.message : 'unknown'}`, { cause: e });
  }
}

/** How a session's SPQR state is set up beyond its key and direction. */
export interface SpqrOptions {
  /**
   * The session is between two devices of one account (note to self): messages may be any distance ahead, as in
   * libsignal. Otherwise the receiving side refuses jumps of more than 25,000 (`KeyJump`). Kept in the state.
   */
  readonly selfSession?: boolean;
}

export function spqrInitialState(authKey: Uint8Array, direction: SpqrDirection, options: SpqrOptions = {}): SpqrState {
  if (!(authKey instanceof Uint8Array) || authKey.length !== SPQR_AUTH_KEY_SIZE) {
    throw new SpqrError('Other', 'auth key must be 32 bytes');
  }
  if (direction !== 'A2B' && direction !== 'B2A') throw new SpqrError('Other', 'bad direction');
  const braid = direction === 'A2B' ? aliceBraid(authKey) : bobBraid(authKey);
  const jumpLimit = options.selfSession === true ? SPQR_UNLIMITED_JUMPS : SPQR_MAX_JUMP;
  return new SpqrState(openChain(authKey, direction), braid, jumpLimit);
}

export function spqrSend(state: SpqrState, rng: Rng): { state: SpqrState; message: Uint8Array; key: SpqrMessageKey } {
  return guard(() => {
    const sent = braidOnSend(state.braid, rng);
    let chain = state.chain;
    if (sent.secret !== null) chain = addEpochSecret(chain, sent.secret.epoch, sent.secret.secret);
    const { chain: next, index, key } = sendingKey(chain, sent.message.epoch - 1);
    const message = encodeMessage({ ...sent.message, index });
    return { state: new SpqrState(next, sent.state, state.jumpLimit), message, key };
  });
}

export function spqrRecv(state: SpqrState, message: Uint8Array): { state: SpqrState; key: SpqrMessageKey } {
  return guard(() => {
    if (!(message instanceof Uint8Array)) throw new SpqrError('Malformed', 'message is not bytes');
    const version = message.length === 0 ? 0 : (message[0] as number);
    if (version < SPQR_VERSION_V1) throw new SpqrError('MinimumVersion', 'Minimum version');
    if (version > SPQR_VERSION_V1) throw new SpqrError('Other', `unsupported version ${version}`);
    const msg = decodeMessage(message);
    const received = braidOnReceive(state.braid, msg);
    let chain = state.chain;
    if (received.secret !== null) chain = addEpochSecret(chain, received.secret.epoch, received.secret.secret);
    const { chain: next, key } = receivingKey(chain, msg.epoch - 1, msg.index, state.jumpLimit);
    return { state: new SpqrState(next, received.state, state.jumpLimit), key };
  });
}
