/**
 * Browser test harness for the PWA: builds the app when its sources changed, runs the real API server in-process
 * on a fresh PostgreSQL database (a clone of the migrated template) serving the built PWA on the same origin, and
 * launches Chromium profiles (Debian's /usr/bin/chromium through playwright-core, a fresh user-data directory each)
 * with helpers that drive the UI through its `data-testid` hooks. It asserts nothing itself, but records every
 * Content-Security-Policy violation of every page, frame and worker it opens (`securitypolicyviolation` events, the
 * console's CSP errors, and the reports browsers send to the server's `report-uri`, which workers send too) for tests
 * to fail on.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import pg from 'pg';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

import { createApp, type RunningApp } from '../../../apps/api/src/app.js';
import { createTestDatabase, databaseUrl, dropTestDatabase } from '../../../apps/api/test/support/template-database.js';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PWA = join(ROOT, 'apps/pwa');
export const RESULTS = join(ROOT, 'test-results/pwa');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist') continue;
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** How long a build lock may be held before it is taken for abandoned (a killed test run): builds take ~20 s. */
const BUILD_LOCK_STALE_MS = 180_000;

function pwaIsStale(): boolean {
  let built: number;
  try {
    built = statSync(join(PWA, 'dist/index.html')).mtimeMs;
  } catch {
    built = 0;
  }
  const sources = Math.max(
    newestMtime(join(PWA, 'src')),
    newestMtime(join(PWA, 'public')),
    statSync(join(PWA, 'vite.config.ts')).mtimeMs,
    ...['crypto', 'protocol', 'client'].map((p) => newestMtime(join(ROOT, 'packages', p, 'src'))),
  );
  return built <= sources;
}

/**
 * Runs `vite build` unless apps/pwa/dist is newer than every source it is built from. Test files run in parallel
 * workers, so the build holds a lock directory: the others wait for it and then find the build fresh, instead of
 * racing one another (and serving a half-written dist).
 */
