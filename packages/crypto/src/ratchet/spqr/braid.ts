/**
 * The ML-KEM braid: the state machine that, epoch after epoch, agrees a fresh ML-KEM-768 shared secret between
 * the two parties using only the small chunks each message can carry.
 *
 * Each epoch one side is send_ek (it owns a key pair) and the other send_ct (it encapsulates); roles swap every
 * epoch, starting with Alice as send_ek in epoch 1. The flow of one epoch:
 *
 *   send_ek: KeysUnsampled --send--> KeysSampled (Hdr chunks: header ‖ MAC, 96 bytes)
 *            --first Ct1 chunk--> HeaderSent (Ek chunks, 1152 bytes) --ct1 complete--> Ct1Received (EkCt1Ack
 *            chunks) --first Ct2 chunk--> EkSentCt1Received (Ct1Ack) --ct2 complete: decapsulate, check MAC-->
 *            send_ct of epoch+1, yielding the epoch secret.
 *   send_ct: NoHeaderReceived (None) --header complete, MAC checked--> HeaderReceived --send: encaps1, yielding
 *            the epoch secret--> Ct1Sampled (Ct1 chunks) --ek complete / ack--> EkReceivedCt1Sampled or
 *            Ct1Acknowledged --both--> Ct2Sampled (Ct2 chunks: ct2 ‖ MAC, 160 bytes) --any message of epoch+1-->
 *            send_ek of epoch+1.
 *
 * Epoch secret = HKDF(0³², ML-KEM shared secret, "Signal_PQCKA_V1_MLKEM768:SCKA Key" ‖ be64(epoch), 32); it
 * also updates the authenticator. Messages of older epochs are ignored; messages of a later epoch than
 * expected are errors. States are immutable values; `braidSend`/`braidRecv` return successors. This module does
 * not derive message keys (see chain.ts) and does not encode messages (see message.ts).
 */
import type { Authenticator } from './authenticator.js';
import {
  MAC_SIZE,
  authNew,
  authUpdate,
  macCiphertext,
  macHeader,
  verifyCiphertext,
  verifyHeader,
} from './authenticator.js';
import type { Decoder, Encoder } from './erasure-code.js';
import { addChunk, decoded, newDecoder, newEncoder, nextChunk } from './erasure-code.js';
import {
  CT1_SIZE,
  CT2_SIZE,
  EK_SIZE,
  ENCAPS_SEED_SIZE,
  HEADER_SIZE,
  KEYGEN_SEED_SIZE,
  decaps,
  ekMatchesHeader,
  encaps1,
  encaps2,
  generate,
  keysFromDk,
} from './incremental-mlkem768.js';
import { ZERO_SALT, be64, concatBytes, hkdfSha256, ascii } from './kdf.js';
import type { Chunk } from './message.js';
import { MessageType } from './message.js';
import { SpqrError } from './spqr-error.js';

export type Rng = (length: number) => Uint8Array;

interface Base {
  readonly epoch: number;
  readonly auth: Authenticator;
}

export type BraidState =
  | (Base & { readonly tag: 'KeysUnsampled' })
  | (Base & { readonly tag: 'KeysSampled'; readonly dk: Uint8Array; readonly sendingHdr: Encoder })
  | (Base & {
      readonly tag: 'HeaderSent';
      readonly dk: Uint8Array;
      readonly sendingEk: Encoder;
      readonly receivingCt1: Decoder;
    })
  | (Base & {
      readonly tag: 'Ct1Received';
      readonly dk: Uint8Array;
      readonly ct1: Uint8Array;
      readonly sendingEk: Encoder;
    })
  | (Base & {
      readonly tag: 'EkSentCt1Received';
      readonly dk: Uint8Array;
      readonly ct1: Uint8Array;
      readonly receivingCt2: Decoder;
    })
  | (Base & { readonly tag: 'NoHeaderReceived'; readonly receivingHdr: Decoder })
  | (Base & { readonly tag: 'HeaderReceived'; readonly hdr: Uint8Array })
  | (Base & {
      readonly tag: 'Ct1Sampled';
      readonly hdr: Uint8Array;
      readonly m: Uint8Array;
      readonly sendingCt1: Encoder;
      readonly receivingEk: Decoder;
    })
  | (Base & {
      readonly tag: 'EkReceivedCt1Sampled';
      readonly hdr: Uint8Array;
      readonly m: Uint8Array;
      readonly ek: Uint8Array;
      readonly sendingCt1: Encoder;
    })
  | (Base & {
      readonly tag: 'Ct1Acknowledged';
      readonly hdr: Uint8Array;
      readonly m: Uint8Array;
      readonly ct1: Uint8Array;
      readonly receivingEk: Decoder;
    })
  | (Base & { readonly tag: 'Ct2Sampled'; readonly sendingCt2: Encoder });

