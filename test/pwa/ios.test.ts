/**
 * iOS specifics (issue 18), in Debian's Chromium against the real server: an iPhone's Safari is emulated by its
 * user agent at 390×844 (no home-screen display mode), which is all a page in a Safari tab can tell. There the
 * PWA shows the install banner (why: Safari's seven-day deletion of the data, and notifications) with the steps,
 * in English and in Chinese, and never offers the notification permission — although Chromium exposes
 * PushManager, push is offered on iOS only after installation. The same iPhone opened from the home screen
 * (`navigator.standalone`) shows no banner. The home-screen metadata is served: `apple-touch-icon` (a real 180×180
 * PNG), the `apple-mobile-web-app-*` metas, `viewport-fit=cover`, and the manifest's icons at their stated sizes.
 * Layout at 390 px wide must not scroll sideways with the banner shown. Safe areas are emulated with Chromium's
 * safe-area override (an iPhone's notch, home indicator and landscape sides): no control of the chat list or the
 * chat lies under them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

import {
  RESULTS,
  UI_TIMEOUT,
  buildPwaIfStale,
  startServer,
  takeCspViolations,
  type TestServer,
} from './support/harness.js';

const SLOW = 240_000;
/** Registration draws keys and uploads prekeys: over a minute when several browser suites share the 2 cores. */
const REGISTER_TIMEOUT = 180_000;
/** Safari on an iPhone (iOS 18); Apple gives the page no other sign of the platform than this. */
const IPHONE_SAFARI =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1';
const suffix = Math.random().toString(36).slice(2, 7);

let server: TestServer;
const opened: { context: BrowserContext; dir: string }[] = [];

beforeAll(async () => {
  buildPwaIfStale();
  server = await startServer();
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  for (const { context, dir } of opened) {
    await context.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  await server?.close();
}, SLOW);

/** An iPhone-sized Chromium profile with Safari's user agent; `standalone` makes it the home-screen app. */
async function iphone(options: { locale?: string; standalone?: boolean } = {}): Promise<Page> {
  const dir = mkdtempSync(join(tmpdir(), 'cove-ios-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    userAgent: IPHONE_SAFARI,
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 3,
    isMobile: true,
    hasTouch: true,
    locale: options.locale ?? 'en-US',
    serviceWorkers: 'allow',
  });
  opened.push({ context, dir });
  if (options.standalone)
    await context.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'standalone', { get: () => true, configurable: true });
    });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(server.url);
  return page;
}

/** An iPhone 14's safe-area insets in CSS pixels: the notch and the home indicator upright, the sides on its side. */
const PORTRAIT_INSETS = { top: 47, bottom: 34, left: 0, right: 0 };
const LANDSCAPE_INSETS = { top: 0, bottom: 21, left: 47, right: 47 };

/** Makes the page report these safe-area insets to `env(safe-area-inset-*)`, as the phone would. */
async function setSafeArea(page: Page, insets: typeof PORTRAIT_INSETS): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  // Not in playwright-core's protocol types yet; Chromium 136 and later have it.
  await cdp.send('Emulation.setSafeAreaInsetsOverride' as never, { insets } as never);
}

/**
 * Every visible control (buttons, inputs, links, text areas) whose box reaches into an inset, as "testid-or-label:
 * edge"; empty when all keep clear.
 */
function controlsUnderInsets(page: Page, insets: typeof PORTRAIT_INSETS): Promise<string[]> {
  return page.evaluate((i) => {
    const found: string[] = [];
    const { innerWidth: w, innerHeight: h } = window;
    for (const el of document.querySelectorAll<HTMLElement>('button, input, textarea, select, a[href]')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || getComputedStyle(el).visibility === 'hidden') continue;
      const name = el.dataset.testid ?? el.getAttribute('aria-label') ?? el.tagName;
      if (r.top < i.top) found.push(`${name}: top ${r.top}`);
      if (r.bottom > h - i.bottom) found.push(`${name}: bottom ${r.bottom}`);
      if (r.left < i.left) found.push(`${name}: left ${r.left}`);
      if (r.right > w - i.right) found.push(`${name}: right ${r.right}`);
    }
    return found;
  }, insets);
}

