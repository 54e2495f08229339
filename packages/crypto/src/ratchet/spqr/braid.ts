/**
 * The ML-KEM Braid (ML-KEM Braid spec, §1.1 "Sparse Continuous Key Agreement" and §2 "The ML-KEM Braid
 * Protocol"): the sparse continuous key agreement that gives SPQR a fresh ML-KEM-768 shared secret per epoch,
 * carried in 32-byte chunks on ordinary messages. Each epoch one side owns a key pair and the other encapsulates
 * to it; the roles swap every epoch, Alice owning the key of epoch 1. Epoch secrets appear on the encapsulator
 * when it sends its first ciphertext chunk and on the key owner when the ciphertext is complete; both then also
 * update their authenticator with it.
 *
 * The state machine is one explicit table, `TRANSITIONS`: per state, what sending does and which received
 * message types (of the state's own epoch) lead where. The rows themselves live with their role
 * (braid-key-owner.ts, braid-encapsulator.ts, where they are tabulated in full). Epoch rules, applied before the
 * table: a message of an older epoch is stale and ignored; a message of the next epoch is expected only by
 * Ct2Sampled (the key owner has decapsulated, so this side owns the next epoch's key); anything later is an error.
 * States are immutable values; `braidOnSend` / `braidOnReceive` return successors and never change their input.
 * Key derivation from the epoch secrets is chain.ts's; message encoding is message.ts's.
 */
import { authNew } from './authenticator.js';
import * as encapsulator from './braid-encapsulator.js';
import * as keyOwner from './braid-key-owner.js';
import type { BraidMessage, BraidState, BraidTag, EpochSecret, Received, Rng, Sent, StateOf } from './braid-state.js';
import { encapsulatorEntry, keyOwnerEntry, stay } from './braid-state.js';
import type { Chunk } from './message.js';
import { MessageType } from './message.js';
import { SpqrError } from './spqr-error.js';

export type { BraidMessage, BraidState, BraidTag, EpochSecret, Rng } from './braid-state.js';
export { CT2_PAYLOAD_SIZE, HEADER_PAYLOAD_SIZE } from './braid-state.js';

/** One row of the table: the state's behaviour on send and on each message type it reacts to. */
interface Row<T extends BraidTag> {
  readonly send: (state: StateOf<T>, rng: Rng) => Sent;
  readonly receive: Partial<Record<MessageType, (state: StateOf<T>, chunk: Chunk | null) => Received>>;
  /** Only for the state that waits for the other side to enter the next epoch. */
  readonly nextEpoch?: (state: StateOf<T>) => Received;
}

type Table = { readonly [T in BraidTag]: Row<T> };

/** Adapts a chunk handler: the wire codec guarantees a chunk for the chunk-carrying types. */
function withChunk<T extends BraidTag>(
  handler: (state: StateOf<T>, chunk: Chunk) => Received,
): (state: StateOf<T>, chunk: Chunk | null) => Received {
  return (state, chunk) => {
    if (chunk === null) throw new SpqrError('Malformed', 'chunk missing');
    return handler(state, chunk);
  };
}

const TRANSITIONS: Table = {
  KeysUnsampled: { send: keyOwner.sampleKeys, receive: {} },
  KeysSampled: {
    send: keyOwner.sendHeaderChunk,
    receive: { [MessageType.Ct1]: withChunk(keyOwner.headerArrived) },
  },
  HeaderSent: {
    send: keyOwner.sendKeyChunk,
    receive: { [MessageType.Ct1]: withChunk(keyOwner.collectCt1) },
  },
  Ct1Received: {
    send: keyOwner.sendKeyChunkWithAck,
    receive: { [MessageType.Ct2]: withChunk(keyOwner.keyArrived) },
  },
  EkSentCt1Received: {
    send: keyOwner.sendAck,
    receive: { [MessageType.Ct2]: withChunk(keyOwner.collectCt2) },
  },
  NoHeaderReceived: {
    send: encapsulator.sendNothing,
    receive: { [MessageType.Hdr]: withChunk(encapsulator.collectHeader) },
  },
  HeaderReceived: { send: encapsulator.encapsulateFirstHalf, receive: {} },
  Ct1Sampled: {
    send: encapsulator.sendCt1Chunk,
    receive: {
      [MessageType.Ek]: withChunk(encapsulator.collectKey),
      [MessageType.EkCt1Ack]: withChunk(encapsulator.collectKeyWithAck),
    },
  },
  EkReceivedCt1Sampled: {
    send: encapsulator.sendCt1Chunk,
    receive: {
      [MessageType.EkCt1Ack]: encapsulator.acknowledged,
      [MessageType.Ct1Ack]: encapsulator.acknowledged,
    },
  },
  Ct1Acknowledged: {
    send: encapsulator.sendNothing,
    receive: {
      [MessageType.Ek]: withChunk(encapsulator.collectKeyAfterAck),
      [MessageType.EkCt1Ack]: withChunk(encapsulator.collectKeyAfterAck),
    },
  },
  Ct2Sampled: {
    send: encapsulator.sendCt2Chunk,
    receive: {},
    nextEpoch: (s) => stay(keyOwnerEntry(s.epoch + 1, s.auth)),
  },
};

function rowOf<T extends BraidTag>(state: StateOf<T>): Row<T> {
  return TRANSITIONS[state.tag];
}

/** Alice's braid: key owner of epoch 1. */
export function aliceBraid(authKey: Uint8Array): BraidState {
  return keyOwnerEntry(1, authNew(authKey));
}

/** Bob's braid: encapsulator of epoch 1. */
export function bobBraid(authKey: Uint8Array): BraidState {
  return encapsulatorEntry(1, authNew(authKey));
}

/** What this side sends next, the state after it, and the epoch secret agreed by sending it, if any. */
export function braidOnSend(
  state: BraidState,
  rng: Rng,
): { state: BraidState; message: BraidMessage; secret: EpochSecret | null } {
  const { next, message, secret } = rowOf(state).send(state, rng);
  return { state: next, message, secret };
}

/** The state after receiving `message`, and the epoch secret that completed with it, if any. */
export function braidOnReceive(
  state: BraidState,
  message: BraidMessage,
): { state: BraidState; secret: EpochSecret | null } {
  const row = rowOf(state);
  let result: Received;
  if (message.epoch < state.epoch) {
    result = stay(state);
  } else if (message.epoch === state.epoch) {
    const handler = row.receive[message.type];
    result = handler === undefined ? stay(state) : handler(state, message.chunk);
  } else if (message.epoch === state.epoch + 1 && row.nextEpoch !== undefined) {
    result = row.nextEpoch(state);
  } else {
    throw new SpqrError('Other', `message of epoch ${message.epoch} while this side is in epoch ${state.epoch}`);
  }
  return { state: result.next, secret: result.secret };
}
