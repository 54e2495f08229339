/**
 * The systematic Reed–Solomon erasure code SPQR uses to spread its large values (header, key, ciphertexts) over
 * many messages, so that any n distinct chunks of an n-chunk value rebuild it.
 *
 * Arithmetic is in GF(2^16) with the primitive polynomial x^16 + x^12 + x^3 + x + 1 (0x1100b); addition is XOR,
 * multiplication uses log/antilog tables of the generator x. A value of length 32·n is read as 16·n big-endian
 * 16-bit symbols; symbol i belongs to polynomial i mod 16 at point x = ⌊i / 16⌋. Chunk k holds the 16
 * polynomials evaluated at x = k: for k < n these are the raw bytes k·32 .. k·32+32 (systematic); for k ≥ n they
 * are Lagrange evaluations of the degree n-1 polynomials through the n raw points (parity).
 *
 * Encoders and decoders are immutable values: `nextChunk` and `addChunk` return successors. The decoder keeps a
 * chunk only if it is systematic or still needed, ignores repeated indices, and rebuilds once it holds n.
 */
import type { Chunk } from './message.js';
import { CHUNK_SIZE } from './message.js';

const FIELD_ORDER = 0x10000;
const GROUP_ORDER = 0xffff;
const POLY = 0x1100b;

const EXP = new Uint16Array(2 * GROUP_ORDER);
const LOG = new Uint16Array(FIELD_ORDER);
{
  let v = 1;
  for (let i = 0; i < GROUP_ORDER; i++) {
    EXP[i] = v;
    EXP[i + GROUP_ORDER] = v;
    LOG[v] = i;
    v <<= 1;
    if (v & FIELD_ORDER) v ^= POLY;
  }
}

export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[(LOG[a] as number) + (LOG[b] as number)] as number;
}

export function gfDiv(a: number, b: number): number {
  if (b === 0) throw new RangeError('GF(2^16) division by zero');
  if (a === 0) return 0;
  return EXP[(LOG[a] as number) + GROUP_ORDER - (LOG[b] as number)] as number;
}

/** Weights w_j with f(x) = Σ w_j · f(xs[j]) for any polynomial f of degree < xs.length (xs distinct, x ∉ xs). */
function lagrangeWeights(xs: readonly number[], x: number): number[] {
  const n = xs.length;
  const weights = new Array<number>(n);
  let full = 1;
  for (const xj of xs) full = gfMul(full, x ^ xj);
  for (let j = 0; j < n; j++) {
    const xj = xs[j] as number;
    let denom = x ^ xj;
    for (let k = 0; k < n; k++) if (k !== j) denom = gfMul(denom, xj ^ (xs[k] as number));
    weights[j] = gfDiv(full, denom);
  }
  return weights;
}

/** Σ_j w_j · (symbol p of rows[j]) for each of the 16 symbol positions p, as a 32-byte chunk. */
function combine(rows: readonly Uint8Array[], weights: readonly number[]): Uint8Array {
  const out = new Uint8Array(CHUNK_SIZE);
  for (let p = 0; p < CHUNK_SIZE; p += 2) {
    let acc = 0;
    for (let j = 0; j < rows.length; j++) {
      const row = rows[j] as Uint8Array;
      acc ^= gfMul(weights[j] as number, ((row[p] as number) << 8) | (row[p + 1] as number));
    }
    out[p] = acc >>> 8;
    out[p + 1] = acc & 0xff;
  }
  return out;
}

export interface Encoder {
  readonly message: Uint8Array;
  /** Index of the next chunk to emit; wraps at 2^16 like the chunk index on the wire. */
  readonly next: number;
}

export function newEncoder(message: Uint8Array): Encoder {
  if (message.length === 0 || message.length % CHUNK_SIZE !== 0) {
    throw new RangeError('erasure code: message length must be a positive multiple of 32');
  }
  return { message, next: 0 };
}

export function chunkAt(message: Uint8Array, index: number): Uint8Array {
  const n = message.length / CHUNK_SIZE;
  if (index < n) return message.slice(index * CHUNK_SIZE, (index + 1) * CHUNK_SIZE);
  const rows: Uint8Array[] = [];
  const xs: number[] = [];
  for (let j = 0; j < n; j++) {
    rows.push(message.subarray(j * CHUNK_SIZE, (j + 1) * CHUNK_SIZE));
    xs.push(j);
  }
  return combine(rows, lagrangeWeights(xs, index));
}

export function nextChunk(enc: Encoder): { encoder: Encoder; chunk: Chunk } {
  const index = enc.next & 0xffff;
  return {
    encoder: { message: enc.message, next: (enc.next + 1) % 0x1_0000_0000 },
    chunk: { index, data: chunkAt(enc.message, index) },
  };
}

export interface Decoder {
  /** Chunks making up the value (n = length / 32). */
  readonly n: number;
  /** Distinct chunks kept, in arrival order. */
  readonly chunks: readonly Chunk[];
}

export function newDecoder(length: number): Decoder {
  if (length === 0 || length % CHUNK_SIZE !== 0) {
    throw new RangeError('erasure code: length must be a positive multiple of 32');
  }
  return { n: length / CHUNK_SIZE, chunks: [] };
}

export function addChunk(dec: Decoder, chunk: Chunk): Decoder {
  if (chunk.index >= dec.n && dec.chunks.length >= dec.n) return dec;
  if (dec.chunks.some((c) => c.index === chunk.index)) return dec;
  return { n: dec.n, chunks: [...dec.chunks, { index: chunk.index, data: chunk.data.slice() }] };
}

/** The rebuilt value once n distinct chunks are held, else null. */
export function decoded(dec: Decoder): Uint8Array | null {
  const { n } = dec;
  if (dec.chunks.length < n) return null;
  const sorted = [...dec.chunks].sort((a, b) => a.index - b.index).slice(0, n);
  const out = new Uint8Array(n * CHUNK_SIZE);
  const have = new Set<number>();
  for (const c of sorted) {
    if (c.index < n) {
      out.set(c.data, c.index * CHUNK_SIZE);
      have.add(c.index);
    }
  }
  if (have.size === n) return out;
  const xs = sorted.map((c) => c.index);
  const rows = sorted.map((c) => c.data);
  for (let s = 0; s < n; s++) {
    if (!have.has(s)) out.set(combine(rows, lagrangeWeights(xs, s)), s * CHUNK_SIZE);
  }
  return out;
}
