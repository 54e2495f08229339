/**
 * Attachments in the PWA end to end, in Debian's Chromium against the real server (issue 11, PWA): two profiles
 * exchange a photo made with EXIF and GPS (dimensions kept, no metadata in the bytes the receiver saves) and a PDF
 * above the auto-download size (tap to download, identical bytes); an upload cut off by going offline resumes and
 * completes; the `cove` CLI sends a file to the PWA and the PWA one back to `cove listen --save-to` with identical
 * SHA-256; a file over the server's ATTACHMENT_MAX_BYTES is refused with the reason in words; a blob changed on the
 * server's disk is refused by the digest check with the error shown (no download); hostile pointer values from a
 * forged sender (65,535×1 pixels, SVG and HTML types, a `javascript:` file name, a script as a thumbnail) render as
 * inert text in bounded boxes. Any CSP violation fails the test it happened in.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Locator, Page } from 'playwright-core';

import { newClient, destroyClient, type TestClient } from '../support/clients.js';
import { cove, ensureCliBuilt, listen } from '../support/cli.js';
import {
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
  openChat,
  register,
  screenshot,
  send,
  startChat,
  startServer,
  takeCspViolations,
  type Profile,
  type TestServer,
} from './support/harness.js';

/** Browser scenarios on a shared 2-core machine take a while; nothing here asserts on time. */
const SLOW = 300_000;
const MIB = 1024 * 1024;
/** The server's upload limit in this suite: small, so "too large" is quick to reach, big enough for the rest. */
const MAX_BYTES = 12 * MIB;
const suffix = Math.random().toString(36).slice(2, 7);
const ALICE = `alice_a${suffix}`;
const BOB = `bob_a${suffix}`;
const CAROL = `carol_a${suffix}`;
const MALLORY = `mallory_a${suffix}`;

/** A valid 1×1 PNG: the "photo" whose pointer claims 1×65,535 pixels. */
const ONE_PIXEL_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

let server: TestServer;
let alice: Profile;
let bob: Profile;
let root: string;
const carolDir = (): string => join(root, 'carol');

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** A minimal EXIF APP1 segment (big-endian TIFF) naming a camera and a GPS position, with markers to look for. */
function exifSegment(): Buffer {
  const make = Buffer.from('COVE-EXIF-MAKE\0', 'ascii');
  const entries = 2;
  const ifd0 = 8;
  const ifd0Size = 2 + entries * 12 + 4;
  const makeAt = ifd0 + ifd0Size;
  const gpsAt = makeAt + make.length;
  const gpsEntries = 2;
  const gpsSize = 2 + gpsEntries * 12 + 4;
  const latAt = gpsAt + gpsSize;
  const tiff = Buffer.alloc(latAt + 24);
  tiff.write('MM', 0, 'ascii');
  tiff.writeUInt16BE(42, 2);
  tiff.writeUInt32BE(ifd0, 4);
  tiff.writeUInt16BE(entries, ifd0);
  // 0x010F Make, ASCII
  tiff.writeUInt16BE(0x010f, ifd0 + 2);
  tiff.writeUInt16BE(2, ifd0 + 4);
  tiff.writeUInt32BE(make.length, ifd0 + 6);
  tiff.writeUInt32BE(makeAt, ifd0 + 10);
  // 0x8825 GPS IFD pointer, LONG
  tiff.writeUInt16BE(0x8825, ifd0 + 14);
  tiff.writeUInt16BE(4, ifd0 + 16);
  tiff.writeUInt32BE(1, ifd0 + 18);
  tiff.writeUInt32BE(gpsAt, ifd0 + 22);
  tiff.writeUInt32BE(0, ifd0 + 26);
  make.copy(tiff, makeAt);
  tiff.writeUInt16BE(gpsEntries, gpsAt);
  // 0x0001 GPSLatitudeRef "N"
  tiff.writeUInt16BE(0x0001, gpsAt + 2);
  tiff.writeUInt16BE(2, gpsAt + 4);
  tiff.writeUInt32BE(2, gpsAt + 6);
  tiff.write('N\0', gpsAt + 10, 'ascii');
  // 0x0002 GPSLatitude, 3 RATIONALs: 47° 22' 12"
  tiff.writeUInt16BE(0x0002, gpsAt + 14);
  tiff.writeUInt16BE(5, gpsAt + 16);
  tiff.writeUInt32BE(3, gpsAt + 18);
  tiff.writeUInt32BE(latAt, gpsAt + 22);
  tiff.writeUInt32BE(0, gpsAt + 26);
  [47, 1, 22, 1, 12, 1].forEach((v, i) => tiff.writeUInt32BE(v, latAt + i * 4));
  const body = Buffer.concat([Buffer.from('Exif\0\0', 'ascii'), tiff]);
  const header = Buffer.alloc(4);
  header.writeUInt16BE(0xffe1, 0);
  header.writeUInt16BE(body.length + 2, 2);
  return Buffer.concat([header, body]);
}

