/**
 * Saying what is happening (issue 12), in Debian's Chromium against the real server with a Node client as the peer:
 * the connection indicator (`connection-state`) says "Can't reach the server" while the server is stopped, in the list
 * and in a second tab that does not hold the connection, and "Offline" when the browser loses the network, in English
 * and in Chinese; a message written while the server is down goes out as soon as it is back (how soon is recorded,
 * never asserted); "Retry now" and the browser's return online reconnect at once; the unread count shows in the tab
 * title. Figures go to test-results/pwa/connection-figures.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';

import { destroyClient, newClient, texts, until, type TestClient } from '../support/clients.js';
import {
  RESULTS,
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
  messageWithText,
  register,
  screenshot,
  send,
  startChat,
  startServer,
  takeCspViolations,
  type Profile,
  type TestServer,
} from './support/harness.js';

const SLOW = 300_000;
/** Long enough for the client's reconnect backoff to reach its cap (10 s) while the server is down. */
const BACKOFF_AT_CAP_MS = 12_000;
const suffix = Math.random().toString(36).slice(2, 7);

let server: TestServer;
const profiles: Profile[] = [];
const clients: TestClient[] = [];
const figures: Record<string, number> = {};

beforeAll(async () => {
  buildPwaIfStale();
  server = await startServer();
}, SLOW);

afterEach(async () => {
  // A failed scenario must not leave the server stopped for the next one.
  await server.resume();
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'connection-figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
  await server?.resume().catch(() => undefined);
  for (const c of clients) await destroyClient(c);
  for (const p of profiles) await p.close().catch(() => undefined);
  await server?.close();
}, SLOW);

describe('Connection state in Chromium', () => {
  for (const { locale, unreachable, offline } of [
    { locale: 'en-US', unreachable: "Can't reach the server", offline: "You're offline" },
    { locale: 'zh-CN', unreachable: '无法连接服务器', offline: '你已离线' },
  ]) {
    it(
      `should say when the server or the network is gone and send promptly when it is back (${locale})`,
      async () => {
        const tag = locale.slice(0, 2);
        const me = `conn_${tag}_${suffix}`;
        const peer = await newClient(server.url, `peer_${tag}_${suffix}`);
        clients.push(peer);
        await peer.messenger.connect();
        const profile = await launchProfile(`conn-${tag}`, server.url, {
          locale,
          viewport: { width: 390, height: 844 },
        });
        profiles.push(profile);
        const { page } = profile;
        await register(page, me);
        const indicator = page.locator('[data-testid="connection-state"]:visible');
        await expect(indicator.count()).resolves.toBe(0);

        // A second tab does not hold the connection: it hears the state from the one that does.
        const second = await profile.context.newPage();
        await second.goto(server.url);
        await second.getByTestId('new-chat-button').waitFor({ timeout: UI_TIMEOUT });

        await startChat(page, peer.name);
        await send(page, 'before the outage');
        await until('the first message', async () =>
          (await texts(peer, await peer.messenger.resolve(me), 'incoming')).includes('before the outage'),
        );

        await server.pause();
        const down = page.locator('[data-testid="connection-state"][data-state="unreachable"]:visible');
        await down.waitFor({ timeout: UI_TIMEOUT });
        await expect(down.textContent()).resolves.toContain(unreachable);
        await second
          .locator('[data-testid="connection-state"][data-state="unreachable"]:visible')
          .waitFor({ timeout: UI_TIMEOUT });
        await screenshot(page, `connection-unreachable-${tag}`);

        await send(page, 'written while the server is down');
        const pending = messageWithText(page, 'written while the server is down');
        await expect(pending.getAttribute('data-status')).resolves.toBe('sending');

        await server.resume();
        const back = Date.now();
        // Without a tap: the backoff (capped at a few seconds) brings the connection back by itself.
        await indicator.waitFor({ state: 'detached', timeout: UI_TIMEOUT });
        await until(
          'the message written during the outage',
          async () =>
            (await texts(peer, await peer.messenger.resolve(me), 'incoming')).includes(
              'written while the server is down',
            ),
          // Generous: on a loaded machine the server's own restart and both clients' backoff share two cores.
          2 * UI_TIMEOUT,
        );
        figures[`${tag}: server back → message delivered (ms)`] = Date.now() - back;
        await second
          .locator('[data-testid="connection-state"]:visible')
          .waitFor({ state: 'detached', timeout: UI_TIMEOUT });

        // "Retry now" does not wait for the backoff: let it grow to its cap first (the unit tests pin the policy).
        await server.pause();
        await down.waitFor({ timeout: UI_TIMEOUT });
        await new Promise((resolve) => setTimeout(resolve, BACKOFF_AT_CAP_MS));
        await server.resume();
        const tapped = Date.now();
        // The scheduled retry may win the race with the tap; either way the indicator must go.
        await down
          .getByRole('button')
          .click({ timeout: 5_000 })
          .catch(() => undefined);
        await indicator.waitFor({ state: 'detached', timeout: UI_TIMEOUT });
        figures[`${tag}: retry tapped → online (ms)`] = Date.now() - tapped;

        // The browser's own network: "Offline", and back at once when it returns.
        await profile.context.setOffline(true);
        const off = page.locator('[data-testid="connection-state"][data-state="offline"]:visible');
        await off.waitFor({ timeout: UI_TIMEOUT });
        await expect(off.textContent()).resolves.toContain(offline);
        await screenshot(page, `connection-offline-${tag}`);
        await profile.context.setOffline(false);
        const online = Date.now();
        await indicator.waitFor({ state: 'detached', timeout: UI_TIMEOUT });
        figures[`${tag}: network back → indicator gone (ms)`] = Date.now() - online;
        await second.close();
      },
      SLOW,
    );
  }

  it(
    'should show the unread count in the tab title, and clear it when read',
    async () => {
      const me = `title_${suffix}`;
      const peer = await newClient(server.url, `titlepeer_${suffix}`);
      clients.push(peer);
      await peer.messenger.connect();
      const profile = await launchProfile('conn-title', server.url);
      profiles.push(profile);
      const { page } = profile;
      await register(page, me);
      await expect(page.title()).resolves.toBe('Cove');
      await peer.messenger.sendText(me, 'one');
      await peer.messenger.sendText(me, 'two');
      await until('the title to count two unread', async () => (await page.title()) === '(2) Cove', UI_TIMEOUT);
      await page
        .locator(`[data-testid="conversation-item"][data-conversation="${peer.name}"]`)
        .click({ timeout: UI_TIMEOUT });
      await until('the title to clear', async () => (await page.title()) === 'Cove', UI_TIMEOUT);
    },
    SLOW,
  );
});
