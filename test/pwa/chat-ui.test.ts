/**
 * Reading and writing in the PWA, in Debian's Chromium against the real server, with two profiles: Alice in English
 * at 1280×800 and Bob in Chinese at 390×844. The composer grows with its text (height measured) and stops at about
 * six lines; a draft survives a reload (and shows as "Draft: …" in the list) and is cleared by sending; a
 * `javascript:` text is no link while an https address is one (new tab, `noopener noreferrer`); quick messages
 * group into one run with one visible time; "jump to latest" appears when Bob reads older messages, counts what
 * arrives below without moving his view, and brings him back; a disappearing-message timer set by Bob is shown and
 * honoured by Alice, and the message vanishes on both sides; the safety-number view demotes "Mark as verified"
 * after a mismatch and explains a camera that cannot open. axe (WCAG rules and the landmark rules) finds nothing at
 * both sizes in light and dark; screenshots go to test-results/pwa/.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';

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
import { landmarkViolations, seriousViolations } from './support/inspect.js';

/** Browser scenarios on a shared 2-core machine take a while; nothing here asserts on time. */
const SLOW = 400_000;
const suffix = Math.random().toString(36).slice(2, 7);
const ALICE = `cu_alice_${suffix}`;
const BOB = `cu_bob_${suffix}`;

let server: TestServer;
let alice: Profile;
let bob: Profile;

const inputHeight = (page: Page) =>
  page.getByTestId('message-input').evaluate((el) => el.getBoundingClientRect().height);

/** Polls `read` until it gives `expected` (the UI updates asynchronously); fails with the last value seen. */
async function eventually<T>(read: () => Promise<T>, expected: T, timeoutMs = UI_TIMEOUT): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await read();
  while (last !== expected && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    last = await read();
  }
  expect(last).toBe(expected);
}

/** Both axe checks: no serious WCAG violation, and no landmark violation of any impact. */
async function expectAccessible(page: Page): Promise<void> {
  await expect(seriousViolations(page)).resolves.toEqual([]);
  await expect(landmarkViolations(page)).resolves.toEqual([]);
}

beforeAll(async () => {
  buildPwaIfStale();
  server = await startServer();
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  for (const profile of [alice, bob])
    if (profile && !profile.page.isClosed())
      await screenshot(profile.page, `chat-ui-zz-last-${profile.name}`).catch(() => undefined);
  await alice?.close();
  await bob?.close();
  await server?.close();
}, SLOW);

