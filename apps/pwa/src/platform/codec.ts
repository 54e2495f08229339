/**
 * Turns stored values into bytes and back: JSON, with `Uint8Array` kept as tagged base64 so key material and
 * ciphertexts survive the round trip. It does not encrypt (encrypted-row-store.ts does) and rejects what JSON cannot hold.
 */

const BYTES_TAG = '$bytes';

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encodes a JSON-compatible value (which may contain `Uint8Array`s) as UTF-8 bytes. */
export function encodeValue(value: unknown): Uint8Array {
  const json = JSON.stringify(value, function replacer(this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key];
    if (raw instanceof Uint8Array) return { [BYTES_TAG]: toBase64(raw) };
    if (typeof v === 'bigint') throw new TypeError('bigint values cannot be stored');
    return v;
  });
  return encoder.encode(json);
}

/** Decodes bytes produced by `encodeValue`. */
export function decodeValue<T>(bytes: Uint8Array): T {
  return JSON.parse(decoder.decode(bytes), (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const tagged = (v as Record<string, unknown>)[BYTES_TAG];
      if (typeof tagged === 'string' && Object.keys(v).length === 1) return fromBase64(tagged);
    }
    return v;
  }) as T;
}

export { fromBase64 as base64ToBytes, toBase64 as bytesToBase64 };
