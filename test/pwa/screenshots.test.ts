/**
 * Screenshots of the main screens for review, with axe on each: onboarding, the chat list, a chat with messages, the
 * contact's safety number and the settings, at 390×844 and 1280×800, light and dark (the system setting, emulated),
 * in English, and the chat in Chinese too. One browser profile and one registration; the peer is a `cove` CLI
 * account. The images go to test-results/screenshots/<screen>-<width>x<height>-<scheme>-<language>.png (git-ignored).
 */
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';

import {
  ROOT,
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
  messageWithText,
  openChat,
  register,
  send,
  startServer,
  takeCspViolations,
  type Profile,
  type TestServer,
} from './support/harness.js';
import { seriousViolations, type AxeViolation } from './support/inspect.js';
import { cove, ensureCliBuilt } from '../support/cli.js';

const SLOW = 400_000;
const OUT = join(ROOT, 'test-results/screenshots');
const suffix = Math.random().toString(36).slice(2, 7);
const ALICE = `shot_alice_${suffix}`;
const CAROL = `shot_carol_${suffix}`;
const SIZES = [
  { width: 390, height: 844 },
  { width: 1280, height: 800 },
] as const;
const SCHEMES = ['light', 'dark'] as const;

let server: TestServer;
let alice: Profile;
let root = '';

beforeAll(async () => {
  buildPwaIfStale();
  await ensureCliBuilt();
  server = await startServer();
  root = await mkdtemp(join(tmpdir(), 'cove-screenshots-'));
  mkdirSync(OUT, { recursive: true });
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  await alice?.close();
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
}, SLOW);

/**
 * Shoots the current screen at every size and colour scheme, after `ready` says it is drawn at that size; returns the
 * serious axe violations found, labelled by shot.
 */
async function shoot(page: Page, screen: string, language: string, ready: () => Promise<unknown>): Promise<string[]> {
  const found: string[] = [];
  for (const size of SIZES) {
    await page.setViewportSize(size);
    for (const colorScheme of SCHEMES) {
      await page.emulateMedia({ colorScheme });
      await ready();
      // Let layout and the colour change settle (no animation is waited for beyond a frame).
      await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
      const name = `${screen}-${size.width}x${size.height}-${colorScheme}-${language}`;
      await page.screenshot({ path: join(OUT, `${name}.png`) });
      const violations: AxeViolation[] = await seriousViolations(page);
      found.push(...violations.map((v) => `${name}: ${v.id} ${v.nodes.join(', ')}`));
    }
  }
  return found;
}

describe('Screenshots of the main screens', () => {
  it(
    'should render onboarding, list, chat, safety number and settings at both sizes in light and dark',
    async () => {
      alice = await launchProfile('shots-alice', server.url, { viewport: SIZES[0] });
      const violations: string[] = [];
      const page = alice.page;
      violations.push(
        ...(await shoot(page, 'onboarding', 'en', () =>
          page.getByTestId('username-input').waitFor({ timeout: UI_TIMEOUT }),
        )),
      );

      await register(page, ALICE);
      const carol = join(root, 'carol');
      expect((await cove(carol, ['register', '--server', server.url, '--username', CAROL])).code).toBe(0);
      expect((await cove(carol, ['send', ALICE, 'Hi Alice! Are we still on for lunch tomorrow? 🍜'])).code).toBe(0);
      expect((await cove(carol, ['send', ALICE, '你好！明天一起吃午饭吗？'])).code).toBe(0);
      await openChat(page, CAROL);
      await send(page, 'Yes! 12:30 at the usual place.');
      await messageWithText(page, 'Yes! 12:30 at the usual place.').waitFor({ timeout: UI_TIMEOUT });
      const chatPath = new URL(page.url()).pathname;

      const atList = async () => {
        if (new URL(page.url()).pathname !== '/') await page.goto(server.url);
        await page.getByTestId('conversation-item').first().waitFor({ timeout: UI_TIMEOUT });
      };
      const atChat = async () => {
        if (new URL(page.url()).pathname !== chatPath) await page.goto(`${server.url}${chatPath}`);
        await messageWithText(page, 'Yes! 12:30 at the usual place.').waitFor({ timeout: UI_TIMEOUT });
      };
      const atContact = async () => {
        if (new URL(page.url()).pathname !== `${chatPath}/contact`) await page.goto(`${server.url}${chatPath}/contact`);
        await page.getByTestId('safety-number').waitFor({ timeout: UI_TIMEOUT });
      };
      const atSettings = async () => {
        if (new URL(page.url()).pathname !== '/settings') await page.goto(`${server.url}/settings`);
        await page.getByTestId('theme-choice').waitFor({ timeout: UI_TIMEOUT });
      };
      violations.push(...(await shoot(page, 'list', 'en', atList)));
      violations.push(...(await shoot(page, 'chat', 'en', atChat)));
      violations.push(...(await shoot(page, 'contact', 'en', atContact)));
      violations.push(...(await shoot(page, 'settings', 'en', atSettings)));

      // The chat in Chinese: the language setting, then the same conversation.
      await page.setViewportSize(SIZES[1]);
      await atSettings();
      await page.getByTestId('language-select').selectOption('zh-CN');
      await page.waitForFunction(() => document.documentElement.lang === 'zh-CN', undefined, { timeout: UI_TIMEOUT });
      violations.push(...(await shoot(page, 'chat', 'zh', atChat)));
      expect(violations).toEqual([]);
    },
    SLOW,
  );
});
