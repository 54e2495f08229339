/**
 * Voice notes and the emoji picker in Debian's Chromium against the real server (two profiles, real CLI):
 * Alice records a voice note from a fake microphone fed with a WAV tone the test writes, and sends it; Bob sees a
 * `data-kind="voice"` message with a duration and a waveform, plays it (the audio advances to its end), seeks with
 * the keyboard and by clicking the waveform, and changes the speed. A cancelled recording sends nothing; a denied
 * microphone shows the plain explanation (English and Chinese). The picker opens, searches in English and
 * Chinese (data served by Cove, precached by the service worker), inserts at the caret, and an emoji-only message
 * is shown large. A voice note sent by `cove send --voice` plays in the PWA. Every request of both profiles goes
 * to the app's own origin.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';

import { cove, ensureCliBuilt } from '../support/cli.js';
import {
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
  messageWithText,
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
import { oggOpusTone } from './support/ogg-opus.js';

/** Browser scenarios on a shared 2-core machine take a while; nothing here asserts on time. */
const SLOW = 300_000;
const suffix = Math.random().toString(36).slice(2, 7);
const ALICE = `va_${suffix}`;
const BOB = `vb_${suffix}`;
const CAROL = `vc_${suffix}`;

/** A mono 16-bit PCM WAV of `seconds` of a 440 Hz tone whose loudness rises and falls (a waveform with a shape). */
function toneWav(seconds: number, rate = 48_000): Buffer {
  const samples = Math.round(seconds * rate);
  const wav = Buffer.alloc(44 + samples * 2);
  wav.write('RIFF', 0);
  wav.writeUInt32LE(36 + samples * 2, 4);
  wav.write('WAVEfmt ', 8);
  wav.writeUInt32LE(16, 16);
  wav.writeUInt16LE(1, 20);
  wav.writeUInt16LE(1, 22);
  wav.writeUInt32LE(rate, 24);
  wav.writeUInt32LE(rate * 2, 28);
  wav.writeUInt16LE(2, 32);
  wav.writeUInt16LE(16, 34);
  wav.write('data', 36);
  wav.writeUInt32LE(samples * 2, 40);
  for (let i = 0; i < samples; i += 1) {
    const envelope = Math.sin((Math.PI * i) / samples);
    wav.writeInt16LE(Math.round(0.8 * 32767 * envelope * Math.sin((2 * Math.PI * 440 * i) / rate)), 44 + i * 2);
  }
  return wav;
}

let server: TestServer;
let alice: Profile;
let bob: Profile;
let work: string;
const foreignRequests: string[] = [];

function watchRequests(profile: Profile): void {
  profile.context.on('request', (request) => {
    const url = request.url();
    if (url.startsWith('data:') || url.startsWith('blob:')) return;
    if (new URL(url).origin !== new URL(server.url).origin) foreignRequests.push(`${profile.name}: ${url}`);
  });
}

async function setLanguage(page: Page, language: 'en' | 'zh-CN'): Promise<void> {
  await page.goto(`${server.url}/settings`);
  await page.getByTestId('language-select').selectOption(language);
  await page.getByRole('heading', { name: language === 'en' ? 'Settings' : '设置' }).waitFor({ timeout: UI_TIMEOUT });
  await page.goto(server.url);
  await openChat(page, BOB);
}

const voiceMessages = (page: Page) => page.locator('[data-testid="message"][data-kind="voice"]');

async function audioState(page: Page, index: number) {
  return voiceMessages(page)
    .nth(index)
    .locator('audio')
    .evaluate((audio: HTMLAudioElement) => ({
      currentTime: audio.currentTime,
      ended: audio.ended,
      paused: audio.paused,
      playbackRate: audio.playbackRate,
      duration: audio.duration,
    }));
}

