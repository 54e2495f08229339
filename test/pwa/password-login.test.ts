/**
 * Password login in Debian's Chromium (issue 13), lean: one server, one fresh browser profile, Node clients as the
 * account's first device and as the contact. The account (with a verified contact) sets a password in the core;
 * the browser, which has never seen the account, logs in on onboarding with the username and password, becomes a
 * device of the account, receives the contact's message, answers it, and shows the password as set in Settings.
 * The first device is told a device was added. No CSP violation (OPAQUE's WASM loads under the app's policy).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';

import { destroyClient, newClient, texts, until, type TestClient } from '../support/clients.js';
import {
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
  messageWithText,
  openChat,
  screenshot,
  send,
  startServer,
  takeCspViolations,
  type Profile,
  type TestServer,
} from './support/harness.js';
import { seriousViolations } from './support/inspect.js';

const SLOW = 300_000;
const suffix = Math.random().toString(36).slice(2, 7);
const PASSWORD = `browser pass ${suffix}`;

let server: TestServer;
let profile: Profile | undefined;
const peers: TestClient[] = [];

beforeAll(async () => {
  buildPwaIfStale();
  server = await startServer();
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  for (const peer of peers) await destroyClient(peer);
  await profile?.close().catch(() => undefined);
  await server?.close();
}, SLOW);

describe('Password login in Chromium', () => {
  it(
    'should log a fresh browser in with username and password, with the contact, and chat',
    async () => {
      const me = `pw_web_${suffix}`;
      const bobName = `pw_bob_${suffix}`;
      const first = await newClient(server.url, me);
      const bob = await newClient(server.url, bobName);
      peers.push(first, bob);
      await Promise.all([first.messenger.connect(), bob.messenger.connect()]);
      await first.messenger.sendText(bobName, 'hello bob');
      await until('bob has it', async () => (await texts(bob, first.accountId)).includes('hello bob'));
      const shown = await first.messenger.identity(bobName);
      await first.messenger.verify(bobName, shown.safetyNumber?.digits ?? '');
      await first.messenger.setPassword(PASSWORD);

      profile = await launchProfile('password-login', server.url, { viewport: { width: 390, height: 844 } });
      const { page } = profile;
      await page.getByTestId('login-button').click();
      await page.getByTestId('login-username-input').fill(me.toUpperCase());
      await page.getByTestId('login-password-input').fill('not the password');
      await page.getByTestId('login-submit-button').click();
      await page.getByTestId('login-error').waitFor({ timeout: UI_TIMEOUT });
      await screenshot(page, 'password-login-wrong');
      await page.getByTestId('login-password-input').fill(PASSWORD);
      await page.getByTestId('login-submit-button').click();
      const done = page.getByTestId('welcome-done');
      await done.waitFor({ timeout: UI_TIMEOUT });
      await done.click();
      await page.getByTestId('new-chat-button').waitFor({ timeout: UI_TIMEOUT });

      // The first device learns about the browser when it announces itself.
      await until(
        'the first device is told',
        () => first.events.some((e) => e.type === 'own-device-added' && e.deviceId === 2),
        UI_TIMEOUT,
      );

      await bob.messenger.sendText(first.accountId, 'hi from bob');
      await openChat(page, bobName);
      await messageWithText(page, 'hi from bob').waitFor({ timeout: UI_TIMEOUT });
      await send(page, 'hi from the browser');
      await until('bob has the browser’s message', async () =>
        (await texts(bob, first.accountId)).includes('hi from the browser'),
      );
      expect(await seriousViolations(page)).toEqual([]);
      await screenshot(page, 'password-login-chat');

      await page.getByRole('button', { name: /Back/ }).first().click();
      await page.getByTestId('settings-button').click();
      await page
        .getByTestId('password-status')
        .filter({ hasText: 'A password is set.' })
        .waitFor({ timeout: UI_TIMEOUT });
      await page.getByTestId('password-section').scrollIntoViewIfNeeded();
      await screenshot(page, 'password-settings');
    },
    SLOW,
  );
});
