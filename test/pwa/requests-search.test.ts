/**
 * Message requests, the block list and search in the PWA, in Debian's Chromium against the real server, with the
 * `cove` CLI (real processes) as strangers: Alice in English at 1280×800 and Bob in Chinese at 390×844. A stranger's
 * first message lands in Requests with a warning; no read receipt reaches the stranger (watched through its
 * `listen --json`) until the request is accepted, then it does. A blocked stranger's further messages are dropped
 * while its `cove send` succeeds as ever (nothing reveals the block); settings lists and unblocks it. Search finds
 * a Chinese word inside a sentence and an English word start, shows the match highlighted, and opens the chat at
 * the message, highlighted. axe finds no serious violation; screenshots in light and dark go to test-results/pwa/.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';

import {
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
  messageWithText,
  register,
  screenshot,
  startServer,
  takeCspViolations,
  type Profile,
  type TestServer,
} from './support/harness.js';
import { seriousViolations } from './support/inspect.js';
import { cove, ensureCliBuilt, listen, type Listener } from '../support/cli.js';

/** Browser scenarios on a shared 2-core machine take a while; nothing here asserts on time. */
const SLOW = 300_000;
const suffix = Math.random().toString(36).slice(2, 7);
const ALICE = `rs_alice_${suffix}`;
const BOB = `rs_bob_${suffix}`;
const CAROL = `rs_carol_${suffix}`;
const MALLORY = `rs_mallory_${suffix}`;
const ZH_SENTENCE = '我们明天下午开会讨论预算';
const EN_SENTENCE = 'The quarterly budget review moved to Thursday';

let server: TestServer;
let alice: Profile;
let bob: Profile;
let root = '';
let carol = '';
let mallory = '';
let carolListener: Listener | null = null;

const item = (page: Page, title: string) =>
  page.locator(`[data-testid="conversation-item"][data-conversation="${title}"]`);

/** Read receipts the CLI peer has seen so far (its `listen --json` lines). */
const readReceipts = (listener: Listener): Record<string, unknown>[] =>
  listener.events().filter((e) => e.type === 'receipt' && e.receipt === 'read');

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  buildPwaIfStale();
  await ensureCliBuilt();
  server = await startServer();
  root = await mkdtemp(join(tmpdir(), 'cove-requests-'));
  carol = join(root, 'carol');
  mallory = join(root, 'mallory');
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  await carolListener?.kill().catch(() => undefined);
  await alice?.close();
  await bob?.close();
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
}, SLOW);