describe('Reading and writing in the PWA', () => {
  it(
    'should grow the composer, keep drafts, link safely, group bubbles, jump to latest and honour timers',
    async () => {
      alice = await launchProfile('chat-ui-alice', server.url, { viewport: { width: 1280, height: 800 } });
      bob = await launchProfile('chat-ui-bob', server.url, { locale: 'zh-CN', viewport: { width: 390, height: 844 } });
      await register(alice.page, ALICE);
      await register(bob.page, BOB);
      await expectAccessible(bob.page);
      await startChat(alice.page, BOB);

      // The composer grows line by line (Shift+Enter breaks the line on a keyboard) up to about six lines.
      const input = alice.page.getByTestId('message-input');
      const oneLine = await inputHeight(alice.page);
      expect(oneLine).toBeGreaterThanOrEqual(44);
      await input.click();
      await alice.page.keyboard.type('line 1');
      for (let i = 2; i <= 3; i++) {
        await alice.page.keyboard.press('Shift+Enter');
        await alice.page.keyboard.type(`line ${i}`);
      }
      await expect(input.inputValue()).resolves.toBe('line 1\nline 2\nline 3');
      const threeLines = await inputHeight(alice.page);
      expect(threeLines).toBeGreaterThan(oneLine + 30);
      for (let i = 4; i <= 12; i++) {
        await alice.page.keyboard.press('Shift+Enter');
        await alice.page.keyboard.type(`line ${i}`);
      }
      const capped = await inputHeight(alice.page);
      expect(capped).toBeGreaterThan(threeLines);
      expect(capped).toBeLessThan(200);
      const scrolls = await input.evaluate((el) => el.scrollHeight > el.clientHeight + 10);
      expect(scrolls).toBe(true);
      await screenshot(alice.page, 'chat-ui-01-composer-grown-desktop');
      // Enter sends; the field shrinks back.
      await alice.page.keyboard.press('Enter');
      await messageWithText(alice.page, 'line 12').waitFor({ timeout: UI_TIMEOUT });
      await expect(input.inputValue()).resolves.toBe('');
      expect(await inputHeight(alice.page)).toBeLessThan(oneLine + 4);

      // A draft is kept (sealed, like every row) across a reload, shown in the list, and cleared by sending.
      await input.fill('half-written thought');
      const preview = alice.page
        .locator(`[data-testid="conversation-item"][data-conversation="${BOB}"]`)
        .getByTestId('conversation-preview');
      await eventually(() => preview.textContent(), 'Draft: half-written thought');
      await alice.page.reload();
      await alice.page.getByTestId('message-input').waitFor({ timeout: UI_TIMEOUT });
      await eventually(() => alice.page.getByTestId('message-input').inputValue(), 'half-written thought');
      await expect(preview.textContent()).resolves.toBe('Draft: half-written thought');
      await alice.page.getByTestId('send-button').click();
      await messageWithText(alice.page, 'half-written thought').waitFor({ timeout: UI_TIMEOUT });
      await eventually(() => preview.textContent(), 'You: half-written thought');

      // Links: only http(s) and mailto become links; a javascript: text stays text.
      await send(alice.page, 'try javascript:alert(1) or https://example.com/a/long/path/to/a/page.');
      await openChat(bob.page, ALICE);
      const linked = messageWithText(bob.page, 'javascript:alert(1)');
      await linked.waitFor({ timeout: UI_TIMEOUT });
      const anchors = linked.getByTestId('message-link');
      await expect(anchors.count()).resolves.toBe(1);
      await expect(anchors.getAttribute('href')).resolves.toBe('https://example.com/a/long/path/to/a/page');
      await expect(anchors.getAttribute('rel')).resolves.toBe('noopener noreferrer');
      await expect(anchors.getAttribute('target')).resolves.toBe('_blank');
      await expect(bob.page.locator('a[href^="javascript" i]').count()).resolves.toBe(0);

      // Grouped bubbles: three quick messages form one run with one visible time; a day separator says 今天.
      await send(alice.page, 'group one');
      await send(alice.page, 'group two');
      await send(alice.page, 'group three');
      await messageWithText(bob.page, 'group three').waitFor({ timeout: UI_TIMEOUT });
      const position = (text: string) =>
        bob.page
          .locator('.bubble-row')
          .filter({ has: bob.page.locator('.bubble-text', { hasText: text }) })
          .getAttribute('data-group');
      await expect(position('group one')).resolves.toBe('middle');
      await expect(position('group two')).resolves.toBe('middle');
      await expect(position('group three')).resolves.toBe('last');
      const visibleTimes = await bob.page
        .locator('.bubble-row[data-group] time:not(.visually-hidden)')
        .evaluateAll((els) => els.filter((el) => (el as HTMLElement).offsetParent !== null).length);
      expect(visibleTimes).toBe(1);
      await expect(bob.page.getByTestId('day-separator').first().textContent()).resolves.toBe('今天');
      // Read and delivered marks differ in shape, with a label: Bob has the chat open, so Alice's are read.
      const lastMark = alice.page.locator('.bubble-row.out').last().locator('.mark');
      await eventually(() => lastMark.getAttribute('class'), 'mark mark-read');
      await expect(lastMark.getAttribute('aria-label')).resolves.toBe('Read');
      await expect(lastMark.locator('circle').count()).resolves.toBe(1);
      await expectAccessible(bob.page);
      await screenshot(bob.page, 'chat-ui-02-groups-phone-light-zh');

      // Jump to latest: Bob reads older messages; new ones are counted, not scrolled to.
      for (let i = 1; i <= 12; i++) await send(alice.page, `filler ${i}`);
      await messageWithText(bob.page, 'filler 12').waitFor({ timeout: UI_TIMEOUT });
      const log = bob.page.locator('.messages');
      await log.evaluate((el) => {
        el.scrollTop = 0;
        el.dispatchEvent(new Event('scroll'));
      });
      const jump = bob.page.getByTestId('jump-to-latest');
      await jump.waitFor({ timeout: UI_TIMEOUT });
      await send(alice.page, 'arrived below 1');
      await send(alice.page, 'arrived below 2');
      await eventually(() => jump.getByTestId('jump-count').textContent(), '2');
      expect(await log.evaluate((el) => el.scrollTop)).toBeLessThan(50);
      await expectAccessible(bob.page);
      await screenshot(bob.page, 'chat-ui-03-jump-phone-light-zh');
      await jump.click();
      await jump.waitFor({ state: 'detached', timeout: UI_TIMEOUT });
      expect(await log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(80);

      // Disappearing messages: Bob sets 30 s; both see the line and the timer; a message vanishes on both sides.
      await bob.page.getByTestId('disappearing-button').click();
      await bob.page.locator('[data-testid="disappearing-option"][data-seconds="30"]').click();
      await bob.page
        .getByTestId('system-line')
        .filter({ hasText: '你将限时消息设为' })
        .waitFor({ timeout: UI_TIMEOUT });
      await alice.page
        .getByTestId('system-line')
        .filter({ hasText: `${BOB} set disappearing messages to 30 seconds` })
        .waitFor({ timeout: UI_TIMEOUT });
      await alice.page.getByTestId('chat-timer').waitFor({ timeout: UI_TIMEOUT });
      await expect(alice.page.getByTestId('chat-timer').textContent()).resolves.toBe('30 sec');
      await send(alice.page, 'this will vanish');
      const vanishing = messageWithText(bob.page, 'this will vanish');
      await vanishing.waitFor({ timeout: UI_TIMEOUT });
      await vanishing.getByTestId('expiry-mark').waitFor({ timeout: UI_TIMEOUT });
      await messageWithText(alice.page, 'this will vanish').getByTestId('expiry-mark').waitFor({ timeout: UI_TIMEOUT });
      await expectAccessible(alice.page);
      await screenshot(alice.page, 'chat-ui-04-timer-desktop-light');
      await alice.page.emulateMedia({ colorScheme: 'dark' });
      await bob.page.emulateMedia({ colorScheme: 'dark' });
      await expectAccessible(alice.page);
      await expectAccessible(bob.page);
      await screenshot(alice.page, 'chat-ui-05-timer-desktop-dark');
      await screenshot(bob.page, 'chat-ui-06-timer-phone-dark-zh');
      await vanishing.waitFor({ state: 'detached', timeout: 90_000 });
      await messageWithText(alice.page, 'this will vanish').waitFor({ state: 'detached', timeout: 90_000 });
      // Alice turns it off; Bob sees it in Chinese, and later messages carry no timer.
      await alice.page.getByTestId('disappearing-button').click();
      await alice.page.locator('[data-testid="disappearing-option"][data-seconds="0"]').click();
      await bob.page
        .getByTestId('system-line')
        .filter({ hasText: `${ALICE} 关闭了限时消息` })
        .waitFor({ timeout: UI_TIMEOUT });
      await alice.page.getByTestId('chat-timer').waitFor({ state: 'detached', timeout: UI_TIMEOUT });
      await send(alice.page, 'this one stays');
      await messageWithText(bob.page, 'this one stays').waitFor({ timeout: UI_TIMEOUT });
      await expect(messageWithText(bob.page, 'this one stays').getByTestId('expiry-mark').count()).resolves.toBe(0);

      // Safety numbers: after "they don't match", marking verified is demoted under advice; the camera explains itself.
      await alice.page.locator('.chat-peer').click();
      await alice.page.getByTestId('safety-number').waitFor({ timeout: UI_TIMEOUT });
      await expect(alice.page.getByTestId('mark-verified-button').getAttribute('data-emphasis')).resolves.toBe(
        'primary',
      );
      await alice.page.getByTestId('safety-compare-input').fill('12345 67890');
      await alice.page.getByTestId('safety-compare-button').click();
      await alice.page.getByTestId('mismatch-advice').waitFor({ timeout: UI_TIMEOUT });
      await expect(alice.page.getByTestId('mark-verified-button').getAttribute('data-emphasis')).resolves.toBe(
        'demoted',
      );
      await expect(alice.page.getByTestId('mark-verified-button').textContent()).resolves.toBe(
        'Mark as verified anyway',
      );
      await alice.page.getByRole('button', { name: 'Scan their code' }).click();
      await alice.page.getByTestId('scan-failed').waitFor({ timeout: UI_TIMEOUT });
      await expectAccessible(alice.page);
      await screenshot(alice.page, 'chat-ui-07-safety-mismatch-desktop-dark');
      await alice.page.emulateMedia({ colorScheme: 'light' });
      await alice.page.setViewportSize({ width: 390, height: 844 });
      await expectAccessible(alice.page);
      await screenshot(alice.page, 'chat-ui-08-safety-mismatch-phone-light');
      await bob.page.setViewportSize({ width: 1280, height: 800 });
      await expectAccessible(bob.page);
      await screenshot(bob.page, 'chat-ui-09-chat-desktop-dark-zh');
    },
    SLOW,
  );
});
