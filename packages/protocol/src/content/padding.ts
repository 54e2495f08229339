/**
 * Pads message content before encryption so that ciphertext lengths leak little: the plaintext is followed by one
 * 0x80 byte and then zeros up to a bucket size. Buckets follow the Padmé scheme (Nikitin et al., "Reducing Metadata
 * Leakage from Encrypted Files and Communication with PURBs", PETS 2019), which reveals only O(log log n) bits of the
 * length at no more than 12 % overhead, with a floor so that all short messages look alike.
 * It does not encode or encrypt anything.
 */

/** Smallest padded size: typical chat lines, receipts and typing indicators all become 160 bytes (Signal's block). */
export const MIN_PADDED_LENGTH = 160;
/** The marker that ends the real content (ISO/IEC 7816-4 padding). */
const PAD_MARKER = 0x80;

/** Raised when padded bytes carry no 0x80 marker after their last content byte. */
export class PaddingError extends Error {
  override readonly name = 'PaddingError';
}

/** The Padmé bucket for a length: keeps the top log2(log2(n)) + 1 bits of n, rounding the rest up. */
export const padmeLength = (length: number): number => {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError('length must be a non-negative integer');
  if (length < 2) return length;
  const exponent = Math.floor(Math.log2(length));
  const significantBits = Math.floor(Math.log2(exponent)) + 1;
  const lastBits = exponent - significantBits;
  const mask = 2 ** lastBits - 1;
  return Math.ceil(length / (mask + 1)) * (mask + 1);
};

/** The size `contentLength` bytes of content occupy once padded (marker included). */
export const paddedLength = (contentLength: number): number =>
  Math.max(MIN_PADDED_LENGTH, padmeLength(contentLength + 1));

/** Appends 0x80 and zeros up to the bucket size. */
export const padContent = (content: Uint8Array): Uint8Array<ArrayBuffer> => {
  const padded = new Uint8Array(paddedLength(content.length));
  padded.set(content);
  padded[content.length] = PAD_MARKER;
  return padded;
};

/** Strips the padding; throws PaddingError unless the last non-zero byte is the 0x80 marker. */
export const unpadContent = (padded: Uint8Array): Uint8Array<ArrayBuffer> => {
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end -= 1;
  if (end < 0 || padded[end] !== PAD_MARKER) throw new PaddingError('padding marker missing');
  return padded.slice(0, end);
};
