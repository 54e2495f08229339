/**
 * Reads an avatar image for `cove profile set --avatar`: JPEG, PNG or WebP by their signatures, at most the profile's
 * 128 KiB, with a JPEG's metadata segments (APP1–APP15: EXIF with its GPS position and camera serial, XMP, ICC
 * notes) and comments dropped, as the PWA's canvas re-encoding drops them. It does not crop or scale (no image
 * library in the CLI): the PWA does that; here a larger image is refused with a clear message.
 */
import { promises as fs } from 'node:fs';

import { ClientError, ClientErrorCode } from '../../errors.js';

/** The profile cipher's largest avatar bucket (@cove/crypto PROFILE_BUCKETS.avatar). */
const MAX_AVATAR_BYTES = 131_072;

const startsWith = (bytes: Uint8Array, signature: number[], offset = 0): boolean =>
  signature.every((b, i) => bytes[offset + i] === b);

/** The JPEG without APP1..APP15 and COM segments (APP0, the JFIF header, stays); the scan data is copied as is. */
export const stripJpegMetadata = (jpeg: Uint8Array): Uint8Array => {
  const parts: Uint8Array[] = [jpeg.subarray(0, 2)];
  let i = 2;
  while (i + 4 <= jpeg.length && jpeg[i] === 0xff) {
    const marker = jpeg[i + 1] as number;
    // Start of scan: the rest is entropy-coded data and the end marker.
    if (marker === 0xda) break;
    const length = ((jpeg[i + 2] as number) << 8) | (jpeg[i + 3] as number);
    if (length < 2 || i + 2 + length > jpeg.length)
      throw new ClientError(ClientErrorCode.InvalidInput, 'the avatar is not a well-formed JPEG');
    const metadata = (marker >= 0xe1 && marker <= 0xef) || marker === 0xfe;
    if (!metadata) parts.push(jpeg.subarray(i, i + 2 + length));
    i += 2 + length;
  }
  parts.push(jpeg.subarray(i));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

export const readAvatarFile = async (file: string): Promise<Uint8Array> => {
  const bytes = new Uint8Array(await fs.readFile(file));
  const jpeg = startsWith(bytes, [0xff, 0xd8, 0xff]);
  const png = startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const webp = startsWith(bytes, [0x52, 0x49, 0x46, 0x46]) && startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8);
  if (!jpeg && !png && !webp)
    throw new ClientError(ClientErrorCode.InvalidInput, 'the avatar must be a JPEG, PNG or WebP image');
  const cleaned = jpeg ? stripJpegMetadata(bytes) : bytes;
  if (cleaned.length > MAX_AVATAR_BYTES)
    throw new ClientError(
      ClientErrorCode.InvalidInput,
      `the avatar is larger than ${MAX_AVATAR_BYTES / 1024} KiB: scale it down (e.g. to 256×256) first`,
    );
  return cleaned;
};
