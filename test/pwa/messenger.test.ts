/**
 * The PWA end to end, in Debian's Chromium against the real server: two profiles register, find each other and
 * chat both ways until messages are read; history survives a reload and opens offline; a push delivered to the
 * service worker with the app closed is decrypted and notified (with and without previews); two tabs of one
 * profile share the device without decryption failures; safety numbers match and a key change shows the banner;
 * the UI renders in Chinese; axe-core finds no serious violation; IndexedDB holds no plaintext message or private
 * key, and no username, account id, time or table name in any key. Screenshots of the main screens go to test-results/pwa/, figures to test-results/pwa/figures.json.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';

import {
  RESULTS,
  ROOT,
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
  messageWithText,
  openChat,
  register,
  restartProfile,
  screenshot,
  send,
  startChat,
  startServer,
  takeCspViolations,
  type Profile,
  type TestServer,
} from './support/harness.js';
import {
  closeNotifications,
  dumpIndexedDb,
  notifications,
  pushAndWaitForNotification,
  replaceStoredIdentity,
  seriousViolations,
} from './support/inspect.js';

/** Browser scenarios on a shared 2-core machine take a while; nothing here asserts on time. */
const SLOW = 240_000;
const suffix = Math.random().toString(36).slice(2, 7);
const ALICE = `alice_${suffix}`;
const BOB = `bob_${suffix}`;

let server: TestServer;
let aliceId = '';
let alice: Profile;
let bob: Profile;
const figures: Record<string, unknown> = {};

const statusOf = (page: Page, text: string) => messageWithText(page, text).getAttribute('data-status');

async function waitForStatus(page: Page, text: string, status: string): Promise<void> {
  await page.waitForFunction(
    ([t, s]) =>
      [...document.querySelectorAll('[data-testid="message"]')].some(
        (el) => el.querySelector('.bubble-text')?.textContent === t && el.getAttribute('data-status') === s,
      ),
    [text, status] as const,
    { timeout: UI_TIMEOUT },
  );
}

const conversationIdOf = (page: Page) => decodeURIComponent(new URL(page.url()).pathname.split('/')[2] ?? '');

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/**
 * This file's server serves a private copy of the built PWA: the update test changes its service worker, which must
 * not reach the other browser suites running at the same time from the shared build.
 */
let pwaCopy: string;

beforeAll(async () => {
  buildPwaIfStale();
  pwaCopy = mkdtempSync(join(tmpdir(), 'cove-pwa-copy-'));
  cpSync(join(ROOT, 'apps/pwa/dist'), pwaCopy, { recursive: true });
  server = await startServer({ PWA_DIR: pwaCopy });
}, SLOW);

/** Any Content-Security-Policy violation in any page or worker fails the test it happened in. */
afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
  // The last state of each profile, to explain a failure.
  for (const profile of [alice, bob])
    if (profile && !profile.page.isClosed())
      await screenshot(profile.page, `zz-last-${profile.name}`).catch(() => undefined);
  await alice?.close();
  await bob?.close();
  await server?.close();
  if (pwaCopy) rmSync(pwaCopy, { recursive: true, force: true });
  // Reports that arrived after the last test's check.
  expect(takeCspViolations()).toEqual([]);
}, SLOW);

