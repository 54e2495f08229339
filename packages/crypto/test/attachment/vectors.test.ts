/**
 * Known answers of attachment format v1 (vectors.json, written by generate-vectors.ts from the node:crypto reference
 * in reference.ts): the implementation must produce each blob and digest exactly and decrypt them back, and the
 * reference must still reproduce the committed file, so neither side can drift alone.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { describe, expect, it } from '@jest/globals';

import { decryptAttachmentBytes } from '../../src/attachment/index.js';

import { patternPlaintext, referenceEncrypt } from './reference.js';
import { encryptWithKey, fromHex, hex } from './support.js';

type Vector = {
  name: string;
  key: string;
  plaintext?: string;
  patternSize?: number;
  paddedSize: number;
  blob?: string;
  blobSize?: number;
  blobSha256?: string;
  digest: string;
};

const vectors = (JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8')) as { vectors: Vector[] })
  .vectors;
const plaintextOf = (v: Vector): Uint8Array =>
  v.plaintext !== undefined ? fromHex(v.plaintext) : patternPlaintext(v.patternSize ?? 0);

// Source: Cove attachment format v1, docs/attachments.md; computed with node:crypto (test/attachment/reference.ts).
describe('attachment vectors', () => {
  it('should hold small full-blob vectors and large hashed ones', () => {
    expect(vectors.filter((v) => v.blob !== undefined).map((v) => v.plaintext?.length)).toEqual([0, 2, 28, 32, 34]);
    expect(vectors.filter((v) => v.blobSha256 !== undefined).length).toBeGreaterThanOrEqual(4);
  });

  it.each(vectors.map((v) => [v.name, v] as const))('should encrypt %s to the exact blob and digest', async (_, v) => {
    const plaintext = plaintextOf(v);
    const r = await encryptWithKey(fromHex(v.key), plaintext);
    expect(r.plainSize).toBe(plaintext.length);
    expect(r.paddedSize).toBe(v.paddedSize);
    expect(hex(r.digest)).toBe(v.digest);
    expect(hex(r.key)).toBe(v.key);
    if (v.blob !== undefined) expect(hex(r.blob)).toBe(v.blob);
    else {
      expect(r.blob.length).toBe(v.blobSize);
      expect(createHash('sha256').update(r.blob).digest('hex')).toBe(v.blobSha256);
    }
    expect(r.blobSize).toBe(r.blob.length);
    const back = await decryptAttachmentBytes(r.blob, {
      key: fromHex(v.key),
      digest: fromHex(v.digest),
      paddedSize: v.paddedSize,
      plainSize: plaintext.length,
    });
    expect(hex(back)).toBe(hex(plaintext));
  });

  it.each(vectors.map((v) => [v.name, v] as const))('should be reproduced by node:crypto for %s', (_, v) => {
    const r = referenceEncrypt(fromHex(v.key), plaintextOf(v));
    expect(r.paddedSize).toBe(v.paddedSize);
    expect(r.digest.toString('hex')).toBe(v.digest);
    if (v.blob !== undefined) expect(r.blob.toString('hex')).toBe(v.blob);
    else expect(createHash('sha256').update(r.blob).digest('hex')).toBe(v.blobSha256);
  });
});
