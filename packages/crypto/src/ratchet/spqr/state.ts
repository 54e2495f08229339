/**
 * `SpqrState`, the immutable SPQR state of one session (key chain + braid + the receiving jump limit fixed when
 * the session was created), and its compact, versioned binary form. Byte 0 is the format version; the rest is a
 * hand-rolled layout of varints and fixed-size byte strings, chosen so that saving and loading a session costs a
 * few kilobytes of copying and no parsing library:
 *
 *   format 1: 0x01 ‖ body                      (the default jump limit, 25,000)
 *   format 2: 0x02 ‖ varint jumpLimit ‖ body   (any other limit: note-to-self sessions)
 *   body   = direction(1: 0 = A2B, 1 = B2A) ‖ chain ‖ braid
 *   chain  = varint newestEpoch ‖ varint sendingEpoch ‖ rootKey(32) ‖ varint epochs ‖ epochs × (seq sending ‖
 *            seq receiving)
 *   seq    = varint counter ‖ hasChainKey(1) ‖ [chainKey(32)] ‖ varint count ‖ count × (varint index ‖ key(32))
 *   braid  = tag(1) ‖ varint epoch ‖ authRoot(32) ‖ authMac(32) ‖ per-tag fields (keys, ciphertexts, chunk
 *            encoders as message ‖ varint next, chunk decoders as varint count ‖ count × (varint index ‖ 32 bytes))
 *
 * A state with the default limit is always written as format 1, byte for byte as before format 2 existed, and
 * every format-1 state (all states saved before) loads with the default limit. Loading validates every length,
 * count, tag and range and reports any problem as SpqrError('StateCorrupt'); it never throws anything else. Later
 * format versions must keep reading versions 1 and 2.
 */
import {
  SPQR_MAX_DECODER_CHUNK_FACTOR,
  SPQR_MAX_JUMP,
  SPQR_MAX_OOO_KEYS,
  SPQR_MAX_STORED_EPOCHS,
  SPQR_SWEEP_THRESHOLD,
  SPQR_UNLIMITED_JUMPS,
} from '../../constants.js';
import type { SpqrMessageKey } from '../key-roles.js';
import { asSpqrChainKey, asSpqrMessageKey, asSpqrRootKey } from '../key-roles.js';
import type { Authenticator } from './authenticator.js';
import type { BraidState } from './braid-state.js';
import { BRAID_TAGS, CT2_PAYLOAD_SIZE, ENCAPSULATED_TAGS, HEADER_PAYLOAD_SIZE, KEY_OWNER_TAGS } from './braid-state.js';
import type { EpochKeys, KeyChain, SpqrDirection } from './chain.js';
import type { KeySequence } from './key-sequence.js';
import type { Decoder, Encoder } from './erasure-code.js';
import { CT1_SIZE, DK_SIZE, EK_SIZE, ENCAPS_SEED_SIZE, HEADER_SIZE } from './incremental-mlkem768.js';
import type { Chunk } from './message.js';
import { CHUNK_SIZE, readVarint, writeVarint } from './message.js';
import { SpqrError } from './spqr-error.js';

export const STATE_FORMAT_V1 = 1;
/** Format 1 preceded by a jump limit other than the default. */
export const STATE_FORMAT_V2 = 2;

/** Skipped keys a receiving sequence may hold between sweeps (see key-sequence.ts). */
const MAX_HISTORY = SPQR_SWEEP_THRESHOLD + SPQR_MAX_OOO_KEYS;

export class SpqrState {
  /** @internal The key chain; read-only, shared with successor states. */
  readonly chain: KeyChain;
  /** @internal The braid state; read-only, shared with successor states. */
  readonly braid: BraidState;
  /** How far ahead of its receiving chain a message may be; fixed when the session is created. */
  readonly jumpLimit: number;
  #bytes: Uint8Array | null;

  /** @internal Use spqrInitialState or SpqrState.deserialize. */
  constructor(chain: KeyChain, braid: BraidState, jumpLimit: number, bytes: Uint8Array | null = null) {
    this.chain = chain;
    this.braid = braid;
    this.jumpLimit = jumpLimit;
    this.#bytes = bytes;
  }

