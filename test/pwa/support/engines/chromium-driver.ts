/**
 * The engine driver for Debian's Chromium through playwright-core (CDP), as the Chromium-only suite launches it:
 * a persistent context per profile in a fresh directory, service workers allowed, notifications granted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { chromium, type Page } from 'playwright-core';

import {
  consoleLog,
  pageExpression,
  type EngineDriver,
  type EngineProfile,
  type EngineTab,
  type PageFunction,
} from './engine-driver.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  // A fake microphone (a generated beep) granted without a prompt, for voice notes.
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
];

function tabOf(page: Page): EngineTab {
  return {
    goto: async (url) => {
      await page.goto(url);
    },
    reload: async () => {
      await page.reload();
    },
    url: () => Promise.resolve(page.url()),
    click: (selector) => page.locator(selector).first().click(),
    fill: (selector, text) => page.locator(selector).first().fill(text),
    upload: (selector, path) => page.locator(selector).first().setInputFiles(path),
    pressEnter: (selector) => page.locator(selector).first().press('Enter'),
    evaluate: <A extends unknown[], R>(fn: PageFunction<A, R>, ...args: A) =>
      page.evaluate<R>(pageExpression(fn, args)),
    screenshot: async (path) => {
      await page.screenshot({ path });
    },
    close: () => page.close(),
  };
}

export const chromiumDriver: EngineDriver = {
  engine: 'chromium',
  async launch(name, options = {}): Promise<EngineProfile> {
    const dir = mkdtempSync(join(tmpdir(), `cove-engines-chromium-${name}-`));
    const context = await chromium.launchPersistentContext(dir, {
      executablePath: CHROMIUM,
      headless: true,
      args: [...ARGS, ...(options.locale ? [`--lang=${options.locale}`] : [])],
      viewport: { width: 1100, height: 760 },
      locale: options.locale ?? 'en-US',
      serviceWorkers: 'allow',
    });
    const log = consoleLog('chromium');
    context.on('console', (message) => log(`${name} ${message.type()} ${message.text()}`));
    context.on('weberror', (error) => log(`${name} pageerror ${error.error().message}`));
    const page = context.pages()[0] ?? (await context.newPage());
    return {
      engine: 'chromium',
      name,
      tab: tabOf(page),
      async newTab(url) {
        const next = await context.newPage();
        await next.goto(url);
        return tabOf(next);
      },
      offline: { set: (offline: boolean) => context.setOffline(offline) },
      async close() {
        await context.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