export type BraidTag = BraidState['tag'];

/** A braid message before the chain index is attached. */
export interface BraidMessage {
  readonly epoch: number;
  readonly type: MessageType;
  readonly chunk: Chunk | null;
}

export interface EpochSecret {
  readonly epoch: number;
  readonly secret: Uint8Array;
}

export const HDR_MSG_SIZE = HEADER_SIZE + MAC_SIZE;
export const CT2_MSG_SIZE = CT2_SIZE + MAC_SIZE;

const SCKA_KEY_INFO = ascii('Signal_PQCKA_V1_MLKEM768:SCKA Key');

function epochSecret(epoch: number, sharedSecret: Uint8Array): Uint8Array {
  return hkdfSha256(ZERO_SALT, sharedSecret, concatBytes(SCKA_KEY_INFO, be64(epoch)), 32);
}

function randomBytes(rng: Rng, length: number): Uint8Array {
  const out = rng(length);
  if (!(out instanceof Uint8Array) || out.length !== length) {
    throw new SpqrError('Other', `randomness source returned a wrong length`);
  }
  return out;
}

export function braidInitA(authKey: Uint8Array): BraidState {
  return { tag: 'KeysUnsampled', epoch: 1, auth: authNew(authKey) };
}

export function braidInitB(authKey: Uint8Array): BraidState {
  return { tag: 'NoHeaderReceived', epoch: 1, auth: authNew(authKey), receivingHdr: newDecoder(HDR_MSG_SIZE) };
}

function ct2Encoder(auth: Authenticator, epoch: number, ct1: Uint8Array, ct2: Uint8Array): Encoder {
  const mac = macCiphertext(auth, epoch, concatBytes(ct1, ct2));
  return newEncoder(concatBytes(ct2, mac));
}

/** encaps2 on a received key; a key that fails FIPS 203's input check is the peer's error. */
function sendCt2(auth: Authenticator, epoch: number, hdr: Uint8Array, ek: Uint8Array, m: Uint8Array, ct1: Uint8Array) {
  let ct2: Uint8Array;
  try {
    ct2 = encaps2(hdr, ek, m);
  } catch {
    throw new SpqrError('Other', 'erroneous data received from remote party');
  }
  return { tag: 'Ct2Sampled' as const, epoch, auth, sendingCt2: ct2Encoder(auth, epoch, ct1, ct2) };
}

function checkEk(ek: Uint8Array, hdr: Uint8Array): void {
  if (!ekMatchesHeader(ek, hdr)) throw new SpqrError('Other', 'erroneous data received from remote party');
}