beforeAll(async () => {
  buildPwaIfStale();
  await ensureCliBuilt();
  server = await startServer();
  work = mkdtempSync(join(tmpdir(), 'cove-voice-'));
  const wav = join(work, 'tone.wav');
  writeFileSync(wav, toneWav(3));
  const media = ['--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${wav}`];
  alice = await launchProfile('voice-alice', server.url, { args: media });
  bob = await launchProfile('voice-bob', server.url, { args: media });
  watchRequests(alice);
  watchRequests(bob);
  await alice.context.grantPermissions(['notifications', 'microphone'], { origin: server.url });
  await register(alice.page, ALICE);
  await register(bob.page, BOB);
  await startChat(alice.page, BOB);
  await send(alice.page, 'voice test');
  await bob.page
    .locator(`[data-testid="conversation-item"][data-conversation="${ALICE}"]`)
    .waitFor({ timeout: UI_TIMEOUT });
  await openChat(bob.page, ALICE);
}, SLOW);

/** Any Content-Security-Policy violation in any page or worker fails the test it happened in. */
afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
  expect(foreignRequests).toEqual([]);
});

afterAll(async () => {
  for (const profile of [alice, bob])
    if (profile && !profile.page.isClosed())
      await screenshot(profile.page, `zz-voice-last-${profile.name}`).catch(() => undefined);
  await alice?.close();
  await bob?.close();
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
}, SLOW);

describe('voice notes in the PWA', () => {
  it(
    'should record from the microphone, send, and play back with seeking and speed on the other profile',
    async () => {
      const record = alice.page.getByTestId('voice-record-button');
      await record.click();
      await alice.page.getByTestId('voice-recording').waitFor({ timeout: UI_TIMEOUT });
      // Record about two seconds of the tone (the running duration shows them), then tap again to send.
      await alice.page.getByTestId('voice-recording-time').filter({ hasText: '0:02' }).waitFor({ timeout: UI_TIMEOUT });
      await screenshot(alice.page, 'voice-01-recording');
      await alice.page.getByTestId('voice-record-button').click();
      await voiceMessages(alice.page).first().waitFor({ timeout: UI_TIMEOUT });

      const note = voiceMessages(bob.page).first();
      await note.waitFor({ timeout: UI_TIMEOUT });
      const player = note.getByTestId('voice-player');
      const durationMs = Number(await player.getAttribute('data-duration-ms'));
      expect(durationMs).toBeGreaterThan(1_000);
      expect(await player.getAttribute('data-played')).toBe('false');
      // The waveform came from the audio: ~64 bars, not all the same height (the tone rises and falls).
      const heights = await note
        .locator('.voice-bar')
        .evaluateAll((bars) => bars.map((bar) => (bar as HTMLElement).style.height));
      expect(heights.length).toBe(64);
      expect(new Set(heights).size).toBeGreaterThan(4);
      await screenshot(bob.page, 'voice-02-received');

      await note.getByTestId('voice-play').click();
      await bob.page.waitForFunction(
        () => {
          const audio = document.querySelector<HTMLAudioElement>('[data-kind="voice"] audio');
          return audio !== null && (audio.ended || audio.currentTime > 0.3);
        },
        undefined,
        { timeout: UI_TIMEOUT },
      );
      expect(await player.getAttribute('data-played')).toBe('true');
      await bob.page.waitForFunction(
        () => document.querySelector<HTMLAudioElement>('[data-kind="voice"] audio')?.ended === true,
        undefined,
        { timeout: UI_TIMEOUT },
      );

      // Keyboard seeking: Home goes to the start, an arrow one second on.
      const slider = note.getByTestId('voice-waveform');
      await slider.focus();
      await bob.page.keyboard.press('Home');
      await bob.page.keyboard.press('ArrowRight');
      await bob.page.waitForFunction(
        () => {
          const t = document.querySelector<HTMLAudioElement>('[data-kind="voice"] audio')?.currentTime ?? 0;
          return t > 0.9 && t < 1.1;
        },
        undefined,
        { timeout: UI_TIMEOUT },
      );
      expect(await slider.getAttribute('aria-valuenow')).toBe('1');
      // Clicking the waveform near its end seeks there.
      const box = await slider.boundingBox();
      if (!box) throw new Error('the waveform is not shown');
      await bob.page.mouse.click(box.x + box.width * 0.9, box.y + box.height / 2);
      await bob.page.waitForFunction(
        (total) => {
          const t = document.querySelector<HTMLAudioElement>('[data-kind="voice"] audio')?.currentTime ?? 0;
          return t > total * 0.7;
        },
        durationMs / 1000,
        { timeout: UI_TIMEOUT },
      );

      // Speed cycles 1× → 1.5× → 2× and applies to the audio.
      const speed = note.getByTestId('voice-speed');
      await speed.click();
      expect(await speed.textContent()).toBe('1.5×');
      expect((await audioState(bob.page, 0)).playbackRate).toBe(1.5);
      await speed.click();
      expect((await audioState(bob.page, 0)).playbackRate).toBe(2);
      await note.getByTestId('voice-play').click();
      await bob.page.waitForFunction(
        () => document.querySelector<HTMLAudioElement>('[data-kind="voice"] audio')?.ended === true,
        undefined,
        { timeout: UI_TIMEOUT },
      );
      await screenshot(bob.page, 'voice-03-played');
    },
    SLOW,
  );

  it(
    'should send nothing when a recording is cancelled',
    async () => {
      const before = await voiceMessages(alice.page).count();
      await alice.page.getByTestId('voice-record-button').click();
      await alice.page.getByTestId('voice-recording').waitFor({ timeout: UI_TIMEOUT });
      await alice.page.getByTestId('voice-recording-time').filter({ hasText: '0:01' }).waitFor({ timeout: UI_TIMEOUT });
      await alice.page.getByTestId('voice-cancel-button').click();
      await alice.page.getByTestId('message-input').waitFor({ timeout: UI_TIMEOUT });
      // A text sent after the cancel arrives; no voice note went before it.
      await send(alice.page, 'after the cancel');
      await messageWithText(bob.page, 'after the cancel').waitFor({ timeout: UI_TIMEOUT });
      expect(await voiceMessages(alice.page).count()).toBe(before);
      expect(await voiceMessages(bob.page).count()).toBe(before);
    },
    SLOW,
  );

  it(
    'should explain a denied microphone in plain words, in English and Chinese',
    async () => {
      await alice.context.clearPermissions();
      await alice.page.getByTestId('voice-record-button').click();
      const failure = alice.page.getByTestId('voice-failure');
      await failure.waitFor({ timeout: UI_TIMEOUT });
      expect(await failure.getAttribute('data-reason')).toBe('denied');
      expect(await failure.textContent()).toContain('permission was denied');
      expect(await voiceMessages(bob.page).count()).toBe(1);
      await screenshot(alice.page, 'voice-04-denied');

      await setLanguage(alice.page, 'zh-CN');
      await alice.page.getByTestId('voice-record-button').click();
      await failure.waitFor({ timeout: UI_TIMEOUT });
      expect(await failure.textContent()).toContain('权限被拒绝');
      await alice.context.grantPermissions(['notifications', 'microphone'], { origin: server.url });
    },
    SLOW,
  );
});

