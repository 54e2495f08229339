/**
 * `SpqrState`, the immutable SPQR state of one session (key chain + braid), and its compact, versioned binary
 * form. Byte 0 is the format version (1); the rest is a hand-rolled layout of varints and fixed-size byte
 * strings, chosen so that saving and loading a session costs a few kilobytes of copying and no parsing library:
 *
 *   format(1) ‖ direction(1: 0 = A2B, 1 = B2A) ‖ chain ‖ braid
 *   chain  = varint currentEpoch ‖ varint sendEpoch ‖ nextRoot(32) ‖ varint links ‖ links × (half send ‖ half recv)
 *   half   = varint ctr ‖ hasNext(1) ‖ [next(32)] ‖ varint count ‖ count × (varint index ‖ key(32))
 *   braid  = tag(1) ‖ varint epoch ‖ authRoot(32) ‖ authMac(32) ‖ per-tag fields (keys, ciphertexts, chunk
 *            encoders as message ‖ varint next, chunk decoders as varint count ‖ count × (varint index ‖ 32 bytes))
 *
 * Loading validates every length, count, tag and range and reports any problem as SpqrError('StateCorrupt');
 * it never throws anything else. Later format versions must keep reading version 1.
 */
import type { Authenticator } from './authenticator.js';
import type { BraidState, BraidTag } from './braid.js';
import { CT2_MSG_SIZE, HDR_MSG_SIZE } from './braid.js';
import type { Chain, ChainHalf, ChainLink, SpqrDirection } from './chain.js';
import { MAX_OOO_KEYS, TRIM_SIZE } from './chain.js';
import type { Decoder, Encoder } from './erasure-code.js';
import { CT1_SIZE, DK_SIZE, EK_SIZE, ENCAPS_SEED_SIZE, HEADER_SIZE } from './incremental-mlkem768.js';
import type { Chunk } from './message.js';
import { CHUNK_SIZE, readVarint, writeVarint } from './message.js';
import { SpqrError } from './spqr-error.js';

export const STATE_FORMAT_V1 = 1;

const TAGS: readonly BraidTag[] = [
  'KeysUnsampled',
  'KeysSampled',
  'HeaderSent',
  'Ct1Received',
  'EkSentCt1Received',
  'NoHeaderReceived',
  'HeaderReceived',
  'Ct1Sampled',
  'EkReceivedCt1Sampled',
  'Ct1Acknowledged',
  'Ct2Sampled',
];

/** States of the side that owns the key pair this epoch. */
const SEND_EK: ReadonlySet<BraidTag> = new Set([
  'KeysUnsampled',
  'KeysSampled',
  'HeaderSent',
  'Ct1Received',
  'EkSentCt1Received',
]);
/** send_ct states that have encapsulated, and so already added this epoch's secret to the chain. */
const ENCAPSULATED: ReadonlySet<BraidTag> = new Set([
  'Ct1Sampled',
  'EkReceivedCt1Sampled',
  'Ct1Acknowledged',
  'Ct2Sampled',
]);

/** A decoder keeps at most n systematic plus n parity chunks. */
const MAX_DECODER_FACTOR = 2;
/** Keys a chain half may hold between garbage collections (see chain.ts). */
const MAX_HISTORY = TRIM_SIZE + MAX_OOO_KEYS;
/** Links kept: the send epoch, one before it, and epochs added since the last send. */
const MAX_LINKS = 64;

export class SpqrState {
  /** @internal The key chain; read-only, shared with successor states. */
  readonly chain: Chain;
  /** @internal The braid state; read-only, shared with successor states. */
  readonly braid: BraidState;
  #bytes: Uint8Array | null;

  /** @internal Use spqrInitialState or SpqrState.deserialize. */
  constructor(chain: Chain, braid: BraidState, bytes: Uint8Array | null = null) {
    this.chain = chain;
    this.braid = braid;
    this.#bytes = bytes;
  }

  /** The current braid epoch (the epoch this side's next message carries). */
  get epoch(): number {
    return this.braid.epoch;
  }

  serialize(): Uint8Array {
    this.#bytes ??= encodeState(this.chain, this.braid);
    return this.#bytes.slice();
  }