  /** The current braid epoch (the epoch this side's next message carries). */
  get epoch(): number {
    return this.braid.epoch;
  }

  serialize(): Uint8Array {
    this.#bytes ??= encodeState(this.chain, this.braid, this.jumpLimit);
    return this.#bytes.slice();
  }

  static deserialize(bytes: Uint8Array): SpqrState {
    try {
      const { chain, braid, jumpLimit } = decodeState(bytes);
      return new SpqrState(chain, braid, jumpLimit, bytes.slice());
    } catch (e) {
      if (e instanceof SpqrError && e.kind === 'StateCorrupt') throw e;
      throw new SpqrError('StateCorrupt', 'state decode failed', { cause: e });
    }
  }
}

class Writer {
  private buf = new Uint8Array(4096);
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  byte(v: number): void {
    this.reserve(1);
    this.buf[this.len++] = v;
  }

  varint(v: number): void {
    const tmp: number[] = [];
    writeVarint(tmp, v);
    this.reserve(tmp.length);
    this.buf.set(tmp, this.len);
    this.len += tmp.length;
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

class Reader {
  private at = 0;
  constructor(private readonly buf: Uint8Array) {}

  byte(): number {
    const b = this.buf[this.at];
    if (b === undefined) throw corrupt('truncated');
    this.at++;
    return b;
  }

  varint(max = Number.MAX_SAFE_INTEGER): number {
    const [v, at] = readVarint(this.buf, this.at, max, 'state field');
    this.at = at;
    return v;
  }

  bytes(n: number): Uint8Array {
    if (this.at + n > this.buf.length) throw corrupt('truncated');
    const out = this.buf.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }

  end(): void {
    if (this.at !== this.buf.length) throw corrupt('trailing bytes');
  }
}

function corrupt(what: string): SpqrError {
  return new SpqrError('StateCorrupt', `state decode failed: ${what}`);
}

function writeSequence(w: Writer, seq: KeySequence): void {
  w.varint(seq.counter);
  if (seq.chainKey === null) {
    w.byte(0);
  } else {
    w.byte(1);
    w.bytes(seq.chainKey);
  }
  w.varint(seq.skipped.size);
  for (const [index, key] of seq.skipped) {
    w.varint(index);
    w.bytes(key);
  }
}

function readSequence(r: Reader): KeySequence {
  const counter = r.varint(0xffff_ffff);
  const hasChainKey = r.byte();
  if (hasChainKey > 1) throw corrupt('bad flag');
  const chainKey = hasChainKey === 1 ? asSpqrChainKey(r.bytes(32)) : null;
  const count = r.varint(MAX_HISTORY);
  const skipped = new Map<number, SpqrMessageKey>();
  for (let i = 0; i < count; i++) {
    const index = r.varint(0xffff_ffff);
    if (index >= counter || skipped.has(index)) throw corrupt('bad key history');
    skipped.set(index, asSpqrMessageKey(r.bytes(32)));
  }
  return { counter, chainKey, skipped };
}

function writeEncoder(w: Writer, e: Encoder): void {
  w.bytes(e.message);
  w.varint(e.next);
}

function readEncoder(r: Reader, size: number): Encoder {
  const message = r.bytes(size);
  return { message, next: r.varint(0xffff_ffff) };
}

function writeDecoder(w: Writer, d: Decoder): void {
  w.varint(d.chunks.length);
  for (const c of d.chunks) {
    w.varint(c.index);
    w.bytes(c.data);
  }
}

function readDecoder(r: Reader, size: number): Decoder {
  const n = size / CHUNK_SIZE;
  const count = r.varint(SPQR_MAX_DECODER_CHUNK_FACTOR * n);
  const chunks: Chunk[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < count; i++) {
    const index = r.varint(0xffff);
    if (seen.has(index)) throw corrupt('repeated chunk');
    seen.add(index);
    chunks.push({ index, data: r.bytes(CHUNK_SIZE) });
  }
  // A decoder that already holds a complete value would have been consumed by its state transition.
  if (chunks.length >= n) throw corrupt('complete decoder');
  return { n, chunks };
}

function writeAuth(w: Writer, a: Authenticator): void {
  w.bytes(a.root);
  w.bytes(a.mac);
}

export function encodeState(chain: KeyChain, braid: BraidState, jumpLimit: number): Uint8Array {
  const w = new Writer();
  if (jumpLimit === SPQR_MAX_JUMP) {
    w.byte(STATE_FORMAT_V1);
  } else {
    w.byte(STATE_FORMAT_V2);
    w.varint(jumpLimit);
  }
  w.byte(chain.direction === 'A2B' ? 0 : 1);
  w.varint(chain.newestEpoch);
  w.varint(chain.sendingEpoch);
  w.bytes(chain.rootKey);
  w.varint(chain.epochs.length);
  for (const keys of chain.epochs) {
    writeSequence(w, keys.sending);
    writeSequence(w, keys.receiving);
  }
  w.byte(BRAID_TAGS.indexOf(braid.tag));
  w.varint(braid.epoch);
  writeAuth(w, braid.auth);
  switch (braid.tag) {
    case 'KeysUnsampled':
      break;
    case 'KeysSampled':
      w.bytes(braid.decapsKey);
      writeEncoder(w, braid.outgoing);
      break;
    case 'HeaderSent':
      w.bytes(braid.decapsKey);
      writeEncoder(w, braid.outgoing);
      writeDecoder(w, braid.incoming);
      break;
    case 'Ct1Received':
      w.bytes(braid.decapsKey);
      w.bytes(braid.ct1);
      writeEncoder(w, braid.outgoing);
      break;
    case 'EkSentCt1Received':
      w.bytes(braid.decapsKey);
      w.bytes(braid.ct1);
      writeDecoder(w, braid.incoming);
      break;
    case 'NoHeaderReceived':
      writeDecoder(w, braid.incoming);
      break;
    case 'HeaderReceived':
      w.bytes(braid.header);
      break;
    case 'Ct1Sampled':
      w.bytes(braid.header);
      w.bytes(braid.encapsSeed);
      writeEncoder(w, braid.outgoing);
      writeDecoder(w, braid.incoming);
      break;
    case 'EkReceivedCt1Sampled':
      w.bytes(braid.header);
      w.bytes(braid.encapsSeed);
      w.bytes(braid.encapsKey);
      writeEncoder(w, braid.outgoing);
      break;
    case 'Ct1Acknowledged':
      w.bytes(braid.header);
      w.bytes(braid.encapsSeed);
      w.bytes(braid.ct1);
      writeDecoder(w, braid.incoming);
      break;
    case 'Ct2Sampled':
      writeEncoder(w, braid.outgoing);
      break;
  }
  return w.result();
}

function readBraid(r: Reader): BraidState {
  const tag = BRAID_TAGS[r.byte()];
  if (tag === undefined) throw corrupt('unknown braid state');
  const epoch = r.varint();
  if (epoch === 0) throw corrupt('epoch 0');
  const auth: Authenticator = { root: r.bytes(32), mac: r.bytes(32) };
  const base = { epoch, auth };
  switch (tag) {
    case 'KeysUnsampled':
      return { tag, ...base };
    case 'KeysSampled':
      return { tag, ...base, decapsKey: r.bytes(DK_SIZE), outgoing: readEncoder(r, HEADER_PAYLOAD_SIZE) };
    case 'HeaderSent':
      return {
        tag,
        ...base,
        decapsKey: r.bytes(DK_SIZE),
        outgoing: readEncoder(r, EK_SIZE),
        incoming: readDecoder(r, CT1_SIZE),
      };
    case 'Ct1Received':
      return {
        tag,
        ...base,
        decapsKey: r.bytes(DK_SIZE),
        ct1: r.bytes(CT1_SIZE),
        outgoing: readEncoder(r, EK_SIZE),
      };
    case 'EkSentCt1Received':
      return {
        tag,
        ...base,
        decapsKey: r.bytes(DK_SIZE),
        ct1: r.bytes(CT1_SIZE),
        incoming: readDecoder(r, CT2_PAYLOAD_SIZE),
      };
    case 'NoHeaderReceived':
      return { tag, ...base, incoming: readDecoder(r, HEADER_PAYLOAD_SIZE) };
    case 'HeaderReceived':
      return { tag, ...base, header: r.bytes(HEADER_SIZE) };
    case 'Ct1Sampled':
      return {
        tag,
        ...base,
        header: r.bytes(HEADER_SIZE),
        encapsSeed: r.bytes(ENCAPS_SEED_SIZE),
        outgoing: readEncoder(r, CT1_SIZE),
        incoming: readDecoder(r, EK_SIZE),
      };
    case 'EkReceivedCt1Sampled':
      return {
        tag,
        ...base,
        header: r.bytes(HEADER_SIZE),
        encapsSeed: r.bytes(ENCAPS_SEED_SIZE),
        encapsKey: r.bytes(EK_SIZE),
        outgoing: readEncoder(r, CT1_SIZE),
      };
    case 'Ct1Acknowledged':
      return {
        tag,
        ...base,
        header: r.bytes(HEADER_SIZE),
        encapsSeed: r.bytes(ENCAPS_SEED_SIZE),
        ct1: r.bytes(CT1_SIZE),
        incoming: readDecoder(r, EK_SIZE),
      };
    case 'Ct2Sampled':
      return { tag, ...base, outgoing: readEncoder(r, CT2_PAYLOAD_SIZE) };
  }
  throw corrupt('unknown braid state');
}

export function decodeState(bytes: Uint8Array): { chain: KeyChain; braid: BraidState; jumpLimit: number } {
  if (!(bytes instanceof Uint8Array)) throw corrupt('not bytes');
  const r = new Reader(bytes);
  const format = r.byte();
  if (format !== STATE_FORMAT_V1 && format !== STATE_FORMAT_V2) throw corrupt(`unknown format ${format}`);
  const jumpLimit = format === STATE_FORMAT_V1 ? SPQR_MAX_JUMP : r.varint(SPQR_UNLIMITED_JUMPS);
  if (jumpLimit === 0) throw corrupt('jump limit 0');
  const dirByte = r.byte();
  if (dirByte > 1) throw corrupt('bad direction');
  const direction: SpqrDirection = dirByte === 0 ? 'A2B' : 'B2A';
  const newestEpoch = r.varint();
  const sendingEpoch = r.varint();
  if (sendingEpoch > newestEpoch) throw corrupt('sending epoch ahead of chain');
  const rootKey = asSpqrRootKey(r.bytes(32));
  const epochCount = r.varint(SPQR_MAX_STORED_EPOCHS);
  if (epochCount === 0 || epochCount > newestEpoch + 1) throw corrupt('bad epoch count');
  const epochs: EpochKeys[] = [];
  for (let i = 0; i < epochCount; i++) {
    const sending = readSequence(r);
    const receiving = readSequence(r);
    if (receiving.chainKey === null) throw corrupt('receiving chain missing');
    epochs.push({ sending, receiving });
  }
  if (newestEpoch - sendingEpoch >= epochCount) throw corrupt('sending epoch not kept');
  const braid = readBraid(r);
  r.end();
  // The braid and the chain move together: encapsulator states that already encapsulated have added their epoch
  // to the chain; every other state is one epoch ahead of it. Alice owns the key in odd epochs, Bob in even.
  const encapsulated = ENCAPSULATED_TAGS.has(braid.tag);
  if (braid.epoch - newestEpoch !== (encapsulated ? 0 : 1)) throw corrupt('braid and chain epochs disagree');
  if (KEY_OWNER_TAGS.has(braid.tag) !== (braid.epoch % 2 === (direction === 'A2B' ? 1 : 0))) {
    throw corrupt('wrong role');
  }
  return { chain: { direction, newestEpoch, sendingEpoch, epochs, rootKey }, braid, jumpLimit };
}
