/**
 * The key-owner ("send_ek") side of one ML-KEM Braid epoch (ML-KEM Braid spec §2.1 "Overview", steps 1–2, 5–7
 * and 10–12; §2.4 "Authentication"), as rows of the braid's transition table:
 *
 *   state              on send                                  on receive (this epoch)
 *   KeysUnsampled      sample a key pair, MAC the header;       —
 *                      → KeysSampled, sends Hdr
 *   KeysSampled        sends the next Hdr chunk                 Ct1 chunk → HeaderSent (start sending ek)
 *   HeaderSent         sends the next Ek chunk                  Ct1 chunk; ct1 complete → Ct1Received
 *   Ct1Received        sends the next ek chunk as EkCt1Ack      Ct2 chunk → EkSentCt1Received
 *   EkSentCt1Received  sends Ct1Ack (no chunk)                  Ct2 chunk; ct2 complete → decapsulate, derive
 *                                                               the epoch secret, update the authenticator,
 *                                                               check the ciphertext MAC → encapsulator of the
 *                                                               next epoch (NoHeaderReceived)
 *
 * The header is what the encapsulator needs to start (ρ and the hash of the key); the 1152-byte key follows only
 * once the first ct1 chunk shows the header arrived, and stops once a ct2 chunk shows the key arrived. Message
 * types not listed are ignored. This module does not dispatch (braid.ts) and holds no state of its own.
 */
import { authUpdate, macHeader, verifyCiphertext } from './authenticator.js';
import type { Received, Rng, Sent, StateOf } from './braid-state.js';
import { CT2_PAYLOAD_SIZE, deriveEpochSecret, emit, encapsulatorEntry, stay } from './braid-state.js';
import { addChunk, decoded, newDecoder, newEncoder } from './erasure-code.js';
import { CT1_SIZE, CT2_SIZE, KEYGEN_SEED_SIZE, decaps, generate, keysFromDk } from './incremental-mlkem768.js';
import { concatBytes } from './kdf.js';
import type { Chunk } from './message.js';
import { MessageType } from './message.js';
import { SpqrError } from './spqr-error.js';

export function sampleKeys(s: StateOf<'KeysUnsampled'>, rng: Rng): Sent {
  const keys = generate(rng(KEYGEN_SEED_SIZE));
  const payload = concatBytes(keys.header, macHeader(s.auth, s.epoch, keys.header));
  const { message, outgoing } = emit(s.epoch, MessageType.Hdr, newEncoder(payload));
  return {
    next: { tag: 'KeysSampled', epoch: s.epoch, auth: s.auth, decapsKey: keys.dk, outgoing },
    message,
    secret: null,
  };
}

export function sendHeaderChunk(s: StateOf<'KeysSampled'>): Sent {
  const { message, outgoing } = emit(s.epoch, MessageType.Hdr, s.outgoing);
  return { next: { ...s, outgoing }, message, secret: null };
}

export function sendKeyChunk(s: StateOf<'HeaderSent'>): Sent {
  const { message, outgoing } = emit(s.epoch, MessageType.Ek, s.outgoing);
  return { next: { ...s, outgoing }, message, secret: null };
}

export function sendKeyChunkWithAck(s: StateOf<'Ct1Received'>): Sent {
  const { message, outgoing } = emit(s.epoch, MessageType.EkCt1Ack, s.outgoing);
  return { next: { ...s, outgoing }, message, secret: null };
}

export function sendAck(s: StateOf<'EkSentCt1Received'>): Sent {
  return { next: s, message: { epoch: s.epoch, type: MessageType.Ct1Ack, chunk: null }, secret: null };
}

/** The first ct1 chunk: the header arrived, so the encapsulation key starts going out. */
export function headerArrived(s: StateOf<'KeysSampled'>, chunk: Chunk): Received {
  const incoming = addChunk(newDecoder(CT1_SIZE), chunk);
  const outgoing = newEncoder(keysFromDk(s.decapsKey).ek);
  return stay({ tag: 'HeaderSent', epoch: s.epoch, auth: s.auth, decapsKey: s.decapsKey, outgoing, incoming });
}

export function collectCt1(s: StateOf<'HeaderSent'>, chunk: Chunk): Received {
  const incoming = addChunk(s.incoming, chunk);
  const ct1 = decoded(incoming);
  if (ct1 === null) return stay({ ...s, incoming });
  const { epoch, auth, decapsKey, outgoing } = s;
  return stay({ tag: 'Ct1Received', epoch, auth, decapsKey, ct1, outgoing });
}

/** The first ct2 chunk: the key arrived, so only acknowledgements go out from now on. */
export function keyArrived(s: StateOf<'Ct1Received'>, chunk: Chunk): Received {
  const incoming = addChunk(newDecoder(CT2_PAYLOAD_SIZE), chunk);
  const { epoch, auth, decapsKey, ct1 } = s;
  return stay({ tag: 'EkSentCt1Received', epoch, auth, decapsKey, ct1, incoming });
}

export function collectCt2(s: StateOf<'EkSentCt1Received'>, chunk: Chunk): Received {
  const incoming = addChunk(s.incoming, chunk);
  const payload = decoded(incoming);
  if (payload === null) return stay({ ...s, incoming });
  const ct2 = payload.subarray(0, CT2_SIZE);
  const secret = deriveEpochSecret(decaps(s.decapsKey, s.ct1, ct2), s.epoch);
  const auth = authUpdate(s.auth, s.epoch, secret.secret);
  if (!verifyCiphertext(auth, s.epoch, concatBytes(s.ct1, ct2), payload.subarray(CT2_SIZE))) {
    throw new SpqrError('Other', `epoch ${s.epoch}: the ciphertext fails its MAC`);
  }
  return { next: encapsulatorEntry(s.epoch + 1, auth), secret };
}
