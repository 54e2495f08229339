/**
 * Makes an Ogg Opus file (RFC 7845) for the CLI interop test, with no encoder installed on the machine: the page's
 * WebCodecs `AudioEncoder` encodes a tone to Opus packets in Chromium, and this module puts them in an Ogg
 * container (ID header, comment header, one audio packet per page, CRC-32 per RFC 3533). Test support only.
 */
import type { Page } from 'playwright-core';

const SAMPLE_RATE = 48_000;
/** libopus' usual encoder delay at 48 kHz, declared so players trim it (RFC 7845 §4.2). */
const PRE_SKIP = 312;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i += 1) {
    let r = i << 24;
    for (let bit = 0; bit < 8; bit += 1) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

function oggCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ byte) & 0xff]!) >>> 0;
  return crc;
}

function page(packet: Uint8Array, granule: bigint, sequence: number, flags: number): Buffer {
  const lacing: number[] = [];
  let left = packet.length;
  while (left >= 255) {
    lacing.push(255);
    left -= 255;
  }
  lacing.push(left);
  const header = Buffer.alloc(27 + lacing.length);
  header.write('OggS', 0, 'latin1');
  header.writeUInt8(0, 4);
  header.writeUInt8(flags, 5);
  header.writeBigInt64LE(granule, 6);
  header.writeUInt32LE(0x636f7665, 14); // stream serial number: "cove"
  header.writeUInt32LE(sequence, 18);
  header.writeUInt32LE(0, 22);
  header.writeUInt8(lacing.length, 26);
  Buffer.from(lacing).copy(header, 27);
  const whole = Buffer.concat([header, packet]);
  whole.writeUInt32LE(oggCrc(whole), 22);
  return whole;
}

/** Encodes `seconds` of a 440 Hz tone to Opus in the page and returns it as an Ogg Opus file. */
export async function oggOpusTone(browserPage: Page, seconds: number): Promise<Buffer> {
  const packets = await browserPage.evaluate(
    async ({ seconds, rate }) => {
      const out: { data: number[]; samples: number }[] = [];
      const encoder = new AudioEncoder({
        output: (chunk) => {
          const data = new Uint8Array(chunk.byteLength);
          chunk.copyTo(data);
          out.push({ data: [...data], samples: Math.round(((chunk.duration ?? 20_000) * rate) / 1e6) });
        },
        error: (error) => {
          throw error;
        },
      });
      encoder.configure({ codec: 'opus', sampleRate: rate, numberOfChannels: 1, bitrate: 32_000 });
      const frames = Math.round(seconds * rate);
      const pcm = new Float32Array(frames);
      for (let i = 0; i < frames; i += 1) pcm[i] = 0.6 * Math.sin((2 * Math.PI * 440 * i) / rate);
      encoder.encode(
        new AudioData({
          format: 'f32',
          sampleRate: rate,
          numberOfFrames: frames,
          numberOfChannels: 1,
          timestamp: 0,
          data: pcm,
        }),
      );
      await encoder.flush();
      encoder.close();
      return out;
    },
    { seconds, rate: SAMPLE_RATE },
  );
  if (packets.length === 0) throw new Error('the browser encoded no Opus packets');
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0, 'latin1');
  head.writeUInt8(1, 8);
  head.writeUInt8(1, 9);
  head.writeUInt16LE(PRE_SKIP, 10);
  head.writeUInt32LE(SAMPLE_RATE, 12);
  head.writeInt16LE(0, 16);
  head.writeUInt8(0, 18);
  const vendor = Buffer.from('cove-test', 'utf8');
  const tags = Buffer.alloc(8 + 4 + vendor.length + 4);
  tags.write('OpusTags', 0, 'latin1');
  tags.writeUInt32LE(vendor.length, 8);
  vendor.copy(tags, 12);
  tags.writeUInt32LE(0, 12 + vendor.length);
  const pages = [page(head, 0n, 0, 0x02), page(tags, 0n, 1, 0)];
  let granule = BigInt(PRE_SKIP);
  packets.forEach((packet, i) => {
    granule += BigInt(packet.samples);
    pages.push(page(Uint8Array.from(packet.data), granule, i + 2, i === packets.length - 1 ? 0x04 : 0));
  });
  return Buffer.concat(pages);
}