/** PNG width and height from the IHDR chunk, after checking the signature. */
function pngSize(bytes: Uint8Array): { width: number; height: number } {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  expect([...bytes.subarray(0, 8)]).toEqual(signature);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

describe('Cove on an iPhone, in Safari and from the home screen', () => {
  it(
    'should show the install banner and steps in a Safari tab, and offer no notification permission anywhere',
    async () => {
      const page = await iphone();
      const banner = page.getByTestId('install-banner');
      await banner.waitFor({ timeout: UI_TIMEOUT });
      await expect(banner.textContent()).resolves.toContain('7 days');
      await expect(banner.getByTestId('install-steps').textContent()).resolves.toContain('Add to Home Screen');
      // Nothing scrolls sideways at 390 px with the banner in place.
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await page.screenshot({ path: join(RESULTS, 'ios-install-banner.png') });

      await page.getByTestId('username-input').fill(`iphone_${suffix}`);
      await page.getByTestId('register-button').click();
      const welcome = page.getByTestId('welcome-done');
      await welcome.waitFor({ timeout: REGISTER_TIMEOUT });
      const reason = page.locator('[data-testid="push-unavailable"]');
      await expect(reason.getAttribute('data-reason')).resolves.toBe('needs-home-screen');
      await expect(reason.textContent()).resolves.toContain('Notifications need Cove on your home screen');
      await welcome.click();
      await page.getByTestId('new-chat-button').waitFor({ timeout: UI_TIMEOUT });
      await page.getByTestId('install-banner').waitFor({ timeout: UI_TIMEOUT });

      await page.getByTestId('settings-button').click();
      await page.getByTestId('previews-toggle').waitFor({ timeout: UI_TIMEOUT });
      await expect(page.locator('[data-testid="push-unavailable"]').getAttribute('data-reason')).resolves.toBe(
        'needs-home-screen',
      );
      expect(await page.getByText('Notification permission').count()).toBe(0);
      // The page never asked: the permission is still undecided.
      expect(await page.evaluate(() => Notification.permission)).toBe('default');

      // "Not now" hides the banner.
      await page.goto(server.url);
      await page.getByTestId('install-banner').getByRole('button').click();
      await page.getByTestId('install-banner').waitFor({ state: 'detached', timeout: UI_TIMEOUT });
    },
    SLOW,
  );

  it(
    'should explain the install in Chinese',
    async () => {
      const page = await iphone({ locale: 'zh-CN' });
      const banner = page.getByTestId('install-banner');
      await banner.waitFor({ timeout: UI_TIMEOUT });
      await expect(banner.textContent()).resolves.toContain('7 天');
      await expect(banner.textContent()).resolves.toContain('添加到主屏幕');
    },
    SLOW,
  );

  it(
    'should show no banner when opened from the home screen',
    async () => {
      const page = await iphone({ standalone: true });
      await page.getByTestId('username-input').waitFor({ timeout: UI_TIMEOUT });
      expect(await page.evaluate(() => (navigator as Navigator & { standalone?: boolean }).standalone)).toBe(true);
      expect(await page.getByTestId('install-banner').count()).toBe(0);
    },
    SLOW,
  );

  it(
    'should keep every control of the list and the chat clear of the notch, the home indicator and the sides',
    async () => {
      const page = await iphone({ standalone: true });
      await setSafeArea(page, PORTRAIT_INSETS);
      await page.getByTestId('username-input').fill(`notch_${suffix}`);
      await page.getByTestId('register-button').click();
      await page.getByTestId('welcome-done').waitFor({ timeout: REGISTER_TIMEOUT });
      await page.getByTestId('welcome-done').click();
      await page.getByTestId('new-chat-button').waitFor({ timeout: UI_TIMEOUT });
      expect(await controlsUnderInsets(page, PORTRAIT_INSETS)).toEqual([]);

      await page.getByTestId('new-chat-button').click();
      // A chat with the account the first scenario registered (a chat with oneself is refused).
      await page.getByTestId('new-chat-username-input').fill(`iphone_${suffix}`);
      await page.getByTestId('new-chat-start-button').click();
      await page.getByTestId('message-input').waitFor({ timeout: UI_TIMEOUT });
      expect(await controlsUnderInsets(page, PORTRAIT_INSETS)).toEqual([]);
      // The composer sits above the home indicator, not merely inside the viewport.
      const composerBottom = await page
        .getByTestId('message-input')
        .evaluate((el) => el.getBoundingClientRect().bottom);
      expect(composerBottom).toBeLessThanOrEqual(844 - PORTRAIT_INSETS.bottom);
      await page.screenshot({ path: join(RESULTS, 'ios-safe-area-portrait.png') });

      await page.setViewportSize({ width: 844, height: 390 });
      await setSafeArea(page, LANDSCAPE_INSETS);
      expect(await controlsUnderInsets(page, LANDSCAPE_INSETS)).toEqual([]);
      await page.screenshot({ path: join(RESULTS, 'ios-safe-area-landscape.png') });
    },
    SLOW,
  );

  it(
    'should serve the home-screen icon, the apple-mobile-web-app metas and a manifest whose icons match their sizes',
    async () => {
      const html = await (await fetch(server.url)).text();
      expect(html).toMatch(/<meta name="viewport" content="[^"]*viewport-fit=cover/);
      expect(html).toContain('<meta name="apple-mobile-web-app-capable" content="yes"');
      expect(html).toContain('<meta name="apple-mobile-web-app-status-bar-style" content="default"');
      expect(html).toContain('<meta name="apple-mobile-web-app-title" content="Cove"');
      const touch = /<link rel="apple-touch-icon" href="([^"]+)"/.exec(html)?.[1];
      expect(touch).toBe('/icons/apple-touch-icon.png');
      const icon = await fetch(new URL(touch ?? '', server.url));
      expect(icon.status).toBe(200);
      expect(icon.headers.get('content-type')).toMatch(/^image\/png/);
      expect(pngSize(new Uint8Array(await icon.arrayBuffer()))).toEqual({ width: 180, height: 180 });

      const manifestHref = /<link rel="manifest" href="([^"]+)"/.exec(html)?.[1] ?? '/manifest.webmanifest';
      const manifest = (await (await fetch(new URL(manifestHref, server.url))).json()) as {
        display: string;
        icons: { src: string; sizes: string; type: string }[];
      };
      expect(manifest.display).toBe('standalone');
      expect(manifest.icons.length).toBeGreaterThan(0);
      for (const entry of manifest.icons) {
        const response = await fetch(new URL(entry.src, server.url));
        expect(response.status).toBe(200);
        const { width, height } = pngSize(new Uint8Array(await response.arrayBuffer()));
        expect(entry.sizes).toBe(`${width}x${height}`);
      }
    },
    SLOW,
  );
});
