/**
 * The engine driver for Debian's Firefox ESR through puppeteer-core over WebDriver BiDi: a fresh profile
 * directory per launch (with the language preference when asked), headless, service workers and notifications
 * allowed by preference. Network loss is emulated by puppeteer's offline mode where the BiDi protocol offers it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import puppeteer, { type ElementHandle, type Page } from 'puppeteer-core';

import {
  consoleLog,
  pageExpression,
  type EngineDriver,
  type EngineProfile,
  type EngineTab,
  type PageFunction,
} from './engine-driver.js';

const FIREFOX = '/usr/bin/firefox-esr';

function tabOf(page: Page): EngineTab {
  return {
    goto: async (url) => {
      await page.goto(url);
    },
    reload: async () => {
      await page.reload();
    },
    url: () => Promise.resolve(page.url()),
    // A tab in the background gets no animation frames, and puppeteer's locators wait for two frames of a stable
    // box before acting: with a second tab open, a click in the first hung until its 30 s timeout. Act on the front.
    click: async (selector) => {
      await page.bringToFront();
      await page.locator(selector).click();
    },
    fill: async (selector, text) => {
      await page.bringToFront();
      await page.locator(selector).fill(text);
    },
    upload: async (selector, path) => {
      const input = await page.waitForSelector(selector);
      if (!input) throw new Error(`no ${selector}`);
      await (input as ElementHandle<HTMLInputElement>).uploadFile(path);
    },
    pressEnter: async (selector) => {
      await page.focus(selector);
      await page.keyboard.press('Enter');
    },
    evaluate: <A extends unknown[], R>(fn: PageFunction<A, R>, ...args: A) =>
      page.evaluate(pageExpression(fn, args)) as Promise<R>,
    screenshot: async (path) => {
      await page.screenshot({ path });
    },
    close: () => page.close(),
  };
}

export const firefoxDriver: EngineDriver = {
  engine: 'firefox',
  async launch(name, options = {}): Promise<EngineProfile> {
    const dir = mkdtempSync(join(tmpdir(), `cove-engines-firefox-${name}-`));
    const browser = await puppeteer.launch({
      browser: 'firefox',
      executablePath: FIREFOX,
      headless: true,
      userDataDir: dir,
      defaultViewport: { width: 1100, height: 760 },
      extraPrefsFirefox: {
        'intl.accept_languages': options.locale ?? 'en-US',
        'permissions.default.desktop-notification': 1,
        'dom.serviceWorkers.enabled': true,
        'dom.serviceWorkers.testing.enabled': true,
        // A fake microphone (a generated tone) that needs no permission prompt, for voice notes.
        'media.navigator.streams.fake': true,
        'media.navigator.permission.disabled': true,
      },
    });
    const log = consoleLog('firefox');
    const watch = (p: Page): void => {
      p.on('console', (message) => log(`${name} ${message.type()} ${message.text()}`));
      p.on('pageerror', (error) => log(`${name} pageerror ${error instanceof Error ? error.message : String(error)}`));
    };
    const page = (await browser.pages())[0] ?? (await browser.newPage());
    watch(page);
    const pages = [page];
    return {
      engine: 'firefox',
      name,
      tab: tabOf(page),
      async newTab(url) {
        const next = await browser.newPage();
        watch(next);
        pages.push(next);
        await next.goto(url);
        return tabOf(next);
      },
      offline: {
        async set(offline: boolean) {
          for (const p of pages) if (!p.isClosed()) await p.setOfflineMode(offline);
        },
      },
      async close() {
        await browser.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