describe('Message requests, blocking and search in the PWA', () => {
  it(
    'should hold a stranger in Requests without read receipts until accepted, then let receipts flow',
    async () => {
      alice = await launchProfile('requests-alice', server.url, { viewport: { width: 1280, height: 800 } });
      bob = await launchProfile('requests-bob', server.url, { locale: 'zh-CN', viewport: { width: 390, height: 844 } });
      await register(alice.page, ALICE);
      await register(bob.page, BOB);
      expect((await cove(carol, ['register', '--server', server.url, '--username', CAROL])).code).toBe(0);
      expect((await cove(carol, ['send', ALICE, 'Hello from a stranger'])).code).toBe(0);
      expect((await cove(carol, ['send', BOB, ZH_SENTENCE])).code).toBe(0);
      carolListener = listen(carol);

      // Alice: the request has a section of its own, with the sender's username.
      const request = alice.page.getByTestId('requests-section').locator(`[data-conversation="${CAROL}"]`);
      await request.waitFor({ timeout: UI_TIMEOUT });
      await expect(request.getAttribute('data-request')).resolves.toBe('true');
      await request.click();
      await messageWithText(alice.page, 'Hello from a stranger').waitFor({ timeout: UI_TIMEOUT });
      const bar = alice.page.getByTestId('request-bar');
      await expect(bar.textContent()).resolves.toContain(`${CAROL} is not in your contacts`);
      await expect(seriousViolations(alice.page)).resolves.toEqual([]);
      await screenshot(alice.page, 'requests-01-request-desktop');

      // Bob, in Chinese on a phone, sees the same.
      const bobRequest = bob.page.getByTestId('requests-section').locator(`[data-conversation="${CAROL}"]`);
      await bobRequest.waitFor({ timeout: UI_TIMEOUT });
      await expect(bob.page.getByTestId('requests-section').textContent()).resolves.toContain('消息请求');
      await expect(seriousViolations(bob.page)).resolves.toEqual([]);
      await bob.page.emulateMedia({ colorScheme: 'dark' });
      await screenshot(bob.page, 'requests-02-list-phone-zh-dark');
      await bobRequest.click();
      await messageWithText(bob.page, ZH_SENTENCE).waitFor({ timeout: UI_TIMEOUT });
      await expect(bob.page.getByTestId('request-bar').textContent()).resolves.toContain('不在你的联系人中');
      await expect(seriousViolations(bob.page)).resolves.toEqual([]);
      await screenshot(bob.page, 'requests-03-request-phone-zh-dark');
      await bob.page.emulateMedia({ colorScheme: null });

      // Both opened (read) the messages: Carol got delivery receipts, and no read receipt at all.
      await carolListener.waitFor('delivery receipts', (e) => e.type === 'receipt' && e.receipt === 'delivery');
      await sleep(3_000);
      expect(readReceipts(carolListener)).toEqual([]);

      // Alice accepts: the read receipt held back reaches Carol; the request is an ordinary chat now.
      await alice.page.getByTestId('request-accept').click();
      await bar.waitFor({ state: 'detached', timeout: UI_TIMEOUT });
      await carolListener.waitFor('a read receipt', (e) => e.type === 'receipt' && e.receipt === 'read', 60_000);
      await expect(item(alice.page, CAROL).getAttribute('data-request')).resolves.toBeNull();
    },
    SLOW,
  );

  it(
    'should drop a blocked stranger’s messages without telling them, and list them in settings to unblock',
    async () => {
      expect((await cove(mallory, ['register', '--server', server.url, '--username', MALLORY])).code).toBe(0);
      expect((await cove(mallory, ['send', ALICE, 'Buy my stuff'])).code).toBe(0);
      const request = alice.page.getByTestId('requests-section').locator(`[data-conversation="${MALLORY}"]`);
      await request.waitFor({ timeout: UI_TIMEOUT });
      await request.click();
      await alice.page.getByTestId('request-block').click();
      await expect(seriousViolations(alice.page)).resolves.toEqual([]);
      await alice.page.getByTestId('request-block-confirm').click();
      await item(alice.page, MALLORY).waitFor({ state: 'detached', timeout: UI_TIMEOUT });

      // Mallory writes again: the send succeeds as always (exit 0, no error), and nothing reaches Alice.
      const again = await cove(mallory, ['send', ALICE, 'Are you there?'], { json: true });
      expect(again.code).toBe(0);
      expect(again.stderr).toBe('');
      await sleep(3_000);
      await expect(item(alice.page, MALLORY).count()).resolves.toBe(0);
      await expect(alice.page.getByText('Are you there?').count()).resolves.toBe(0);

      // Settings lists Mallory; unblocking empties the list.
      await alice.page.getByTestId('settings-button').click();
      const blocked = alice.page.getByTestId('blocked-item');
      await blocked.waitFor({ timeout: UI_TIMEOUT });
      await expect(blocked.textContent()).resolves.toContain(MALLORY);
      await expect(seriousViolations(alice.page)).resolves.toEqual([]);
      await alice.page.getByTestId('unblock-button').click();
      await alice.page.getByTestId('blocked-empty').waitFor({ timeout: UI_TIMEOUT });
    },
    SLOW,
  );

  it(
    'should find a Chinese word inside a sentence and an English word start, and open the chat at the message',
    async () => {
      expect((await cove(carol, ['send', ALICE, EN_SENTENCE])).code).toBe(0);
      await item(alice.page, CAROL).filter({ hasText: 'quarterly' }).waitFor({ timeout: UI_TIMEOUT });
      // Messages after it, so that opening it has to scroll.
      for (let i = 0; i < 15; i++) expect((await cove(carol, ['send', ALICE, `filler ${i}`])).code).toBe(0);
      await item(alice.page, CAROL).filter({ hasText: 'filler 14' }).waitFor({ timeout: UI_TIMEOUT });

      const search = alice.page.getByTestId('search-input');
      await search.fill('QUARTER');
      const hit = alice.page.getByTestId('search-result').filter({ hasText: 'quarterly' });
      await hit.waitFor({ timeout: UI_TIMEOUT });
      await expect(hit.getByTestId('search-match').first().textContent()).resolves.toBe('quarter');
      await expect(seriousViolations(alice.page)).resolves.toEqual([]);
      await screenshot(alice.page, 'search-01-results-desktop');
      const started = Date.now();
      await hit.click();
      const target = messageWithText(alice.page, EN_SENTENCE);
      await alice.page.locator('.bubble.search-focus', { hasText: EN_SENTENCE }).waitFor({ timeout: UI_TIMEOUT });
      process.stdout.write(`search: result to highlighted message ${Date.now() - started} ms\n`);
      await expect(target.isVisible()).resolves.toBe(true);
      await expect(
        target.evaluate((el) => {
          const box = el.getBoundingClientRect();
          return box.top >= 0 && box.bottom <= globalThis.innerHeight;
        }),
      ).resolves.toBe(true);

      // Bob searches in Chinese for a word inside the sentence; a word that is not there finds nothing.
      await bob.page.goto(server.url);
      const zh = bob.page.getByTestId('search-input');
      await zh.fill('预算');
      const zhHit = bob.page.getByTestId('search-result').filter({ hasText: '开会' });
      await zhHit.waitFor({ timeout: UI_TIMEOUT });
      await expect(zhHit.getByTestId('search-match').textContent()).resolves.toBe('预算');
      await expect(seriousViolations(bob.page)).resolves.toEqual([]);
      await screenshot(bob.page, 'search-02-results-phone-zh');
      await zh.fill('算讨');
      await bob.page.getByTestId('search-empty').waitFor({ timeout: UI_TIMEOUT });
      await zh.fill('开会');
      await zhHit.click();
      await bob.page.locator('.bubble.search-focus', { hasText: ZH_SENTENCE }).waitFor({ timeout: UI_TIMEOUT });

      // A message arriving while the results are shown joins them.
      await alice.page.goto(server.url);
      await alice.page.getByTestId('search-input').fill('thursday');
      await alice.page.getByTestId('search-result').first().waitFor({ timeout: UI_TIMEOUT });
      expect((await cove(carol, ['send', ALICE, 'See you Thursday then'])).code).toBe(0);
      await alice.page
        .getByTestId('search-result')
        .filter({ hasText: 'See you Thursday' })
        .waitFor({ timeout: UI_TIMEOUT });
    },
    SLOW,
  );
});