export function braidSend(
  state: BraidState,
  rng: Rng,
): { state: BraidState; message: BraidMessage; secret: EpochSecret | null } {
  const { epoch } = state;
  const msg = (type: MessageType, chunk: Chunk | null = null): BraidMessage => ({ epoch, type, chunk });
  switch (state.tag) {
    case 'KeysUnsampled': {
      const keys = generate(randomBytes(rng, KEYGEN_SEED_SIZE));
      const hdrMsg = concatBytes(keys.header, macHeader(state.auth, epoch, keys.header));
      const { encoder, chunk } = nextChunk(newEncoder(hdrMsg));
      return {
        state: { tag: 'KeysSampled', epoch, auth: state.auth, dk: keys.dk, sendingHdr: encoder },
        message: msg(MessageType.Hdr, chunk),
        secret: null,
      };
    }
    case 'KeysSampled': {
      const { encoder, chunk } = nextChunk(state.sendingHdr);
      return { state: { ...state, sendingHdr: encoder }, message: msg(MessageType.Hdr, chunk), secret: null };
    }
    case 'HeaderSent': {
      const { encoder, chunk } = nextChunk(state.sendingEk);
      return { state: { ...state, sendingEk: encoder }, message: msg(MessageType.Ek, chunk), secret: null };
    }
    case 'Ct1Received': {
      const { encoder, chunk } = nextChunk(state.sendingEk);
      return { state: { ...state, sendingEk: encoder }, message: msg(MessageType.EkCt1Ack, chunk), secret: null };
    }
    case 'EkSentCt1Received':
      return { state, message: msg(MessageType.Ct1Ack), secret: null };
    case 'NoHeaderReceived':
      return { state, message: msg(MessageType.None), secret: null };
    case 'HeaderReceived': {
      const m = randomBytes(rng, ENCAPS_SEED_SIZE).slice();
      const { ct1, sharedSecret } = encaps1(state.hdr, m);
      const secret = epochSecret(epoch, sharedSecret);
      const auth = authUpdate(state.auth, epoch, secret);
      const { encoder, chunk } = nextChunk(newEncoder(ct1));
      return {
        state: {
          tag: 'Ct1Sampled',
          epoch,
          auth,
          hdr: state.hdr,
          m,
          sendingCt1: encoder,
          receivingEk: newDecoder(EK_SIZE),
        },
        message: msg(MessageType.Ct1, chunk),
        secret: { epoch, secret },
      };
    }
    case 'Ct1Sampled': {
      const { encoder, chunk } = nextChunk(state.sendingCt1);
      return { state: { ...state, sendingCt1: encoder }, message: msg(MessageType.Ct1, chunk), secret: null };
    }
    case 'EkReceivedCt1Sampled': {
      const { encoder, chunk } = nextChunk(state.sendingCt1);
      return { state: { ...state, sendingCt1: encoder }, message: msg(MessageType.Ct1, chunk), secret: null };
    }
    case 'Ct1Acknowledged':
      return { state, message: msg(MessageType.None), secret: null };
    case 'Ct2Sampled': {
      const { encoder, chunk } = nextChunk(state.sendingCt2);
      return { state: { ...state, sendingCt2: encoder }, message: msg(MessageType.Ct2, chunk), secret: null };
    }
  }
}

