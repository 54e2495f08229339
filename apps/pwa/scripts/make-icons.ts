/**
 * Draws Cove's app icons (a white speech bubble holding a wave, on a teal gradient) straight into PNG files, with
 * no image library: shapes are signed-distance functions sampled 4x4 per pixel for anti-aliasing, and the PNG is
 * assembled with node:zlib. Run `npx tsx scripts/make-icons.ts` after changing the design; the output is committed.
 * It does not draw text or anything the manifest does not reference.
 */
import { deflateSync } from 'node:zlib';
import { writeFileSync, mkdirSync } from 'node:fs';

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf: Buffer): number => {
  let c = 0xffffffff;
  for (const b of buf) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type: string, data: Buffer): Buffer => {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
};
const png = (size: number, rgba: Buffer): Buffer => {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8;
  ihdr[9] = 6;
  const raw = Buffer.alloc((size * 4 + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
};

const roundedBox = (x: number, y: number, cx: number, cy: number, hw: number, hh: number, r: number): number => {
  const qx = Math.abs(x - cx) - hw + r;
  const qy = Math.abs(y - cy) - hh + r;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - r;
};

/** Coverage (0..1) of the bubble at unit coordinates (0..1), scaled by `s` around the centre. */
function bubble(u: number, v: number, s: number): 'none' | 'wave' | 'bubble' {
  const x = (u - 0.5) / s + 0.5;
  const y = (v - 0.5) / s + 0.5;
  const body = roundedBox(x, y, 0.5, 0.46, 0.3, 0.23, 0.12);
  // Tail: a small triangle at the bottom left.
  const inTail = y > 0.6 && y < 0.82 && x > 0.28 && x < 0.46 && x - 0.28 < (0.82 - y) * 0.9;
  const shape = Math.min(body, inTail ? -0.001 : 1);
  if (shape > 0) return 'none';
  // Wave inside the bubble.
  const wave = 0.47 + 0.045 * Math.sin((x - 0.26) * Math.PI * 4.2);
  const band = Math.abs(y - wave) < 0.032 && x > 0.3 && x < 0.7;
  return band ? 'wave' : 'bubble';
}

function render(size: number, { maskable }: { maskable: boolean }): Buffer {
  const out = Buffer.alloc(size * size * 4);
  const top = [20, 142, 150];
  const bottom = [11, 94, 110];
  const SS = 4;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0,
        g = 0,
        b = 0,
        a = 0;
      for (let sy = 0; sy < SS; sy++) {
        for (let sx = 0; sx < SS; sx++) {
          const u = (px + (sx + 0.5) / SS) / size;
          const v = (py + (sy + 0.5) / SS) / size;
          const inside = maskable ? true : roundedBox(u, v, 0.5, 0.5, 0.5, 0.5, 0.22) <= 0;
          if (!inside) continue;
          const t = v;
          let c = top.map((c0, i) => c0 + ((bottom[i] ?? c0) - c0) * t);
          const part = bubble(u, v, maskable ? 0.78 : 1);
          if (part === 'bubble') c = [255, 255, 255];
          else if (part === 'wave') c = [14, 124, 134];
          r += c[0] ?? 0;
          g += c[1] ?? 0;
          b += c[2] ?? 0;
          a += 255;
        }
      }
      const n = SS * SS;
      const i = (py * size + px) * 4;
      const cov = a / 255;
      out[i] = cov ? Math.round(r / cov) : 0;
      out[i + 1] = cov ? Math.round(g / cov) : 0;
      out[i + 2] = cov ? Math.round(b / cov) : 0;
      out[i + 3] = Math.round(a / n);
    }
  }
  return png(size, out);
}

const dir = new URL('../public/icons/', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL('icon-192.png', dir), render(192, { maskable: false }));
writeFileSync(new URL('icon-512.png', dir), render(512, { maskable: false }));
writeFileSync(new URL('maskable-512.png', dir), render(512, { maskable: true }));
writeFileSync(new URL('apple-touch-icon.png', dir), render(180, { maskable: true }));
writeFileSync(new URL('favicon-64.png', dir), render(64, { maskable: false }));
