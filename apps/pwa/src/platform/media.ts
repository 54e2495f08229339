/**
 * Prepares a photo for sending: decodes it with its EXIF orientation applied (`createImageBitmap`), draws it on a
 * canvas and encodes it again, so nothing of the original file but its pixels survives — no EXIF, GPS position,
 * camera serial, XMP or embedded thumbnail. Dimensions are kept (up to `MAX_IMAGE_SIDE`), JPEG stays JPEG, PNG and
 * WebP stay lossless or themselves, anything else decodable becomes JPEG. It also draws the small thumbnail that
 * travels inside the encrypted message. It does not upload or encrypt anything; a file it cannot decode is
 * reported as such (null) and the caller sends it as a plain file.
 */

/** What a prepared photo is: the re-encoded bytes, their type and size in pixels, and a small JPEG thumbnail. */
export type PreparedImage = {
  blob: Blob;
  contentType: string;
  width: number;
  height: number;
  thumbnail: Uint8Array;
};

/**
 * Longest side kept: 8192 px covers every phone camera (a 200 MP sensor is 16320 px wide, and is scaled down);
 * beyond it browsers refuse canvases or need hundreds of MiB for one.
 */
const MAX_IMAGE_SIDE = 8192;
/** The thumbnail's longest side: enough for a blurred placeholder while the photo loads, a few KiB as JPEG. */
const THUMBNAIL_SIDE = 64;
/**
 * Largest thumbnail accepted: the whole message (pointer included) must fit one 64 KiB envelope, and the pointer's
 * bound is 64 KiB; at 16 KiB the rest of the content keeps ample room.
 */
const MAX_THUMBNAIL_BYTES = 16 * 1024;
/** JPEG quality of the photo: visually lossless for camera pictures, about a third of the camera's own size. */
const JPEG_QUALITY = 0.9;
/** JPEG qualities tried for the thumbnail, best first, until it fits MAX_THUMBNAIL_BYTES. */
const THUMBNAIL_QUALITIES = [0.7, 0.5, 0.3];

/** Types kept as they are (re-encoded into the same format); every other decodable image becomes JPEG. */
const KEPT_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/webp']);

type Surface = {
  context: OffscreenCanvasRenderingContext2D | CanvasRenderingContext2D;
  encode(type: string, quality?: number): Promise<Blob | null>;
};

function surface(width: number, height: number): Surface | null {
  if (typeof OffscreenCanvas === 'function') {
    const canvas = new OffscreenCanvas(width, height);
    const context = canvas.getContext('2d');
    if (!context) return null;
    return { context, encode: (type, quality) => canvas.convertToBlob({ type, quality }) };
  }
  if (typeof document === 'undefined') return null;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d');
  if (!context) return null;
  return { context, encode: (type, quality) => new Promise((resolve) => canvas.toBlob(resolve, type, quality)) };
}

async function draw(bitmap: ImageBitmap, width: number, height: number, type: string, quality?: number) {
  const target = surface(width, height);
  if (!target) return null;
  if (type === 'image/jpeg') {
    // JPEG has no transparency: a transparent pixel would turn black, so the background is white as in viewers.
    target.context.fillStyle = '#fff';
    target.context.fillRect(0, 0, width, height);
  }
  target.context.drawImage(bitmap, 0, 0, width, height);
  return target.encode(type, quality);
}

/** Whether `type` names an image format this browser may be able to decode (and so to strip). */
export const isImageType = (type: string): boolean => /^image\/(jpeg|png|webp|gif|bmp|avif|heic|heif)$/i.test(type);

/** Re-encodes a photo without its metadata; null when this browser cannot decode it. */
export async function prepareImage(file: Blob): Promise<PreparedImage | null> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    return null;
  }
  try {
    const scale = Math.min(1, MAX_IMAGE_SIDE / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const wanted = KEPT_TYPES.has(file.type.toLowerCase()) ? file.type.toLowerCase() : 'image/jpeg';
    const blob = await draw(bitmap, width, height, wanted, wanted === 'image/png' ? undefined : JPEG_QUALITY);
    if (!blob || blob.size === 0) return null;
    const thumbScale = Math.min(1, THUMBNAIL_SIDE / Math.max(width, height));
    const tw = Math.max(1, Math.round(width * thumbScale));
    const th = Math.max(1, Math.round(height * thumbScale));
    let thumbnail = new Uint8Array(0);
    for (const quality of THUMBNAIL_QUALITIES) {
      const thumb = await draw(bitmap, tw, th, 'image/jpeg', quality);
      if (!thumb) break;
      thumbnail = new Uint8Array(await thumb.arrayBuffer());
      if (thumbnail.length <= MAX_THUMBNAIL_BYTES) break;
    }
    // A browser that cannot write the asked format falls back to PNG: the blob's own type is the truth.
    const contentType = blob.type || wanted;
    return {
      blob,
      contentType,
      width,
      height,
      thumbnail: thumbnail.length <= MAX_THUMBNAIL_BYTES ? thumbnail : new Uint8Array(0),
    };
  } finally {
    bitmap.close();
  }
}

/** Avatar side in pixels: sharp in a 72 px circle on a 3× screen, and a JPEG of it stays well under 128 KiB. */
const AVATAR_SIDE = 256;
/** Largest avatar the encrypted profile holds (@cove/crypto PROFILE_BUCKETS.avatar). */
const MAX_AVATAR_BYTES = 131_072;
/** JPEG qualities tried in turn until the avatar fits. */
const AVATAR_QUALITIES = [0.85, 0.7, 0.5];

/**
 * A profile picture from a photo: the centred square of it (orientation applied), scaled to 256×256 and re-encoded
 * as JPEG on a canvas, so no EXIF or other metadata survives; null when this browser cannot decode it or it does not
 * fit 128 KiB.
 */
export async function cropAvatar(file: Blob): Promise<Uint8Array | null> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: 'from-image' });
  } catch {
    return null;
  }
  try {
    const side = Math.min(bitmap.width, bitmap.height);
    const sx = Math.floor((bitmap.width - side) / 2);
    const sy = Math.floor((bitmap.height - side) / 2);
    for (const quality of AVATAR_QUALITIES) {
      const target = surface(AVATAR_SIDE, AVATAR_SIDE);
      if (!target) return null;
      target.context.fillStyle = '#fff';
      target.context.fillRect(0, 0, AVATAR_SIDE, AVATAR_SIDE);
      target.context.drawImage(bitmap, sx, sy, side, side, 0, 0, AVATAR_SIDE, AVATAR_SIDE);
      const blob = await target.encode('image/jpeg', quality);
      if (!blob) return null;
      const bytes = new Uint8Array(await blob.arrayBuffer());
      if (bytes.length <= MAX_AVATAR_BYTES) return bytes;
    }
    return null;
  } finally {
    bitmap.close();
  }
}