export function braidRecv(state: BraidState, message: BraidMessage): { state: BraidState; secret: EpochSecret | null } {
  const { epoch } = state;
  const none = { state, secret: null };
  if (message.epoch > epoch) {
    if (state.tag === 'Ct2Sampled' && message.epoch === epoch + 1) {
      return { state: { tag: 'KeysUnsampled', epoch: epoch + 1, auth: state.auth }, secret: null };
    }
    throw new SpqrError('Other', `epoch not in valid range: ${message.epoch}`);
  }
  if (message.epoch < epoch) return none;
  const { type, chunk } = message;
  switch (state.tag) {
    case 'KeysUnsampled':
    case 'HeaderReceived':
    case 'Ct2Sampled':
      return none;
    case 'KeysSampled': {
      if (type !== MessageType.Ct1 || chunk === null) return none;
      const { ek } = keysFromDk(state.dk);
      return {
        state: {
          tag: 'HeaderSent',
          epoch,
          auth: state.auth,
          dk: state.dk,
          sendingEk: newEncoder(ek),
          receivingCt1: addChunk(newDecoder(CT1_SIZE), chunk),
        },
        secret: null,
      };
    }
    case 'HeaderSent': {
      if (type !== MessageType.Ct1 || chunk === null) return none;
      const receivingCt1 = addChunk(state.receivingCt1, chunk);
      const ct1 = decoded(receivingCt1);
      if (ct1 === null) return { state: { ...state, receivingCt1 }, secret: null };
      return {
        state: { tag: 'Ct1Received', epoch, auth: state.auth, dk: state.dk, ct1, sendingEk: state.sendingEk },
        secret: null,
      };
    }
    case 'Ct1Received': {
      if (type !== MessageType.Ct2 || chunk === null) return none;
      const receivingCt2 = addChunk(newDecoder(CT2_MSG_SIZE), chunk);
      return {
        state: { tag: 'EkSentCt1Received', epoch, auth: state.auth, dk: state.dk, ct1: state.ct1, receivingCt2 },
        secret: null,
      };
    }
    case 'EkSentCt1Received': {
      if (type !== MessageType.Ct2 || chunk === null) return none;
      const receivingCt2 = addChunk(state.receivingCt2, chunk);
      const ct2Msg = decoded(receivingCt2);
      if (ct2Msg === null) return { state: { ...state, receivingCt2 }, secret: null };
      const ct2 = ct2Msg.subarray(0, CT2_SIZE);
      const mac = ct2Msg.subarray(CT2_SIZE);
      const secret = epochSecret(epoch, decaps(state.dk, state.ct1, ct2));
      const auth = authUpdate(state.auth, epoch, secret);
      if (!verifyCiphertext(auth, epoch, concatBytes(state.ct1, ct2), mac)) {
        throw new SpqrError('Other', 'MAC verification failed');
      }
      return {
        state: { tag: 'NoHeaderReceived', epoch: epoch + 1, auth, receivingHdr: newDecoder(HDR_MSG_SIZE) },
        secret: { epoch, secret },
      };
    }
    case 'NoHeaderReceived': {
      if (type !== MessageType.Hdr || chunk === null) return none;
      const receivingHdr = addChunk(state.receivingHdr, chunk);
      const hdrMsg = decoded(receivingHdr);
      if (hdrMsg === null) return { state: { ...state, receivingHdr }, secret: null };
      const hdr = hdrMsg.slice(0, HEADER_SIZE);
      if (!verifyHeader(state.auth, epoch, hdr, hdrMsg.subarray(HEADER_SIZE))) {
        throw new SpqrError('Other', 'MAC verification failed');
      }
      return { state: { tag: 'HeaderReceived', epoch, auth: state.auth, hdr }, secret: null };
    }
    case 'Ct1Sampled': {
      if ((type !== MessageType.Ek && type !== MessageType.EkCt1Ack) || chunk === null) return none;
      const ack = type === MessageType.EkCt1Ack;
      const receivingEk = addChunk(state.receivingEk, chunk);
      const ek = decoded(receivingEk);
      if (ek !== null) {
        checkEk(ek, state.hdr);
        if (ack) {
          return { state: sendCt2(state.auth, epoch, state.hdr, ek, state.m, state.sendingCt1.message), secret: null };
        }
        return {
          state: {
            tag: 'EkReceivedCt1Sampled',
            epoch,
            auth: state.auth,
            hdr: state.hdr,
            m: state.m,
            ek,
            sendingCt1: state.sendingCt1,
          },
          secret: null,
        };
      }
      if (ack) {
        return {
          state: {
            tag: 'Ct1Acknowledged',
            epoch,
            auth: state.auth,
            hdr: state.hdr,
            m: state.m,
            ct1: state.sendingCt1.message,
            receivingEk,
          },
          secret: null,
        };
      }
      return { state: { ...state, receivingEk }, secret: null };
    }
    case 'EkReceivedCt1Sampled': {
      if (type !== MessageType.Ct1Ack && type !== MessageType.EkCt1Ack) return none;
      return {
        state: sendCt2(state.auth, epoch, state.hdr, state.ek, state.m, state.sendingCt1.message),
        secret: null,
      };
    }
    case 'Ct1Acknowledged': {
      if ((type !== MessageType.Ek && type !== MessageType.EkCt1Ack) || chunk === null) return none;
      const receivingEk = addChunk(state.receivingEk, chunk);
      const ek = decoded(receivingEk);
      if (ek === null) return { state: { ...state, receivingEk }, secret: null };
      checkEk(ek, state.hdr);
      return { state: sendCt2(state.auth, epoch, state.hdr, ek, state.m, state.ct1), secret: null };
    }
  }
}
