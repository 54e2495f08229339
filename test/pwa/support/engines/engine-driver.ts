/**
 * One small driver interface for the cross-engine browser suite, so a scenario is written once and run in
 * Chromium (playwright-core), Firefox ESR (puppeteer-core over WebDriver BiDi) and WebKitGTK (WebKitWebDriver,
 * W3C WebDriver classic): a profile is one browser with a fresh profile directory; a tab opens pages, clicks,
 * types and evaluates. Waiting is done here once, by polling `evaluate`, so every engine waits the same way. It
 * asserts nothing and knows nothing about Cove beyond `data-testid` selectors.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type EngineName = 'chromium' | 'firefox' | 'webkit';

export type LaunchOptions = {
  /** Browser language (`navigator.languages[0]`), e.g. 'zh-CN'. */
  locale?: string;
};

/** A function run in the page; it must be self-contained (it is sent as source text). */
export type PageFunction<A extends unknown[], R> = (...args: A) => R | Promise<R>;

export interface EngineTab {
  goto(url: string): Promise<void>;
  reload(): Promise<void>;
  url(): Promise<string>;
  /** Clicks the first element matching the CSS selector, as a user would (the engine's own input events). */
  click(selector: string): Promise<void>;
  /** Replaces the text of the input matching the selector by typing `text`. */
  fill(selector: string, text: string): Promise<void>;
  /** Chooses the file at `path` (on this machine) in the `<input type="file">` matching the selector, as a file picker does. */
  upload(selector: string, path: string): Promise<void>;
  /** Presses Enter in the element matching the selector. */
  pressEnter(selector: string): Promise<void>;
  evaluate<A extends unknown[], R>(fn: PageFunction<A, R>, ...args: A): Promise<R>;
  screenshot(path: string): Promise<void>;
  close(): Promise<void>;
}

export interface EngineProfile {
  readonly engine: EngineName;
  readonly name: string;
  /** The first tab, opened at launch. */
  readonly tab: EngineTab;
  /** Another tab of the same profile (same storage, same service worker). */
  newTab(url: string): Promise<EngineTab>;
  /** `{ unsupported }` where the driver cannot emulate a network loss in this engine, with the reason. */
  readonly offline: { set(offline: boolean): Promise<void> } | { unsupported: string };
  close(): Promise<void>;
}

export interface EngineDriver {
  readonly engine: EngineName;
  launch(name: string, options?: LaunchOptions): Promise<EngineProfile>;
}

/**
 * The expression that calls `fn` with `args` in the page: sent as source, so no `eval` runs in the page (its CSP
 * forbids it) and the arguments travel as JSON.
 */
export function pageExpression(fn: (...args: never[]) => unknown, args: readonly unknown[]): string {
  return `(${fn.toString()})(...${JSON.stringify(args)})`;
}

/** Generous: the machine is shared by several suites and three browsers. */
export const WAIT_TIMEOUT_MS = 60_000;
/** One poll that takes longer than this counts as failed (a hung page); the wait goes on until its deadline. */
const EVALUATE_TIMEOUT_MS = 10_000;
/** Between two polls of the page: quick enough not to slow the scenarios, slow enough not to load the engine. */
const POLL_MS = 100;

export const byTestId = (testId: string, extra = ''): string => `[data-testid="${testId}"]${extra}`;

/** Where each engine's browser console goes, one file per engine, to explain a failure. */
const CONSOLE_DIR = fileURLToPath(new URL('../../../../test-results/pwa/', import.meta.url));

/** Appends console lines of `engine`'s pages and workers to test-results/pwa/engines-<engine>-console.log. */
export function consoleLog(engine: EngineName): (line: string) => void {
  mkdirSync(CONSOLE_DIR, { recursive: true });
  const file = join(CONSOLE_DIR, `engines-${engine}-console.log`);
  return (line) => appendFileSync(file, `${new Date().toISOString()} ${line.trimEnd()}\n`);
}

/** With ENGINES_TRACE=<file>, every wait is logged there as it starts, to see where a scenario stands. */
export function trace(line: string): void {
  const file = process.env.ENGINES_TRACE;
  if (file) appendFileSync(file, `${new Date().toISOString()} ${line}\n`);
}

/** Polls `fn` in the page until it returns a truthy value, which is returned; fails with `what` after the timeout. */
export async function waitUntil<A extends unknown[], R>(
  tab: EngineTab,
  what: string,
  fn: PageFunction<A, R>,
  ...args: A
): Promise<NonNullable<R>> {
  trace(`wait ${what}`);
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  let lastError: string | null = null;
  for (;;) {
    try {
      const value = await Promise.race([
        tab.evaluate(fn, ...args),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('the page did not answer')), EVALUATE_TIMEOUT_MS),
        ),
      ]);
      if (value) return value;
    } catch (error) {
      // A navigation in progress destroys the context; try again.
      lastError = error instanceof Error ? error.message : String(error);
    }
    if (Date.now() > deadline) {
      const shot = process.env.ENGINES_TRACE ? `${process.env.ENGINES_TRACE}-${Date.now()}.png` : null;
      if (shot) await tab.screenshot(shot).catch(() => undefined);
      const state = await pageState(tab);
      trace(`timeout ${what}${shot ? ` (${shot})` : ''}: ${state}`);
      throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${lastError})` : ''}; page: ${state}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * What the page looked like when a wait gave up, for the error message: its path, load state, the Web Locks held
 * and waited for in its origin (a lock held by a context that never releases it stalls every waiter), and the
 * first 120 characters of its text (the suite's own test data).
 */
async function pageState(tab: EngineTab): Promise<string> {
  const state = tab.evaluate(async () => {
    const locks = (await navigator.locks?.query?.()) ?? {};
    const names = (list?: LockInfo[]) => (list ?? []).map((l) => `${l.name ?? '?'}:${l.mode ?? '?'}`).join(',');
    return JSON.stringify({
      path: location.pathname,
      ready: document.readyState,
      held: names(locks.held),
      pending: names(locks.pending),
      text: (document.body?.innerText ?? '').slice(0, 120),
    });
  });
  return Promise.race([
    state,
    new Promise<string>((resolve) => setTimeout(() => resolve('(the page did not answer)'), EVALUATE_TIMEOUT_MS)),
  ]).catch((error: unknown) => `(unreadable: ${error instanceof Error ? error.message : String(error)})`);
}

/** Waits for an element matching `selector` (whose text contains `text`, if given) and returns its text. */
export function waitForSelector(tab: EngineTab, selector: string, text?: string): Promise<string> {
  return waitUntil(
    tab,
    `${selector}${text === undefined ? '' : ` with text "${text}"`}`,
    (s: string, t: string | null) => {
      for (const el of document.querySelectorAll(s)) {
        const content = el.textContent ?? '';
        if (t === null || content.includes(t)) return content || ' ';
      }
      return null;
    },
    selector,
    text ?? null,
  );
}

/** Waits until nothing matches `selector`. */
export async function waitForGone(tab: EngineTab, selector: string): Promise<void> {
  await waitUntil(tab, `no ${selector}`, (s: string) => document.querySelector(s) === null, selector);
}

/** Sets a `<select>`'s value the way a user's choice does (React listens to `change`). */
export async function selectOption(tab: EngineTab, selector: string, value: string): Promise<void> {
  await waitForSelector(tab, selector);
  await tab.evaluate(
    (s: string, v: string) => {
      const select = document.querySelector(s) as HTMLSelectElement;
      select.value = v;
      select.dispatchEvent(new Event('change', { bubbles: true }));
    },
    selector,
    value,
  );
}