  static deserialize(bytes: Uint8Array): SpqrState {
    try {
      const { chain, braid } = decodeState(bytes);
      return new SpqrState(chain, braid, bytes.slice());
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

function writeHalf(w: Writer, h: ChainHalf): void {
  w.varint(h.ctr);
  if (h.next === null) {
    w.byte(0);
  } else {
    w.byte(1);
    w.bytes(h.next);
  }
  w.varint(h.prev.size);
  for (const [index, key] of h.prev) {
    w.varint(index);
    w.bytes(key);
  }
}

function readHalf(r: Reader): ChainHalf {
  const ctr = r.varint(0xffff_ffff);
  const hasNext = r.byte();
  if (hasNext > 1) throw corrupt('bad flag');
  const next = hasNext === 1 ? r.bytes(32) : null;
  const count = r.varint(MAX_HISTORY);
  const prev = new Map<number, Uint8Array>();
  for (let i = 0; i < count; i++) {
    const index = r.varint(0xffff_ffff);
    if (index >= ctr || prev.has(index)) throw corrupt('bad key history');
    prev.set(index, r.bytes(32));
  }
  return { ctr, next, prev };
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
  const count = r.varint(MAX_DECODER_FACTOR * n);
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

export function encodeState(chain: Chain, braid: BraidState): Uint8Array {
  const w = new Writer();
  w.byte(STATE_FORMAT_V1);
  w.byte(chain.dir === 'A2B' ? 0 : 1);
  w.varint(chain.currentEpoch);
  w.varint(chain.sendEpoch);
  w.bytes(chain.nextRoot);
  w.varint(chain.links.length);
  for (const link of chain.links) {
    writeHalf(w, link.send);
    writeHalf(w, link.recv);
  }
  w.byte(TAGS.indexOf(braid.tag));
  w.varint(braid.epoch);
  writeAuth(w, braid.auth);
  switch (braid.tag) {
    case 'KeysUnsampled':
      break;
    case 'KeysSampled':
      w.bytes(braid.dk);
      writeEncoder(w, braid.sendingHdr);
      break;
    case 'HeaderSent':
      w.bytes(braid.dk);
      writeEncoder(w, braid.sendingEk);
      writeDecoder(w, braid.receivingCt1);
      break;
    case 'Ct1Received':
      w.bytes(braid.dk);
      w.bytes(braid.ct1);
      writeEncoder(w, braid.sendingEk);
      break;
    case 'EkSentCt1Received':
      w.bytes(braid.dk);
      w.bytes(braid.ct1);
      writeDecoder(w, braid.receivingCt2);
      break;
    case 'NoHeaderReceived':
      writeDecoder(w, braid.receivingHdr);
      break;
    case 'HeaderReceived':
      w.bytes(braid.hdr);
      break;
    case 'Ct1Sampled':
      w.bytes(braid.hdr);
      w.bytes(braid.m);
      writeEncoder(w, braid.sendingCt1);
      writeDecoder(w, braid.receivingEk);
      break;
    case 'EkReceivedCt1Sampled':
      w.bytes(braid.hdr);
      w.bytes(braid.m);
      w.bytes(braid.ek);
      writeEncoder(w, braid.sendingCt1);
      break;
    case 'Ct1Acknowledged':
      w.bytes(braid.hdr);
      w.bytes(braid.m);
      w.bytes(braid.ct1);
      writeDecoder(w, braid.receivingEk);
      break;
    case 'Ct2Sampled':
      writeEncoder(w, braid.sendingCt2);
      break;
  }
  return w.result();
}

function readBraid(r: Reader): BraidState {
  const tag = TAGS[r.byte()];
  if (tag === undefined) throw corrupt('unknown braid state');
  const epoch = r.varint();
  if (epoch === 0) throw corrupt('epoch 0');
  const auth: Authenticator = { root: r.bytes(32), mac: r.bytes(32) };
  const base = { epoch, auth };
  switch (tag) {
    case 'KeysUnsampled':
      return { tag, ...base };
    case 'KeysSampled':
      return { tag, ...base, dk: r.bytes(DK_SIZE), sendingHdr: readEncoder(r, HDR_MSG_SIZE) };
    case 'HeaderSent':
      return {
        tag,
        ...base,
        dk: r.bytes(DK_SIZE),
        sendingEk: readEncoder(r, EK_SIZE),
        receivingCt1: readDecoder(r, CT1_SIZE),
      };
    case 'Ct1Received':
      return { tag, ...base, dk: r.bytes(DK_SIZE), ct1: r.bytes(CT1_SIZE), sendingEk: readEncoder(r, EK_SIZE) };
    case 'EkSentCt1Received':
      return {
        tag,
        ...base,
        dk: r.bytes(DK_SIZE),
        ct1: r.bytes(CT1_SIZE),
        receivingCt2: readDecoder(r, CT2_MSG_SIZE),
      };
    case 'NoHeaderReceived':
      return { tag, ...base, receivingHdr: readDecoder(r, HDR_MSG_SIZE) };
    case 'HeaderReceived':
      return { tag, ...base, hdr: r.bytes(HEADER_SIZE) };
    case 'Ct1Sampled':
      return {
        tag,
        ...base,
        hdr: r.bytes(HEADER_SIZE),
        m: r.bytes(ENCAPS_SEED_SIZE),
        sendingCt1: readEncoder(r, CT1_SIZE),
        receivingEk: readDecoder(r, EK_SIZE),
      };
    case 'EkReceivedCt1Sampled':
      return {
        tag,
        ...base,
        hdr: r.bytes(HEADER_SIZE),
        m: r.bytes(ENCAPS_SEED_SIZE),
        ek: r.bytes(EK_SIZE),
        sendingCt1: readEncoder(r, CT1_SIZE),
      };
    case 'Ct1Acknowledged':
      return {
        tag,
        ...base,
        hdr: r.bytes(HEADER_SIZE),
        m: r.bytes(ENCAPS_SEED_SIZE),
        ct1: r.bytes(CT1_SIZE),
        receivingEk: readDecoder(r, EK_SIZE),
      };
    case 'Ct2Sampled':
      return { tag, ...base, sendingCt2: readEncoder(r, CT2_MSG_SIZE) };
  }
  throw corrupt('unknown braid state');
}

export function decodeState(bytes: Uint8Array): { chain: Chain; braid: BraidState } {
  if (!(bytes instanceof Uint8Array)) throw corrupt('not bytes');
  const r = new Reader(bytes);
  const format = r.byte();
  if (format !== STATE_FORMAT_V1) throw corrupt(`unknown format ${format}`);
  const dirByte = r.byte();
  if (dirByte > 1) throw corrupt('bad direction');
  const dir: SpqrDirection = dirByte === 0 ? 'A2B' : 'B2A';
  const currentEpoch = r.varint();
  const sendEpoch = r.varint();
  if (sendEpoch > currentEpoch) throw corrupt('send epoch ahead of chain');
  const nextRoot = r.bytes(32);
  const linkCount = r.varint(MAX_LINKS);
  if (linkCount === 0 || linkCount > currentEpoch + 1) throw corrupt('bad link count');
  const links: ChainLink[] = [];
  for (let i = 0; i < linkCount; i++) {
    const send = readHalf(r);
    const recv = readHalf(r);
    if (recv.next === null) throw corrupt('receiving chain missing');
    links.push({ send, recv });
  }
  if (currentEpoch - sendEpoch >= linkCount) throw corrupt('send epoch not kept');
  const braid = readBraid(r);
  r.end();
  // The braid and the chain move together: send_ct states that already encapsulated have added their epoch to
  // the chain; every other state is one epoch ahead of it. Alice holds the key pair in odd epochs, Bob in even.
  const encapsulated = ENCAPSULATED.has(braid.tag);
  if (braid.epoch - currentEpoch !== (encapsulated ? 0 : 1)) throw corrupt('braid and chain epochs disagree');
  if (SEND_EK.has(braid.tag) !== (braid.epoch % 2 === (dir === 'A2B' ? 1 : 0))) throw corrupt('wrong role');
  return { chain: { dir, currentEpoch, sendEpoch, links, nextRoot }, braid };
}