/** A JPEG drawn by the browser, with the EXIF segment inserted after its SOI marker. */
async function jpegWithExif(page: Page, width: number, height: number): Promise<Buffer> {
  const base64 = await page.evaluate(
    async ([w, h]) => {
      const canvas = new OffscreenCanvas(w, h);
      const g = canvas.getContext('2d');
      if (!g) throw new Error('no 2d context');
      const gradient = g.createLinearGradient(0, 0, w, h);
      gradient.addColorStop(0, '#0e7c86');
      gradient.addColorStop(1, '#f4b400');
      g.fillStyle = gradient;
      g.fillRect(0, 0, w, h);
      g.fillStyle = '#fff';
      g.font = '64px sans-serif';
      g.fillText('Cove', w / 3, h / 2);
      const bytes = new Uint8Array(
        await (await canvas.convertToBlob({ type: 'image/jpeg', quality: 0.9 })).arrayBuffer(),
      );
      let s = '';
      for (const b of bytes) s += String.fromCharCode(b);
      return btoa(s);
    },
    [width, height] as const,
  );
  const plain = Buffer.from(base64, 'base64');
  return Buffer.concat([plain.subarray(0, 2), exifSegment(), plain.subarray(2)]);
}

/** Width and height from a JPEG's first start-of-frame marker. */
function jpegSize(bytes: Buffer): { width: number; height: number } {
  let at = 2;
  while (at + 9 < bytes.length) {
    if (bytes[at] !== 0xff) throw new Error('not a JPEG segment');
    const marker = bytes[at + 1] ?? 0;
    const length = bytes.readUInt16BE(at + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
      return { height: bytes.readUInt16BE(at + 5), width: bytes.readUInt16BE(at + 7) };
    at += 2 + length;
  }
  throw new Error('no frame header');
}

/** JPEG segment markers (APPn, COM) present before the image data. */
function jpegMarkers(bytes: Buffer): number[] {
  const markers: number[] = [];
  let at = 2;
  while (at + 4 < bytes.length && bytes[at] === 0xff) {
    const marker = bytes[at + 1] ?? 0;
    markers.push(marker);
    if (marker === 0xda) break;
    at += 2 + bytes.readUInt16BE(at + 2);
  }
  return markers;
}

const lastMessage = (page: Page, kind: string): Locator =>
  page.locator(`[data-testid="message"][data-kind="${kind}"]`).last();

/** Picks files in the composer, optionally captions them, and sends them from the preview sheet. */
async function sendFiles(
  page: Page,
  files: ({ name: string; mimeType: string; buffer: Buffer } | string)[],
  caption?: string,
): Promise<void> {
  // Large files go by path: a buffer would travel base64-encoded through the DevTools protocol.
  const paths = files.filter((f): f is string => typeof f === 'string');
  const buffers = files.filter((f) => typeof f !== 'string');
  await page.getByTestId('attachment-input').setInputFiles(paths.length > 0 ? paths : buffers);
  const sheet = page.getByTestId('attachment-preview');
  await sheet.waitFor({ timeout: UI_TIMEOUT });
  if (caption) await page.getByTestId('attachment-caption').fill(caption);
  const sendButton = page.getByTestId('attachment-send');
  await expectEnabled(sendButton);
  await sendButton.click();
  await sheet.waitFor({ state: 'detached', timeout: UI_TIMEOUT });
}

async function expectEnabled(locator: Locator): Promise<void> {
  await locator
    .page()
    .waitForFunction((el) => el instanceof HTMLButtonElement && !el.disabled, await locator.elementHandle(), {
      timeout: UI_TIMEOUT,
    });
}

/** Clicks `trigger` and returns the bytes of the download it starts. */
async function downloadFrom(page: Page, trigger: Locator): Promise<Buffer> {
  const [download] = await Promise.all([page.waitForEvent('download', { timeout: UI_TIMEOUT }), trigger.click()]);
  const path = await download.path();
  return readFile(path);
}

async function waitForStatus(message: Locator, statuses: string[]): Promise<void> {
  await message
    .page()
    .waitForFunction(
      ([el, wanted]) => el !== null && wanted.includes(el.getAttribute('data-status') ?? ''),
      [await message.elementHandle({ timeout: UI_TIMEOUT }), statuses] as const,
      { timeout: SLOW - 30_000 },
    );
}

/** The ciphertext files on the server's disk whose length is within [min, max) bytes. */
async function blobsOnServer(min: number, max: number): Promise<string[]> {
  const dir = join(server.dataDir, 'attachments');
  const found: string[] = [];
  for (const name of await readdir(dir)) {
    if (name.includes('.')) continue;
    const info = await stat(join(dir, name));
    if (info.isFile() && info.size >= min && info.size < max) found.push(join(dir, name));
  }
  return found;
}

beforeAll(async () => {
  buildPwaIfStale();
  await ensureCliBuilt();
  server = await startServer({ ATTACHMENT_MAX_BYTES: String(MAX_BYTES) });
  root = await mkdtemp(join(tmpdir(), 'cove-pwa-att-'));
  alice = await launchProfile('att-alice', server.url);
  bob = await launchProfile('att-bob', server.url);
  await register(alice.page, ALICE);
  await register(bob.page, BOB);
  await startChat(alice.page, BOB);
  await send(alice.page, 'files coming');
  await openChat(bob.page, ALICE);
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  for (const profile of [alice, bob])
    if (profile && !profile.page.isClosed())
      await screenshot(profile.page, `zz-att-last-${profile.name}`).catch(() => undefined);
  await alice?.close();
  await bob?.close();
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
  expect(takeCspViolations()).toEqual([]);
}, SLOW);

describe('PWA attachments in Chromium', () => {
  it(
    'should send a photo without its EXIF and GPS data, dimensions kept, shown and saved from the viewer',
    async () => {
      const photo = await jpegWithExif(alice.page, 1200, 900);
      expect(photo.includes(Buffer.from('COVE-EXIF-MAKE'))).toBe(true);
      await sendFiles(alice.page, [{ name: 'holiday.jpg', mimeType: 'image/jpeg', buffer: photo }], 'the lake');
      const sent = lastMessage(alice.page, 'image');
      await waitForStatus(sent, ['sent', 'delivered', 'read']);

      const received = lastMessage(bob.page, 'image');
      const image = received.getByTestId('attachment-image');
      await image.waitFor({ timeout: SLOW - 60_000 });
      await expect(received.locator('.bubble-text').textContent()).resolves.toBe('the lake');
      await screenshot(bob.page, 'att-photo-received');
      const natural = await image.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight]);
      expect(natural).toEqual([1200, 900]);

      await image.click();
      const viewer = bob.page.getByTestId('image-viewer');
      await viewer.waitFor({ timeout: UI_TIMEOUT });
      await screenshot(bob.page, 'att-image-viewer');
      const bytes = await downloadFrom(bob.page, bob.page.getByTestId('viewer-download'));
      expect(bytes.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
      expect(jpegSize(bytes)).toEqual({ width: 1200, height: 900 });
      expect(jpegMarkers(bytes)).not.toContain(0xe1);
      expect(bytes.includes(Buffer.from('Exif'))).toBe(false);
      expect(bytes.includes(Buffer.from('COVE-EXIF-MAKE'))).toBe(false);
      await bob.page.keyboard.press('Escape');
      await viewer.waitFor({ state: 'detached', timeout: UI_TIMEOUT });
      // The list previews the photo by its caption; a photo without one would say "Photo".
    },
    SLOW,
  );

  it(
    'should deliver a PDF above the auto-download size on a tap, with identical bytes',
    async () => {
      const pdf = Buffer.concat([
        Buffer.from('%PDF-1.4\n% Cove test\n'),
        randomBytes(3 * MIB),
        Buffer.from('\n%%EOF\n'),
      ]);
      await sendFiles(alice.page, [{ name: 'report.pdf', mimeType: 'application/pdf', buffer: pdf }]);
      await waitForStatus(lastMessage(alice.page, 'file'), ['sent', 'delivered', 'read']);
      const card = lastMessage(bob.page, 'file');
      await card.getByTestId('attachment-file-name').waitFor({ timeout: UI_TIMEOUT });
      await expect(card.getByTestId('attachment-file-name').textContent()).resolves.toBe('report.pdf');
      await screenshot(bob.page, 'att-file-card');
      const bytes = await downloadFrom(bob.page, card.getByTestId('attachment-download'));
      expect(sha256(bytes)).toBe(sha256(pdf));
    },
    SLOW,
  );

  it(
    'should resume an upload cut off by going offline and complete it',
    async () => {
      const big = randomBytes(9 * MIB);
      const bigFile = join(root, 'video.bin');
      await writeFile(bigFile, big);
      // Uploads at 2 MiB/s, so that on a quiet machine the upload is still under way when the test goes offline
      // (unthrottled on loopback, 9 MiB can be up before any progress is drawn).
      const cdp = await alice.context.newCDPSession(alice.page);
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: 2 * MIB,
      });
      await sendFiles(alice.page, [bigFile]);
      const sent = lastMessage(alice.page, 'file');
      // The first 4 MiB piece reached the server: the bar shows a percentage.
      await sent.locator('[data-testid="attachment-progress"][aria-valuenow]').waitFor({ timeout: SLOW - 60_000 });
      await alice.context.setOffline(true);
      await alice.page.waitForFunction(() => !navigator.onLine, undefined, { timeout: UI_TIMEOUT });
      await new Promise((r) => setTimeout(r, 3_000));
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: -1,
      });
      await alice.context.setOffline(false);
      await cdp.detach();
      await waitForStatus(sent, ['sent', 'delivered', 'read']);
      const card = lastMessage(bob.page, 'file');
      await card.getByText('video.bin').waitFor({ timeout: UI_TIMEOUT });
      const bytes = await downloadFrom(bob.page, card.getByTestId('attachment-download'));
      expect(sha256(bytes)).toBe(sha256(big));
    },
    SLOW,
  );

  it(
    'should receive a file sent by the cove CLI with identical bytes',
    async () => {
      expect((await cove(carolDir(), ['register', '--server', server.url, '--username', CAROL])).code).toBe(0);
      const fromCli = randomBytes(700_000);
      const cliFile = join(root, 'from-cli.bin');
      await writeFile(cliFile, fromCli);
      const sentByCli = await cove(carolDir(), ['send', ALICE, '--file', cliFile, '--caption', 'from the terminal']);
      expect(sentByCli.code).toBe(0);
      await openChat(alice.page, CAROL);
      const card = lastMessage(alice.page, 'file');
      await card.getByText('from-cli.bin').waitFor({ timeout: UI_TIMEOUT });
      const got = await downloadFrom(alice.page, card.getByTestId('attachment-download'));
      expect(sha256(got)).toBe(sha256(fromCli));
    },
    SLOW,
  );

  it(
    'should send a file to `cove listen --save-to` with identical bytes',
    async () => {
      await openChat(alice.page, CAROL);
      const fromPwa = randomBytes(1_300_000);
      const listener = listen(carolDir(), ['--save-to', join(root, 'carol-saved')]);
      try {
        await sendFiles(alice.page, [{ name: 'from-pwa.bin', mimeType: 'application/octet-stream', buffer: fromPwa }]);
        const event = await listener.waitFor(
          'the file from the PWA',
          (e) => e.type === 'message' && Array.isArray(e.attachments) && e.attachments.length > 0,
          SLOW - 60_000,
        );
        const [saved] = event.attachments as { path?: string; sha256?: string; error?: string }[];
        expect(saved?.error).toBeUndefined();
        expect(saved?.sha256).toBe(sha256(fromPwa));
        expect(sha256(await readFile(saved?.path ?? ''))).toBe(sha256(fromPwa));
      } finally {
        await listener.stop();
      }
    },
    SLOW,
  );

  it(
    'should refuse a file over the server limit with the reason in words',
    async () => {
      await openChat(alice.page, BOB);
      const before = await alice.page.locator('[data-testid="message"]').count();
      const tooBig = join(root, 'too-big.bin');
      await writeFile(tooBig, Buffer.alloc(MAX_BYTES + MIB, 7));
      await sendFiles(alice.page, [tooBig]);
      const error = alice.page.getByTestId('attachment-send-error');
      await error.waitFor({ timeout: SLOW - 60_000 });
      await expect(error.getAttribute('data-error')).resolves.toBe('too_large');
      await expect(error.textContent()).resolves.toMatch(/too large/i);
      await screenshot(alice.page, 'att-too-large');
      // Nothing was stored or queued for it.
      expect(await alice.page.locator('[data-testid="message"]').count()).toBe(before);
    },
    SLOW,
  );

  it(
    'should refuse a blob tampered with on the server by its digest, showing the error and saving nothing',
    async () => {
      await openChat(alice.page, BOB);
      const file = randomBytes(3 * MIB);
      const earlier = new Set(await blobsOnServer(0, Number.MAX_SAFE_INTEGER));
      await sendFiles(alice.page, [{ name: 'contract.bin', mimeType: 'application/octet-stream', buffer: file }]);
      // This file's own bubble: an earlier file message may already be the last one and already sent.
      const sent = alice.page.locator('[data-testid="message"][data-kind="file"]').filter({ hasText: 'contract.bin' });
      await sent.waitFor({ timeout: UI_TIMEOUT });
      await waitForStatus(sent, ['sent', 'delivered', 'read']);
      // The ciphertext that appeared on the server since: this file's blob, changed by one bit.
      const blobs = (await blobsOnServer(3 * MIB, 3 * MIB + 400_000)).filter((blob) => !earlier.has(blob));
      expect(blobs).toHaveLength(1);
      for (const blob of blobs) {
        const stored = await readFile(blob);
        stored[1000] = (stored[1000] ?? 0) ^ 0x01;
        await writeFile(blob, stored);
      }

      const card = lastMessage(bob.page, 'file');
      await card.getByText('contract.bin').waitFor({ timeout: UI_TIMEOUT });
      // Only a download of this file counts: an earlier scenario's save may still be reported late.
      const isThisFile = (download: { suggestedFilename(): string }): boolean =>
        download.suggestedFilename() === 'contract.bin';
      let downloads = 0;
      bob.page.on('download', (download) => {
        if (isThisFile(download)) downloads++;
      });
      await card.getByTestId('attachment-download').click();
      const error = card.getByTestId('attachment-error');
      const saved = bob.page
        .waitForEvent('download', { predicate: isThisFile, timeout: SLOW - 60_000 })
        .then(() => 'saved');
      saved.catch(() => undefined);
      // A download here would mean the changed blob was accepted: fail at once rather than wait.
      await expect(Promise.race([error.waitFor({ timeout: SLOW - 60_000 }).then(() => 'error'), saved])).resolves.toBe(
        'error',
      );
      await expect(error.getAttribute('data-error')).resolves.toBe('unverified');
      await expect(error.textContent()).resolves.toMatch(/security check/);
      await screenshot(bob.page, 'att-unverified');
      expect(downloads).toBe(0);
      await expect(card.getByTestId('attachment-download').count()).resolves.toBe(0);
    },
    SLOW,
  );

  it(
    'should lay attachments out on a phone screen in dark mode and on a desktop in light mode',
    async () => {
      const page = bob.page;
      await openChat(page, ALICE);
      try {
        await page.setViewportSize({ width: 390, height: 844 });
        await page.emulateMedia({ colorScheme: 'dark' });
        await page.locator('[data-testid="message"][data-kind="image"]').first().scrollIntoViewIfNeeded();
        await screenshot(page, 'att-phone-dark');
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
        await page.getByTestId('attachment-input').setInputFiles({
          name: 'notes.txt',
          mimeType: 'text/plain',
          buffer: Buffer.from('notes'),
        });
        await page.getByTestId('attachment-preview').waitFor({ timeout: UI_TIMEOUT });
        await screenshot(page, 'att-preview-phone-dark');
        await page.getByTestId('attachment-cancel').click();
        await page.getByTestId('attachment-preview').waitFor({ state: 'detached', timeout: UI_TIMEOUT });
        await page.setViewportSize({ width: 1280, height: 800 });
        await page.emulateMedia({ colorScheme: 'light' });
        await screenshot(page, 'att-desktop-light');
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
      } finally {
        await page.setViewportSize({ width: 1100, height: 760 });
        await page.emulateMedia({ colorScheme: null });
      }
    },
    SLOW,
  );

  it(
    'should render hostile pointer values from a forged sender as inert, bounded content',
    async () => {
      let mallory: TestClient | null = null;
      const dialogs: string[] = [];
      bob.page.on('dialog', (d) => {
        dialogs.push(d.message());
        void d.dismiss();
      });
      try {
        mallory = await newClient(server.url, MALLORY);
        const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"></svg>');
        await mallory.messenger.sendAttachment(BOB, {
          source: svg,
          contentType: 'image/svg+xml',
          fileName: 'javascript:alert(document.domain)',
          width: 65_535,
          height: 1,
          thumbnail: svg,
        });
        await mallory.messenger.sendAttachment(BOB, {
          source: Buffer.from(ONE_PIXEL_PNG, 'base64'),
          contentType: 'image/png',
          fileName: 'tall.png',
          width: 1,
          height: 65_535,
          thumbnail: new TextEncoder().encode('<script>alert(2)</script>'),
        });
        await mallory.messenger.sendAttachment(BOB, {
          source: new TextEncoder().encode('<html><script>alert(3)</script></html>'),
          contentType: 'text/html',
          fileName: 'page.html',
        });
        await mallory.messenger.flushOutbox();
        await openChat(bob.page, MALLORY);
        const names = bob.page.getByTestId('attachment-file-name');
        await names.filter({ hasText: 'page.html' }).waitFor({ timeout: SLOW - 60_000 });
        await names.filter({ hasText: 'javascript:alert(document.domain)' }).waitFor({ timeout: UI_TIMEOUT });
        await screenshot(bob.page, 'att-hostile');
        // The SVG is a file card, never an image; nothing anywhere links to javascript:.
        expect(await bob.page.locator('[data-testid="message"][data-kind="image"]').count()).toBe(1);
        expect(await bob.page.locator('a[href^="javascript:"]').count()).toBe(0);
        expect(await bob.page.locator('img[src^="data:image/svg"], img[src^="data:text"]').count()).toBe(0);
        // The 1×65,535 "photo" stays a bounded box.
        const tall = bob.page.locator('[data-testid="message"][data-kind="image"] .attachment-image-box').first();
        const box = await tall.boundingBox();
        expect(box).not.toBeNull();
        expect(box?.height ?? Infinity).toBeLessThanOrEqual(400);
        // Saving the HTML file downloads opaque bytes; nothing is rendered or run.
        const html = lastMessage(bob.page, 'file');
        const bytes = await downloadFrom(bob.page, html.getByTestId('attachment-download'));
        expect(bytes.toString('utf8')).toContain('<script>alert(3)</script>');
        expect(dialogs).toEqual([]);
      } finally {
        if (mallory) await destroyClient(mallory);
      }
    },
    SLOW,
  );
});
