/**
 * Writes vectors.json: known answers of attachment format v1 computed by the node:crypto reference. Run once when
 * the vector set changes (`npx tsx packages/crypto/test/attachment/generate-vectors.ts`); the format itself must
 * never change under the same version, so existing entries must stay byte-identical.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';

import { patternPlaintext, referenceEncrypt } from './reference.js';

const key = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const key2 = createHash('sha256').update('cove attachment vector key 2').digest();

type Vector = Record<string, string | number>;
const vectors: Vector[] = [];

for (const [name, hexPlain] of [
  ['empty', ''],
  ['one byte', '61'],
  ['15 bytes', '48656c6c6f2c2061747461636821'],
  ['16 bytes', '000102030405060708090a0b0c0d0e0f'],
  ['17 bytes', '000102030405060708090a0b0c0d0e0f10'],
] as const) {
  const r = referenceEncrypt(key, Buffer.from(hexPlain, 'hex'));
  vectors.push({
    name,
    key: key.toString('hex'),
    plaintext: hexPlain,
    paddedSize: r.paddedSize,
    blob: r.blob.toString('hex'),
    digest: r.digest.toString('hex'),
  });
}
for (const [name, size] of [
  ['bucket edge 541', 541],
  ['just above the smallest bucket', 542],
  ['plain size 256 KiB (two chunks once padded)', 262_144],
  ['three chunks', 600_000],
] as const) {
  const r = referenceEncrypt(key2, patternPlaintext(size));
  vectors.push({
    name,
    key: key2.toString('hex'),
    patternSize: size,
    paddedSize: r.paddedSize,
    blobSize: r.blob.length,
    blobSha256: createHash('sha256').update(r.blob).digest('hex'),
    digest: r.digest.toString('hex'),
  });
}

const out = {
  source:
    'Cove attachment format v1 (docs/attachments.md), computed with node:crypto by test/attachment/reference.ts; ' +
    'pattern plaintexts: byte i = (7i + 3) mod 256',
  vectors,
};
writeFileSync(new URL('./vectors.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
console.log(`wrote ${vectors.length} vectors`);