describe('Cove PWA in Chromium', () => {
  it(
    'should register two profiles that find each other and chat both ways until read',
    async () => {
      const launchStarted = Date.now();
      alice = await launchProfile('alice', server.url);
      await alice.page.getByTestId('username-input').waitFor({ timeout: UI_TIMEOUT });
      figures.coldLaunchToOnboardingMs = Date.now() - launchStarted;
      await screenshot(alice.page, '01-onboarding');
      bob = await launchProfile('bob', server.url);
      await register(alice.page, ALICE);
      await register(bob.page, BOB);
      await screenshot(alice.page, '02-empty-list');

      await startChat(alice.page, BOB);
      await send(alice.page, 'Hello Bob 👋');
      await waitForStatus(alice.page, 'Hello Bob 👋', 'sent');

      const item = bob.page.locator(`[data-testid="conversation-item"][data-conversation="${ALICE}"]`);
      await item.waitFor({ timeout: UI_TIMEOUT });
      await expect(item.getByTestId('unread-count').textContent()).resolves.toBe('1');
      await expect(item.textContent()).resolves.toContain('Hello Bob 👋');
      await screenshot(bob.page, '03-conversation-list-unread');

      await openChat(bob.page, ALICE);
      aliceId = conversationIdOf(bob.page);
      await messageWithText(bob.page, 'Hello Bob 👋').waitFor({ timeout: UI_TIMEOUT });
      // Alice is not Bob's contact yet: a message request, whose read receipts go out once Bob accepts.
      await bob.page.getByTestId('request-accept').click();
      await waitForStatus(alice.page, 'Hello Bob 👋', 'read');

      await send(bob.page, 'Hi Alice! 🎉');
      await messageWithText(alice.page, 'Hi Alice! 🎉').waitFor({ timeout: UI_TIMEOUT });
      await waitForStatus(bob.page, 'Hi Alice! 🎉', 'read');
      await expect(bob.page.locator('.day-separator').first().textContent()).resolves.toBe('Today');
      await screenshot(alice.page, '04-chat-desktop');

      // Typing indicator: Alice types, Bob sees it.
      await alice.page.getByTestId('message-input').fill('typing…');
      await bob.page.getByTestId('typing-indicator').filter({ hasText: 'typing…' }).waitFor({ timeout: UI_TIMEOUT });
      await alice.page.getByTestId('message-input').fill('');

      // Send-to-display latency, Alice's click to the bubble in Bob's open chat (same machine clock), at a
      // conversational pace: each probe after the previous one was read.
      const latencies: number[] = [];
      for (let i = 0; i < 15; i++) {
        const text = `latency probe ${i}`;
        const seen = bob.page.evaluate(
          (t) =>
            new Promise<number>((resolve) => {
              const check = () =>
                [...document.querySelectorAll('[data-testid="message"] .bubble-text')].some(
                  (el) => el.textContent === t,
                );
              if (check()) return resolve(Date.now());
              const observer = new MutationObserver(() => {
                if (check()) {
                  observer.disconnect();
                  resolve(Date.now());
                }
              });
              observer.observe(document.body, { childList: true, subtree: true, characterData: true });
            }),
          text,
        );
        await alice.page.getByTestId('message-input').fill(text);
        const sentAt = await alice.page.evaluate(() => {
          const at = Date.now();
          (document.querySelector('[data-testid="send-button"]') as HTMLButtonElement).click();
          return at;
        });
        latencies.push((await seen) - sentAt);
        await waitForStatus(alice.page, text, 'read');
      }
      figures.sendToDisplayMs = { p50: percentile(latencies, 50), p90: percentile(latencies, 90), samples: latencies };
      await waitForStatus(alice.page, 'latency probe 14', 'read');
    },
    SLOW,
  );

  it(
    'should keep conversations, messages and statuses after a reload and a browser restart',
    async () => {
      const started = Date.now();
      await alice.page.reload();
      await messageWithText(alice.page, 'Hi Alice! 🎉').waitFor({ timeout: UI_TIMEOUT });
      figures.warmReloadToChatMs = Date.now() - started;
      await expect(statusOf(alice.page, 'Hello Bob 👋')).resolves.toBe('read');
      await alice.page.goto(server.url);
      const warm: number[] = [];
      for (let i = 0; i < 3; i++) {
        const listStarted = Date.now();
        await alice.page.reload();
        await alice.page.getByTestId('conversation-item').first().waitFor({ timeout: UI_TIMEOUT });
        warm.push(Date.now() - listStarted);
      }
      figures.warmLaunchToChatListMs = warm;

      // Cold: quit the browser and start it again on the same profile.
      const coldStarted = Date.now();
      alice = await restartProfile(alice, server.url);
      await alice.page.getByTestId('conversation-item').first().waitFor({ timeout: UI_TIMEOUT });
      figures.coldBrowserStartToChatListMs = Date.now() - coldStarted;
      figures.coldNavigationToChatListMs = Math.round(await alice.page.evaluate(() => performance.now()));
      await expect(alice.page.getByTestId('conversation-item').first().textContent()).resolves.toContain(BOB);
      await openChat(alice.page, BOB);
      await expect(statusOf(alice.page, 'Hello Bob 👋')).resolves.toBe('read');
      await messageWithText(alice.page, 'Hi Alice! 🎉').waitFor({ timeout: UI_TIMEOUT });
    },
    SLOW,
  );

  it(
    'should open offline from the precache and show the history',
    async () => {
      await alice.page.evaluate(async () => {
        await navigator.serviceWorker.ready;
      });
      await alice.context.setOffline(true);
      try {
        await alice.page.goto(`${server.url}/`);
        await openChat(alice.page, BOB);
        await messageWithText(alice.page, 'Hi Alice! 🎉').waitFor({ timeout: UI_TIMEOUT });
        const offline = alice.page.locator('[data-testid="connection-state"][data-state="offline"]:visible');
        await offline.waitFor({ timeout: UI_TIMEOUT });
        await expect(offline.textContent()).resolves.toContain("You're offline");
        await screenshot(alice.page, '05-offline-history');
      } finally {
        await alice.context.setOffline(false);
      }
    },
    SLOW,
  );

  it(
    'should show equal 60-digit safety numbers on both sides, compare them and mark verified',
    async () => {
      await alice.page.goto(server.url);
      await openChat(alice.page, BOB);
      await alice.page.locator('.chat-peer').click();
      const aliceNumber = (await alice.page.getByTestId('safety-number').textContent({ timeout: UI_TIMEOUT })) ?? '';
      expect(aliceNumber).toMatch(/^\d{60}$/);
      await alice.page.locator('img.qr').waitFor({ timeout: UI_TIMEOUT });
      await screenshot(alice.page, '06-safety-number');

      await bob.page.locator('.chat-peer').click();
      const bobNumber = (await bob.page.getByTestId('safety-number').textContent({ timeout: UI_TIMEOUT })) ?? '';
      expect(bobNumber).toBe(aliceNumber);

      await bob.page.getByTestId('safety-compare-input').fill('12345 '.repeat(12));
      await bob.page.getByTestId('safety-compare-button').click();
      await expect(bob.page.getByTestId('safety-compare-result').getAttribute('class')).resolves.toBe('error');
      await bob.page.getByTestId('safety-compare-input').fill(aliceNumber.replace(/(\d{5})/g, '$1 '));
      await bob.page.getByTestId('safety-compare-button').click();
      await expect(bob.page.getByTestId('safety-compare-result').getAttribute('class')).resolves.toBe('success');
      await bob.page.getByTestId('mark-verified-button').click();
      await bob.page.getByTestId('verification-state').filter({ hasText: 'Verified' }).waitFor({ timeout: UI_TIMEOUT });
      await bob.page.goBack();
    },
    SLOW,
  );

  it(
    "should show a banner when the contact's safety number changes",
    async () => {
      await alice.page.goto(server.url);
      await openChat(alice.page, BOB);
      // The route names the conversation (`direct:<account id>`); identities are stored by account id.
      const bobId = conversationIdOf(alice.page).replace(/^direct:/, '');
      await replaceStoredIdentity(alice.page, bobId);
      await bob.page.goto(server.url);
      await openChat(bob.page, ALICE);
      await send(bob.page, 'Still me, Bob');
      await messageWithText(alice.page, 'Still me, Bob').waitFor({ timeout: UI_TIMEOUT });
      const banner = alice.page.getByTestId('safety-changed-banner');
      await banner.waitFor({ timeout: UI_TIMEOUT });
      await screenshot(alice.page, '07-safety-number-changed');
      // After comparing again, the banner goes away.
      await banner.getByRole('button').click();
      const number = (await alice.page.getByTestId('safety-number').textContent({ timeout: UI_TIMEOUT })) ?? '';
      expect(number).toMatch(/^\d{60}$/);
      await bob.page.locator('.chat-peer').click();
      await expect(bob.page.getByTestId('safety-number').textContent({ timeout: UI_TIMEOUT })).resolves.toBe(number);
      await alice.page.getByTestId('mark-verified-button').click();
      await alice.page
        .getByTestId('verification-state')
        .filter({ hasText: 'Verified' })
        .waitFor({ timeout: UI_TIMEOUT });
      await alice.page.goBack();
      await alice.page.getByTestId('message-input').waitFor({ timeout: UI_TIMEOUT });
      await alice.page.getByTestId('safety-changed-banner').waitFor({ state: 'detached', timeout: UI_TIMEOUT });
    },
    SLOW,
  );

  it(
    'should decrypt a push in the service worker with the app closed and notify with the text, or without it when previews are off',
    async () => {
      const origin = server.url;
      // Bob closes the app: only a blank tab stays (no client of the origin, no socket).
      await bob.context.newPage();
      await bob.page.close();
      await alice.page.goto(origin);
      await openChat(alice.page, BOB);
      await send(alice.page, 'Push secret 42');
      await waitForStatus(alice.page, 'Push secret 42', 'sent');

      const shown = await pushAndWaitForNotification(bob.context, origin, (n) => n.body.includes('Push secret 42'));
      expect(shown.title).toBe(ALICE);
      expect(shown.data).toEqual({ conversationId: aliceId });
      // The worker stored the message and sent the delivery receipt.
      await waitForStatus(alice.page, 'Push secret 42', 'delivered');
      await closeNotifications(bob.context, origin);

      // Previews off: the notification says only "New message".
      bob.page = await bob.context.newPage();
      await bob.page.goto(`${origin}/settings`);
      await bob.page.getByTestId('previews-toggle').uncheck({ timeout: UI_TIMEOUT });
      await expect(bob.page.getByTestId('previews-toggle').isChecked()).resolves.toBe(false);
      await screenshot(bob.page, '08-settings');
      await bob.page.close();
      await send(alice.page, 'Hidden text 99');
      await waitForStatus(alice.page, 'Hidden text 99', 'sent');
      const hidden = await pushAndWaitForNotification(bob.context, origin, (n) => n.title === 'New message');
      expect(hidden.body).not.toContain('Hidden text 99');
      const all = await notifications(bob.context, origin);
      expect(all.some((n) => n.body.includes('Hidden text 99') || n.title.includes('Hidden'))).toBe(false);
      await waitForStatus(alice.page, 'Hidden text 99', 'delivered');

      // Opening the app shows what the worker received.
      bob.page = await bob.context.newPage();
      await bob.page.goto(origin);
      await openChat(bob.page, ALICE);
      await messageWithText(bob.page, 'Push secret 42').waitFor({ timeout: UI_TIMEOUT });
      await messageWithText(bob.page, 'Hidden text 99').waitFor({ timeout: UI_TIMEOUT });
    },
    SLOW,
  );

  it(
    'should let two tabs of one profile send and receive with no decryption failure',
    async () => {
      const second = await bob.context.newPage();
      await second.goto(server.url);
      await openChat(second, ALICE);
      await send(bob.page, 'From tab one');
      await send(second, 'From tab two');
      await messageWithText(alice.page, 'From tab one').waitFor({ timeout: UI_TIMEOUT });
      await messageWithText(alice.page, 'From tab two').waitFor({ timeout: UI_TIMEOUT });
      for (let i = 0; i < 3; i++) await send(alice.page, `Reply ${i} to both tabs`);
      for (const tab of [bob.page, second]) {
        for (let i = 0; i < 3; i++)
          await messageWithText(tab, `Reply ${i} to both tabs`).waitFor({ timeout: UI_TIMEOUT });
        await messageWithText(tab, 'From tab one').waitFor({ timeout: UI_TIMEOUT });
        await messageWithText(tab, 'From tab two').waitFor({ timeout: UI_TIMEOUT });
        await expect(tab.locator('.bubble.undecryptable').count()).resolves.toBe(0);
      }
      await expect(alice.page.locator('.bubble.undecryptable').count()).resolves.toBe(0);
      await waitForStatus(second, 'From tab two', 'read');
      await second.close();
    },
    SLOW,
  );

  it(
    'should keep no plaintext message or private key in IndexedDB, and no username, account id or time in any key',
    async () => {
      const { stores, decrypted } = await dumpIndexedDb(alice.page);
      const raw = Object.values(stores).flat().join('\n');
      for (const text of ['Hello Bob', 'Hi Alice', 'Push secret 42', 'latency probe', 'From tab one'])
        expect(raw).not.toContain(text);
      expect(raw).not.toContain('identityKeyPair');
      expect(raw).toContain('CryptoKey(false)');
      // The app itself can open the rows: the texts and the private key are in there, sealed.
      const opened = decrypted.join('\n');
      expect(opened).toContain('Hello Bob');
      const keyPair = /"identityKeyPair":\{"\$bytes":"([^"]+)"\}/.exec(opened)?.[1];
      expect(keyPair).toBeDefined();
      const keyHex = Buffer.from(keyPair ?? '', 'base64').toString('hex');
      expect(raw).not.toContain(keyHex.slice(-64));
      // Nor does anything readable name or date anyone: no username, account id or time in any key or index.
      const accountIds = new Set(opened.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g));
      expect(accountIds.size).toBeGreaterThanOrEqual(2);
      for (const id of accountIds) expect(raw).not.toContain(id);
      for (const name of [ALICE, BOB]) expect(raw).not.toContain(name);
      const logicalKeys = decrypted.map((line) => line.slice(0, line.indexOf(' '))).join('\n');
      const times = [
        ...(logicalKeys.match(/\d{10,}/g) ?? []),
        ...[...opened.matchAll(/"(?:timestamp|storedAt|serverTimestamp)":(\d{10,})/g)].map((m) => m[1] ?? ''),
      ].map((t) => t.replace(/^0+/, '').slice(0, 10));
      expect(times.length).toBeGreaterThan(20);
      for (const time of new Set(times)) expect(raw).not.toContain(time);
      for (const table of ['messages', 'sessions', 'identities', 'usernames']) expect(raw).not.toContain(table);
      // And the files Chromium keeps on disk hold none of it either.
      const files: string[] = [];
      const walk = (dir: string) => {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          const p = join(dir, e.name);
          if (e.isDirectory()) walk(p);
          else if (statSync(p).size < 50_000_000) files.push(p);
        }
      };
      walk(join(alice.dir, 'Default', 'IndexedDB'));
      expect(files.length).toBeGreaterThan(0);
      const keyBytes = Buffer.from(keyPair ?? '', 'base64');
      for (const file of files) {
        const content = readFileSync(file);
        for (const text of ['Hello Bob', 'Hi Alice!', 'latency probe 3']) {
          expect(content.includes(Buffer.from(text, 'utf8'))).toBe(false);
          expect(content.includes(Buffer.from(text, 'utf16le'))).toBe(false);
        }
        expect(content.includes(keyBytes.subarray(keyBytes.length - 32))).toBe(false);
      }
    },
    SLOW,
  );

  it(
    'should render in Chinese, from the browser language and from the language setting',
    async () => {
      const zh = await launchProfile('zh', server.url, { locale: 'zh-CN', viewport: { width: 360, height: 740 } });
      try {
        await zh.page.getByTestId('register-button').filter({ hasText: '创建账户' }).waitFor({ timeout: UI_TIMEOUT });
        await expect(zh.page.locator('html').getAttribute('lang')).resolves.toBe('zh-CN');
        await screenshot(zh.page, '09-onboarding-zh-360px');
      } finally {
        await zh.close();
      }
      await alice.page.goto(`${server.url}/settings`);
      await alice.page.getByTestId('language-select').selectOption('zh-CN');
      await alice.page.getByRole('heading', { name: '设置' }).waitFor({ timeout: UI_TIMEOUT });
      await alice.page.goto(server.url);
      await openChat(alice.page, BOB);
      await alice.page
        .getByTestId('send-button')
        .and(alice.page.locator('[aria-label="发送"]'))
        .waitFor({ timeout: UI_TIMEOUT });
      await screenshot(alice.page, '10-chat-zh');
      await alice.page.goto(`${server.url}/settings`);
      await alice.page.getByTestId('language-select').selectOption('en');
      await alice.page.getByRole('heading', { name: 'Settings' }).waitFor({ timeout: UI_TIMEOUT });
    },
    SLOW,
  );

  it(
    'should have no serious accessibility violation on the main screens, from 360 px to desktop',
    async () => {
      const screens: [string, () => Promise<void>][] = [
        [
          'list',
          async () => {
            await alice.page.goto(server.url);
            await alice.page.getByTestId('conversation-item').first().waitFor({ timeout: UI_TIMEOUT });
          },
        ],
        ['chat', () => openChat(alice.page, BOB)],
        [
          'contact',
          async () => {
            await alice.page.locator('.chat-peer').click();
            await alice.page.getByTestId('safety-number').waitFor({ timeout: UI_TIMEOUT });
          },
        ],
        [
          'settings',
          async () => {
            await alice.page.goto(`${server.url}/settings`);
            await alice.page.getByTestId('language-select').waitFor({ timeout: UI_TIMEOUT });
          },
        ],
        [
          'new-chat',
          async () => {
            await alice.page.goto(server.url);
            await alice.page.getByTestId('new-chat-button').click();
            await alice.page.getByTestId('new-chat-username-input').waitFor({ timeout: UI_TIMEOUT });
          },
        ],
      ];
      const found: Record<string, unknown> = {};
      for (const width of [360, 1100]) {
        await alice.page.setViewportSize({ width, height: 760 });
        for (const [name, open] of screens) {
          await open();
          const violations = await seriousViolations(alice.page);
          if (violations.length > 0) found[`${name}@${width}`] = violations;
          if (width === 360 && name === 'chat') await screenshot(alice.page, '11-chat-360px');
          if (width === 360 && name === 'list') await screenshot(alice.page, '12-list-360px');
        }
      }
      const fresh = await launchProfile('axe', server.url);
      try {
        await fresh.page.getByTestId('username-input').waitFor({ timeout: UI_TIMEOUT });
        const violations = await seriousViolations(fresh.page);
        if (violations.length > 0) found.onboarding = violations;
      } finally {
        await fresh.close();
      }
      expect(found).toEqual({});
    },
    SLOW,
  );

  it(
    'should lock the local data behind a passphrase: unlock needed, and pushes notify without content meanwhile',
    async () => {
      const origin = server.url;
      await alice.page.setViewportSize({ width: 1100, height: 760 });
      await alice.page.goto(`${origin}/settings`);
      await alice.page.getByTestId('passphrase-input').fill('correct horse battery');
      await alice.page.getByTestId('passphrase-confirm-input').fill('correct horse battery');
      await alice.page.getByTestId('passphrase-submit').click();
      await alice.page.getByText('Passphrase set.').waitFor({ timeout: UI_TIMEOUT });
      const header = await alice.page.evaluate(
        () =>
          new Promise<Record<string, unknown>>((resolve, reject) => {
            const req = indexedDB.open('cove');
            req.onsuccess = () => {
              const get = req.result.transaction('meta').objectStore('meta').get('vault');
              get.onsuccess = () => resolve(get.result as Record<string, unknown>);
              get.onerror = () => reject(get.error ?? new Error('read failed'));
            };
          }),
      );
      expect(header.mode).toBe('passphrase');
      expect(header).not.toHaveProperty('key');

      // Closed app, locked vault: the worker cannot decrypt, so it says only that something arrived.
      await alice.context.newPage();
      await alice.page.close();
      await send(bob.page, 'While you were locked');
      await waitForStatus(bob.page, 'While you were locked', 'sent');
      const locked = await pushAndWaitForNotification(alice.context, origin, (n) => n.title === 'New message');
      expect(locked.body).toBe('Unlock Cove to read it.');

      alice.page = await alice.context.newPage();
      await alice.page.goto(origin);
      await alice.page.getByTestId('unlock-input').fill('wrong horse battery');
      await alice.page.getByTestId('unlock-button').click();
      await alice.page.getByText('That passphrase is not correct.').waitFor({ timeout: UI_TIMEOUT });
      await screenshot(alice.page, '13-locked');
      await alice.page.getByTestId('unlock-input').fill('correct horse battery');
      await alice.page.getByTestId('unlock-button').click();
      await openChat(alice.page, BOB);
      await messageWithText(alice.page, 'Hello Bob 👋').waitFor({ timeout: UI_TIMEOUT });
      await messageWithText(alice.page, 'While you were locked').waitFor({ timeout: UI_TIMEOUT });
      await waitForStatus(bob.page, 'While you were locked', 'read');
    },
    SLOW,
  );

  it(
    'should offer to reload when a new version is ready, and run the new version after the tap',
    async () => {
      const swPath = join(pwaCopy, 'sw.js');
      const original = readFileSync(swPath, 'utf8');
      // Any byte change to the worker script is a new version to the browser.
      writeFileSync(swPath, `${original}\n// release ${Date.now()}\n`);
      try {
        await alice.page.goto(server.url);
        await alice.page.evaluate(async () => {
          await (await navigator.serviceWorker.getRegistration('/'))?.update();
        });
        const toast = alice.page.getByTestId('update-toast');
        await toast.waitFor({ timeout: UI_TIMEOUT });
        await screenshot(alice.page, '14-update-ready');
        const reloaded = alice.page.waitForEvent('load', { timeout: UI_TIMEOUT });
        await toast.getByRole('button').click();
        await reloaded;
        // The app is back (locked again if the passphrase test ran before).
        await alice.page
          .locator('[data-testid="unlock-input"], [data-testid="conversation-item"]')
          .first()
          .waitFor({ timeout: UI_TIMEOUT });
        await expect(toast.count()).resolves.toBe(0);
        const scriptUrl = await alice.page.evaluate(
          async () => (await navigator.serviceWorker.getRegistration('/'))?.active?.scriptURL,
        );
        expect(scriptUrl).toBe(`${server.url}/sw.js`);
      } finally {
        writeFileSync(swPath, original);
      }
    },
    SLOW,
  );
});
