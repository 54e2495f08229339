/**
 * The SPQR v1 wire message, carried in SignalMessage field 5:
 *
 *   0x01 (version) ‖ varint epoch (≥ 1) ‖ varint chain index (u32) ‖ type byte ‖
 *   [for Hdr, Ek, EkCt1Ack, Ct1, Ct2: varint chunk index (≤ 65535) ‖ 32 bytes of chunk data]
 *
 * Varints are LEB128 (7 bits a byte, least significant first). Trailing bytes after the message are allowed (the
 * format's room for later versions); everything else is checked strictly: non-minimal or overlong varints,
 * unknown types and short chunks are `Malformed`. Version handling (empty = V0, other versions) is the caller's.
 */
import { SpqrError } from './spqr-error.js';

export const SPQR_VERSION_V1 = 1;
/** Every chunk carries 16 GF(2^16) symbols. */
export const CHUNK_SIZE = 32;

export enum MessageType {
  None = 0,
  Hdr = 1,
  Ek = 2,
  EkCt1Ack = 3,
  Ct1Ack = 4,
  Ct1 = 5,
  Ct2 = 6,
}

export interface Chunk {
  readonly index: number;
  readonly data: Uint8Array;
}

export interface SpqrMessage {
  readonly epoch: number;
  /** The key-chain index of this message (≥ 1 for every message a V1 sender produces). */
  readonly index: number;
  readonly type: MessageType;
  /** Present exactly for the chunk-carrying types. */
  readonly chunk: Chunk | null;
}

export function typeCarriesChunk(type: MessageType): boolean {
  return type !== MessageType.None && type !== MessageType.Ct1Ack;
}

/** Writes a LEB128 varint of a non-negative safe integer. */
export function writeVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}

/**
 * Reads a minimal LEB128 varint no larger than `max` (≤ 2^53 - 1) at `at`; returns the value and the offset after
 * it. Throws `Malformed` on truncation, a non-minimal encoding or an out-of-range value.
 */
export function readVarint(bytes: Uint8Array, at: number, max: number, what: string): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    const b = bytes[at + i];
    if (b === undefined) throw new SpqrError('Malformed', `truncated ${what}`);
    value += (b & 0x7f) * scale;
    if (value > max) throw new SpqrError('Malformed', `${what} out of range`);
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) throw new SpqrError('Malformed', `non-minimal ${what}`);
      return [value, at + i + 1];
    }
    scale *= 0x80;
  }
  throw new SpqrError('Malformed', `${what} out of range`);
}

export function encodeMessage(msg: SpqrMessage): Uint8Array {
  const head: number[] = [SPQR_VERSION_V1];
  writeVarint(head, msg.epoch);
  writeVarint(head, msg.index);
  head.push(msg.type);
  if (!typeCarriesChunk(msg.type)) return Uint8Array.from(head);
  const chunk = msg.chunk;
  if (chunk === null || chunk.data.length !== CHUNK_SIZE) throw new SpqrError('Other', 'chunk missing');
  writeVarint(head, chunk.index);
  const out = new Uint8Array(head.length + CHUNK_SIZE);
  out.set(head, 0);
  out.set(chunk.data, head.length);
  return out;
}

/** Parses a V1 message (the first byte must be 0x01). Trailing bytes are ignored. */
export function decodeMessage(bytes: Uint8Array): SpqrMessage {
  if (bytes.length === 0 || bytes[0] !== SPQR_VERSION_V1) throw new SpqrError('Malformed', 'not a V1 message');
  const [epoch, afterEpoch] = readVarint(bytes, 1, Number.MAX_SAFE_INTEGER, 'epoch');
  if (epoch === 0) throw new SpqrError('Malformed', 'epoch 0');
  const [index, afterIndex] = readVarint(bytes, afterEpoch, 0xffff_ffff, 'chain index');
  const typeByte = bytes[afterIndex];
  if (typeByte === undefined) throw new SpqrError('Malformed', 'truncated message type');
  if (typeByte > 6) throw new SpqrError('Malformed', `unknown message type ${typeByte}`);
  const type = typeByte as MessageType;
  if (!typeCarriesChunk(type)) return { epoch, index, type, chunk: null };
  const [chunkIndex, at] = readVarint(bytes, afterIndex + 1, 0xffff, 'chunk index');
  if (at + CHUNK_SIZE > bytes.length) throw new SpqrError('Malformed', 'truncated chunk');
  return { epoch, index, type, chunk: { index: chunkIndex, data: bytes.slice(at, at + CHUNK_SIZE) } };
}