export function buildPwaIfStale(): void {
  if (!pwaIsStale()) return;
  const lock = join(PWA, '.build-lock');
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      try {
        if (Date.now() - statSync(lock).mtimeMs > BUILD_LOCK_STALE_MS) rmSync(lock, { recursive: true, force: true });
      } catch {
        // Released meanwhile: try again.
      }
      Atomics.wait(pause, 0, 0, 250);
    }
  }
  try {
    if (!pwaIsStale()) return;
    // Jest sets NODE_ENV=test, which would make Vite bundle React's development build.
    execFileSync(join(ROOT, 'node_modules/.bin/vite'), ['build', '--logLevel', 'warn'], {
      cwd: PWA,
      stdio: 'inherit',
      env: { ...process.env, NODE_ENV: 'production' },
    });
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** CSP violations seen since the last `takeCspViolations()`, one line each (where, directive, what was blocked). */
const cspViolations: string[] = [];

/** Returns and forgets the CSP violations recorded so far; a test fails if this is not empty. */
export function takeCspViolations(): string[] {
  return cspViolations.splice(0);
}

/** Receives the CSP reports browsers POST to `report-uri` (from pages and from workers alike). */
async function startCspReportCollector(): Promise<{ uri: string; close(): Promise<void> }> {
  const collector = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      try {
        const report = (JSON.parse(body) as { 'csp-report'?: Record<string, unknown> })['csp-report'] ?? {};
        const where = String(report['document-uri']);
        cspViolations.push(
          `report ${where}: ${String(report['effective-directive'])} blocked ${String(report['blocked-uri'])}`,
        );
      } catch {
        cspViolations.push(`report (unreadable): ${body.slice(0, 200)}`);
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  return {
    uri: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/csp`,
    close: () => new Promise<void>((resolve) => collector.close(() => resolve())),
  };
}

export type TestServer = {
  url: string;
  /** Stops the server (its sockets close, its port answers nothing) and keeps its database and data for `resume`. */
  pause(): Promise<void>;
  /** Starts the server again on the same port, database and data directory. */
  resume(): Promise<void>;
  /** The server's DATA_DIR (attachment ciphertext lives under `attachments/`). */
  dataDir: string;
  /** Runs one SQL query on the server's database (what the server stores, as an operator would read it). */
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
};

/** Starts the API (and PWA) on a random port over a fresh database that is dropped on close. */
export async function startServer(extraEnv: Record<string, string> = {}): Promise<TestServer> {
  buildPwaIfStale();
  // A clone of the migrated template (the server still checks its migrations at start; see template-database.ts).
  const name = await createTestDatabase({ prefix: 'cove_test_pwa' });
  const dataDir = mkdtempSync(join(tmpdir(), 'cove-pwa-data-'));
  const reports = await startCspReportCollector();
  const env = (port: number): Record<string, string> => ({
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: databaseUrl(name),
    DATA_DIR: dataDir,
    PWA_DIR: join(PWA, 'dist'),
    LOG_LEVEL: 'warn',
    RATE_LIMITS: 'false',
    VAPID_SUBJECT: 'mailto:ops@cove.test',
    METRICS_PORT: '0',
    CSP_REPORT_URI: reports.uri,
    ...extraEnv,
  });
  let running: RunningApp | null;
  try {
    running = await createApp({ env: env(0) });
  } catch (error) {
    await reports.close();
    await dropTestDatabase(name);
    throw error;
  }
  // The service worker and WebSocket need a secure context: localhost counts, 127.0.0.1 does too in Chromium.
  const url = running.url.replace('127.0.0.1', 'localhost');
  const port = running.port;
  return {
    url,
    pause: async () => {
      await running?.close();
      running = null;
    },
    resume: async () => {
      running ??= await createApp({ env: env(port) });
    },
    dataDir,
    query: async <T>(sql: string, params: unknown[] = []): Promise<T[]> => {
      const client = new pg.Client({ connectionString: databaseUrl(name) });
      await client.connect();
      try {
        return (await client.query(sql, params)).rows as T[];
      } finally {
        await client.end();
      }
    },
    close: async () => {
      await running?.close();
      await reports.close();
      await dropTestDatabase(name);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export type Profile = {
  name: string;
  context: BrowserContext;
  page: Page;
  dir: string;
  close(): Promise<void>;
};

/** What to set up on a profile's browser before it opens the app (init scripts, request listeners). */
export type BeforeOpen = (context: BrowserContext) => Promise<unknown>;

/** Quits the profile's browser and starts it again on the same user-data directory (a cold start). */
export async function restartProfile(profile: Profile, url: string, beforeOpen?: BeforeOpen): Promise<Profile> {
  await profile.context.close();
  return launchProfile(profile.name, url, { dir: profile.dir, ...(beforeOpen ? { beforeOpen } : {}) });
}

/** Launches a Chromium profile with its own user-data directory and opens the app. */
export async function launchProfile(
  name: string,
  url: string,
  options: {
    locale?: string;
    viewport?: { width: number; height: number };
    dir?: string;
    args?: string[];
    beforeOpen?: BeforeOpen;
  } = {},
): Promise<Profile> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), `cove-pwa-${name}-`));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.locale ? [`--lang=${options.locale}`] : []), ...(options.args ?? [])],
    viewport: options.viewport ?? { width: 1100, height: 760 },
    locale: options.locale ?? 'en-US',
    serviceWorkers: 'allow',
  });
  await context.grantPermissions(['notifications'], { origin: url });
  // Browser-side warnings and errors go to a log next to the screenshots, to explain a failure.
  mkdirSync(RESULTS, { recursive: true });
  const log = join(RESULTS, `${name}-console.log`);
  context.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning')
      appendFileSync(log, `${new Date().toISOString()} ${message.type()} ${message.text()}\n`);
  });
  context.on('weberror', (error) =>
    appendFileSync(log, `${new Date().toISOString()} pageerror ${error.error().message}\n`),
  );
  await watchCsp(context, name);
  await options.beforeOpen?.(context);
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(url);
  return {
    name,
    context,
    page,
    dir,
    close: async () => {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Records the CSP violations of every document of the context (an init script listens for
 * `securitypolicyviolation` before any page script runs) and every CSP error the console shows, pages and
 * workers alike. Violations inside workers also reach the report collector.
 */
async function watchCsp(context: BrowserContext, profile: string): Promise<void> {
  await context.exposeBinding('__coveCspViolation', ({ frame }, line: string) => {
    cspViolations.push(`${profile} ${frame.url()}: ${line}`);
  });
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (event) => {
      const where = `${event.sourceFile}:${event.lineNumber}`;
      (globalThis as unknown as { __coveCspViolation?: (line: string) => void }).__coveCspViolation?.(
        `${event.effectiveDirective} blocked ${event.blockedURI || 'inline'} (${where})`,
      );
    });
  });
  context.on('console', (message) => {
    if (/Content[- ]Security[- ]Policy/i.test(message.text())) {
      const where = message.worker()?.url() ?? message.page()?.url() ?? '?';
      cspViolations.push(`${profile} console ${where}: ${message.text().slice(0, 300)}`);
    }
  });
}

/** Waits (generously: the machine is shared) for the app's first screen. */
export const UI_TIMEOUT = 60_000;

export async function register(page: Page, username: string): Promise<void> {
  await page.getByTestId('username-input').fill(username);
  await page.getByTestId('register-button').click();
  const done = page.getByTestId('welcome-done');
  await done.waitFor({ timeout: UI_TIMEOUT });
  await done.click();
  await page.getByTestId('new-chat-button').waitFor({ timeout: UI_TIMEOUT });
}

export async function startChat(page: Page, username: string): Promise<void> {
  await page.getByTestId('new-chat-button').click();
  await page.getByTestId('new-chat-username-input').fill(username);
  await page.getByTestId('new-chat-start-button').click();
  await page.getByTestId('message-input').waitFor({ timeout: UI_TIMEOUT });
  // The conversation's own history has loaded (not the previous chat's, not an empty list still loading).
  await page.locator('[data-testid="message-log"][data-loaded="true"]').waitFor({ timeout: UI_TIMEOUT });
}

export async function openChat(page: Page, title: string): Promise<void> {
  await page.locator(`[data-testid="conversation-item"][data-conversation="${title}"]`).click({ timeout: UI_TIMEOUT });
  await page.getByTestId('message-input').waitFor({ timeout: UI_TIMEOUT });
  // The conversation's own history has loaded (not the previous chat's, not an empty list still loading).
  await page.locator('[data-testid="message-log"][data-loaded="true"]').waitFor({ timeout: UI_TIMEOUT });
}

export async function send(page: Page, text: string): Promise<void> {
  await page.getByTestId('message-input').fill(text);
  await page.getByTestId('send-button').click();
}

/** The message bubble whose text is exactly `text`. */
export const messageWithText = (page: Page, text: string) =>
  page.getByTestId('message').filter({ has: page.locator('.bubble-text', { hasText: text }) });

/**
 * Waits for the bubble whose text is `text`; on a timeout the error says what the page showed instead (the log's
 * bubble texts, whether it had loaded, and which screen was up), so a failure seen once under load can be read.
 */
export async function waitForMessage(page: Page, text: string, timeout = UI_TIMEOUT): Promise<void> {
  try {
    await messageWithText(page, text).waitFor({ timeout });
  } catch (error) {
    const seen = await page
      .evaluate(() => {
        const log = document.querySelector('[data-testid="message-log"]');
        const screens = [
          'unlock-input',
          'device-removed',
          'new-chat-button',
          'message-log',
          'app-error',
          'pane-error',
          'message-error',
        ]
          .filter((id) => document.querySelector(`[data-testid="${id}"]`))
          .join(',');
        const bubbles = [...document.querySelectorAll('[data-testid="message"] .bubble-text')].map(
          (b) => b.textContent,
        );
        return `screens [${screens}], log loaded ${log?.getAttribute('data-loaded') ?? 'none'}, bubbles ${JSON.stringify(bubbles)}`;
      })
      .catch((e: unknown) => `page unreadable: ${String(e)}`);
    throw new Error(
      `${(error as Error).message}
the page showed: ${seen}`,
      { cause: error },
    );
  }
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(RESULTS, { recursive: true });
  await page.screenshot({ path: join(RESULTS, `${name}.png`) });
}
