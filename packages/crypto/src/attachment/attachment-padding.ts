/**
 * The padding rule: a plaintext of n bytes is padded with zeros to the smallest bucket ≥ n, where buckets are
 * floor(1.05^k) for integer k, and never below 541 bytes — Signal's rule (max(541, floor(1.05^ceil(log_1.05 n))))
 * computed exactly. The bucket edges are derived once with integer arithmetic (21^k div 20^k), so every JavaScript
 * engine agrees on them to the byte, which a `Math.log`/`Math.pow` formula does not promise at the edges.
 * The padded size tells the size only to within 5 % (one of 313 buckets up to 2 GiB); the cost is at most 5 %.
 */
import { AttachmentError } from './attachment-error.js';
import { ATTACHMENT_MAX_PADDED_SIZE } from './attachment-format.js';

/** Smallest padded size: hides whether a short file is 1 byte or 500 (Signal's constant). */
export const ATTACHMENT_MIN_PADDED_SIZE = 541;

let edges: readonly number[] | null = null;

/** The bucket edges ≥ 541, ascending and distinct, up to the first one ≥ the format's maximum. */
function bucketEdges(): readonly number[] {
  if (edges) return edges;
  const list: number[] = [];
  let num = 1n;
  let den = 1n;
  for (;;) {
    num *= 21n;
    den *= 20n;
    const edge = Number(num / den);
    if (edge >= ATTACHMENT_MIN_PADDED_SIZE && list[list.length - 1] !== edge) list.push(edge);
    if (edge >= ATTACHMENT_MAX_PADDED_SIZE) break;
  }
  edges = list;
  return list;
}

/** The padded size of a plaintext of `plainSize` bytes (0 ≤ plainSize ≤ 2 GiB). */
export function paddedSize(plainSize: number): number {
  if (!Number.isSafeInteger(plainSize) || plainSize < 0 || plainSize > ATTACHMENT_MAX_PADDED_SIZE)
    throw new AttachmentError('InvalidArgument', 'attachment size out of range');
  if (plainSize <= ATTACHMENT_MIN_PADDED_SIZE) return ATTACHMENT_MIN_PADDED_SIZE;
  const list = bucketEdges();
  let lo = 0;
  let hi = list.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as number) >= plainSize) hi = mid;
    else lo = mid + 1;
  }
  return Math.min(list[lo] as number, ATTACHMENT_MAX_PADDED_SIZE);
}
