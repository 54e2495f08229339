/**
 * The encapsulator ("send_ct") side of one ML-KEM Braid epoch (ML-KEM Braid spec §1, "ML-KEM as an incremental
 * KEM": Encaps1 / Encaps2; §2.1 "Overview", steps 3–4, 8–9 and 13; §2.4 "Authentication"), as rows of the
 * braid's transition table:
 *
 *   state                 on send                                on receive (this epoch)
 *   NoHeaderReceived      sends None                             Hdr chunk; header complete → check its MAC
 *                                                                → HeaderReceived
 *   HeaderReceived        Encaps1 from the header, derive the    —
 *                         epoch secret, update the
 *                         authenticator → Ct1Sampled, sends Ct1
 *   Ct1Sampled            sends the next Ct1 chunk               Ek chunk; key complete → EkReceivedCt1Sampled
 *                                                                EkCt1Ack chunk → Ct1Acknowledged, or, with the
 *                                                                key complete, Encaps2 → Ct2Sampled
 *   EkReceivedCt1Sampled  sends the next Ct1 chunk               EkCt1Ack or Ct1Ack → Encaps2 → Ct2Sampled
 *   Ct1Acknowledged       sends None                             Ek or EkCt1Ack chunk; key complete → Encaps2
 *                                                                → Ct2Sampled
 *   Ct2Sampled            sends the next Ct2 chunk               (any message of the next epoch → key owner of
 *                                                                that epoch, see braid.ts)
 *
 * A complete key must hash to the header's commitment before it is used; ct2 goes out with the ciphertext MAC
 * under the authenticator that already holds this epoch's secret. The encapsulator keeps only the 32-byte
 * encapsulation seed between the halves. Message types not listed are ignored. No dispatch here (braid.ts).
 */
import { authUpdate, macCiphertext, verifyHeader } from './authenticator.js';
import type { Received, Rng, Sent, StateOf } from './braid-state.js';
import { deriveEpochSecret, emit, stay } from './braid-state.js';
import { addChunk, decoded, newDecoder, newEncoder } from './erasure-code.js';
import { ENCAPS_SEED_SIZE, EK_SIZE, HEADER_SIZE, ekMatchesHeader, encaps1, encaps2 } from './incremental-mlkem768.js';
import { concatBytes } from './kdf.js';
import type { Chunk } from './message.js';
import { MessageType } from './message.js';
import { SpqrError } from './spqr-error.js';

type HoldingSeed = StateOf<'Ct1Sampled' | 'EkReceivedCt1Sampled' | 'Ct1Acknowledged'>;

export function sendNothing(s: StateOf<'NoHeaderReceived' | 'Ct1Acknowledged'>): Sent {
  return { next: s, message: { epoch: s.epoch, type: MessageType.None, chunk: null }, secret: null };
}

export function encapsulateFirstHalf(s: StateOf<'HeaderReceived'>, rng: Rng): Sent {
  const encapsSeed = rng(ENCAPS_SEED_SIZE);
  const { ct1, sharedSecret } = encaps1(s.header, encapsSeed);
  const secret = deriveEpochSecret(sharedSecret, s.epoch);
  const auth = authUpdate(s.auth, s.epoch, secret.secret);
  const { message, outgoing } = emit(s.epoch, MessageType.Ct1, newEncoder(ct1));
  const incoming = newDecoder(EK_SIZE);
  return {
    next: { tag: 'Ct1Sampled', epoch: s.epoch, auth, header: s.header, encapsSeed, outgoing, incoming },
    message,
    secret,
  };
}

export function sendCt1Chunk(s: StateOf<'Ct1Sampled' | 'EkReceivedCt1Sampled'>): Sent {
  const { message, outgoing } = emit(s.epoch, MessageType.Ct1, s.outgoing);
  return { next: { ...s, outgoing }, message, secret: null };
}

export function sendCt2Chunk(s: StateOf<'Ct2Sampled'>): Sent {
  const { message, outgoing } = emit(s.epoch, MessageType.Ct2, s.outgoing);
  return { next: { ...s, outgoing }, message, secret: null };
}

export function collectHeader(s: StateOf<'NoHeaderReceived'>, chunk: Chunk): Received {
  const incoming = addChunk(s.incoming, chunk);
  const payload = decoded(incoming);
  if (payload === null) return stay({ ...s, incoming });
  const header = payload.slice(0, HEADER_SIZE);
  if (!verifyHeader(s.auth, s.epoch, header, payload.subarray(HEADER_SIZE))) {
    throw new SpqrError('Other', `epoch ${s.epoch}: the key header fails its MAC`);
  }
  return stay({ tag: 'HeaderReceived', epoch: s.epoch, auth: s.auth, header });
}

/** The whole encapsulation key: it must be the one the header committed to. */
function checkedKey(s: HoldingSeed, incoming: ReturnType<typeof addChunk>): Uint8Array | null {
  const key = decoded(incoming);
  if (key !== null && !ekMatchesHeader(key, s.header)) {
    throw new SpqrError('Other', `epoch ${s.epoch}: the encapsulation key does not match its header`);
  }
  return key;
}

/** Encaps2 and the ciphertext MAC: everything the key owner still needs. */
function encapsulateSecondHalf(s: HoldingSeed, encapsKey: Uint8Array, ct1: Uint8Array): Received {
  const ct2 = encaps2(s.header, encapsKey, s.encapsSeed);
  const mac = macCiphertext(s.auth, s.epoch, concatBytes(ct1, ct2));
  return stay({ tag: 'Ct2Sampled', epoch: s.epoch, auth: s.auth, outgoing: newEncoder(concatBytes(ct2, mac)) });
}

export function collectKey(s: StateOf<'Ct1Sampled'>, chunk: Chunk): Received {
  const incoming = addChunk(s.incoming, chunk);
  const encapsKey = checkedKey(s, incoming);
  if (encapsKey === null) return stay({ ...s, incoming });
  const { epoch, auth, header, encapsSeed, outgoing } = s;
  return stay({ tag: 'EkReceivedCt1Sampled', epoch, auth, header, encapsSeed, encapsKey, outgoing });
}

export function collectKeyWithAck(s: StateOf<'Ct1Sampled'>, chunk: Chunk): Received {
  const incoming = addChunk(s.incoming, chunk);
  const encapsKey = checkedKey(s, incoming);
  const ct1 = s.outgoing.message;
  if (encapsKey !== null) return encapsulateSecondHalf(s, encapsKey, ct1);
  const { epoch, auth, header, encapsSeed } = s;
  return stay({ tag: 'Ct1Acknowledged', epoch, auth, header, encapsSeed, ct1, incoming });
}

export function acknowledged(s: StateOf<'EkReceivedCt1Sampled'>): Received {
  return encapsulateSecondHalf(s, s.encapsKey, s.outgoing.message);
}

export function collectKeyAfterAck(s: StateOf<'Ct1Acknowledged'>, chunk: Chunk): Received {
  const incoming = addChunk(s.incoming, chunk);
  const encapsKey = checkedKey(s, incoming);
  if (encapsKey === null) return stay({ ...s, incoming });
  return encapsulateSecondHalf(s, encapsKey, s.ct1);
}