describe('emoji picker', () => {
  it(
    'should search in Chinese (the UI is 简体中文), insert at the caret, and precache its data',
    async () => {
      await setLanguage(alice.page, 'zh-CN');
      await alice.page.getByTestId('message-input').fill('ab');
      await alice.page.getByTestId('message-input').evaluate((el: HTMLTextAreaElement) => el.setSelectionRange(1, 1));
      await alice.page.getByTestId('emoji-button').click();
      await alice.page.getByTestId('emoji-option').first().waitFor({ timeout: UI_TIMEOUT });
      await alice.page.getByTestId('emoji-search').fill('猫');
      const cat = alice.page.locator('[data-testid="emoji-option"][data-emoji="🐱"]');
      await cat.waitFor({ timeout: UI_TIMEOUT });
      await screenshot(alice.page, 'voice-05-emoji-zh');
      await cat.click();
      await expect(alice.page.getByTestId('message-input').inputValue()).resolves.toBe('a🐱b');
      // The data came from this server, and the service worker answers it with no network (precached).
      await alice.context.setOffline(true);
      const offline = await alice.page.evaluate(async () =>
        Promise.all(
          ['/emoji-data/en.json', '/emoji-data/zh.json'].map(async (u) => {
            const response = await fetch(u);
            return response.ok && ((await response.json()) as unknown[]).length > 1000;
          }),
        ),
      );
      await alice.context.setOffline(false);
      expect(offline).toEqual([true, true]);
      await alice.page.getByTestId('message-input').fill('');
      // The emptied draft is saved before the next test reloads the page: the list shows no draft for the chat.
      await alice.page.goBack();
      await alice.page.getByTestId('conversation-item').first().waitFor({ timeout: UI_TIMEOUT });
      await alice.page.locator('.conversation-preview.draft').waitFor({ state: 'detached', timeout: UI_TIMEOUT });
    },
    SLOW,
  );

  it(
    'should search in English, send the chosen emoji, and show an emoji-only message large',
    async () => {
      await setLanguage(alice.page, 'en');
      await alice.page.getByTestId('emoji-button').click();
      await alice.page.getByTestId('emoji-search').fill('rocket');
      const rocket = alice.page.locator('[data-testid="emoji-option"][data-emoji="🚀"]');
      await rocket.waitFor({ timeout: UI_TIMEOUT });
      await rocket.click();
      await alice.page.getByTestId('emoji-search').fill('xq-no-such-emoji');
      await alice.page.getByTestId('emoji-empty').waitFor({ timeout: UI_TIMEOUT });
      await expect(alice.page.getByTestId('message-input').inputValue()).resolves.toBe('🚀');
      await alice.page.getByTestId('send-button').click();
      const big = bob.page
        .getByTestId('message')
        .filter({ has: bob.page.locator('.bubble-text', { hasText: /^🚀$/u }) });
      await big.waitFor({ timeout: UI_TIMEOUT });
      expect(await big.locator('.bubble-text').getAttribute('data-emoji-only')).toBe('true');
      await send(alice.page, 'text 🚀');
      const normal = messageWithText(bob.page, 'text 🚀');
      await normal.waitFor({ timeout: UI_TIMEOUT });
      expect(await normal.locator('.bubble-text').getAttribute('data-emoji-only')).toBeNull();
      const size = (locator: typeof big) =>
        locator.locator('.bubble-text').evaluate((el) => parseFloat(getComputedStyle(el).fontSize));
      expect(await size(big)).toBeGreaterThan(2 * (await size(normal)));
      await screenshot(bob.page, 'voice-06-emoji-large');
      // The phone layout in dark mode: the voice player, the picker and large emoji fit 390 px.
      await alice.page.setViewportSize({ width: 390, height: 844 });
      await alice.page.emulateMedia({ colorScheme: 'dark' });
      await alice.page.getByTestId('emoji-button').click();
      await alice.page.getByTestId('emoji-option').first().waitFor({ timeout: UI_TIMEOUT });
      const overflow = await alice.page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
      expect(overflow).toBe(false);
      await screenshot(alice.page, 'voice-07-phone-dark');
      await alice.page.getByTestId('emoji-button').click();
      await alice.page.emulateMedia({ colorScheme: 'light' });
      await alice.page.setViewportSize({ width: 1100, height: 760 });
    },
    SLOW,
  );
});

describe('CLI interop', () => {
  it(
    'should play a voice note sent with `cove send --voice` in the PWA',
    async () => {
      const carol = join(work, 'carol');
      expect((await cove(carol, ['register', '--server', server.url, '--username', CAROL])).code).toBe(0);
      // An Ogg Opus file, as phones and Firefox record them (Chromium's encoder, an Ogg container made here).
      const file = join(work, 'note.ogg');
      writeFileSync(file, await oggOpusTone(bob.page, 1.5));
      const sent = await cove(carol, ['send', BOB, '--voice', file]);
      expect(sent.stderr).toBe('');
      expect(sent.code).toBe(0);
      await bob.page.goto(server.url);
      await openChat(bob.page, CAROL);
      const note = voiceMessages(bob.page).first();
      await note.waitFor({ timeout: UI_TIMEOUT });
      await note.getByTestId('voice-play').click();
      await bob.page.waitForFunction(
        () => document.querySelector<HTMLAudioElement>('[data-kind="voice"] audio')?.ended === true,
        undefined,
        { timeout: UI_TIMEOUT },
      );
      expect(Number(await note.getByTestId('voice-player').getAttribute('data-duration-ms'))).toBeGreaterThan(1_000);
    },
    SLOW,
  );
});
