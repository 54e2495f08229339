/**
 * Single sign-on in Debian's Chromium (issue 15), against a real OpenID Connect provider in this process
 * (`oidc-provider`, its plain HTML login and consent pages) and one server with `REGISTRATION=sso`. A fresh browser
 * shows "Sign in with Example Org" instead of the username form, goes through the provider's pages, comes back with
 * the single-use token in the URL fragment (gone from the address at once), registers under the provider's username
 * with keys made in the browser, reaches the chat list and messages a client that registered by single sign-on too.
 * A second browser of the same person signs in again and becomes a linked device of the same account (the first
 * browser approves it). Refused, with the reason in words: a person outside the allowed e-mail domain, and a
 * replayed token. No CSP violation.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';

import { TestIdentityProvider } from '../../apps/api/test/support/oidc-provider.js';
import { freePort } from '../../apps/api/test/support/tls-fixtures.js';
import { destroyClient, newClient, texts, until, type TestClient } from '../support/clients.js';
import {
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
  messageWithText,
  screenshot,
  send,
  startChat,
  startServer,
  takeCspViolations,
  type Profile,
  type TestServer,
} from './support/harness.js';
import { seriousViolations } from './support/inspect.js';

const SLOW = 300_000;
const CLIENT_ID = 'cove-pwa-test';
const CLIENT_SECRET = 'cove-pwa-test-secret-0123456789';

let idp: TestIdentityProvider;
let server: TestServer;
const profiles: Profile[] = [];
const peers: TestClient[] = [];

beforeAll(async () => {
  buildPwaIfStale();
  const port = await freePort();
  const url = `http://localhost:${port}`;
  idp = await TestIdentityProvider.start(CLIENT_ID, CLIENT_SECRET, `${url}/v1/sso/callback`);
  const person = (sub: string, email: string, username: string) =>
    idp.people.set(sub, { sub, email, email_verified: true, preferred_username: username, groups: [] });
  person('u-ann-0001', 'ann@example.org', 'ann.lee');
  person('u-bob-0002', 'bob@example.org', 'bob.okafor');
  person('u-eve-0003', 'eve@evil.example', 'eve');
  server = await startServer({
    PORT: String(port),
    REGISTRATION: 'sso',
    OIDC_ISSUER: idp.issuer,
    OIDC_CLIENT_ID: CLIENT_ID,
    OIDC_CLIENT_SECRET: CLIENT_SECRET,
    OIDC_NAME: 'Example Org',
    OIDC_ALLOWED_DOMAINS: 'example.org',
    PUBLIC_URL: url,
  });
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  for (const peer of peers) await destroyClient(peer);
  for (const profile of profiles) await profile.close().catch(() => undefined);
  await server?.close();
  await idp?.close();
}, SLOW);

/** A Node client registered by single sign-on (the provider's flow without a browser: scripted person). */
async function ssoClient(sub: string): Promise<TestClient> {
  const start = await fetch(`${server.url}/v1/sso/authorize`, { redirect: 'manual' });
  const callback = await idp.signIn(start.headers.get('location') ?? '', sub);
  const back = await fetch(callback, { redirect: 'manual' });
  const fragment = new URLSearchParams(new URL(back.headers.get('location') ?? '').hash.slice(1));
  const username = fragment.get('sso-username') ?? '';
  const client = await newClient(server.url, username, {
    ssoToken: fragment.get('sso-token') ?? '',
    // A handful of one-time prekeys is plenty for one conversation, and quick to make on a busy machine.
    oneTimePreKeys: 5,
  });
  peers.push(client);
  return client;
}

/**
 * Clicks "Sign in with Example Org" and goes through the provider's real pages as `login`; resolves with the
 * address the server's callback sent the browser back to (the fragment holds the token), read from its redirect.
 */
async function signInThroughProvider(page: Page, login: string): Promise<URL> {
  const landed = page.waitForResponse((r) => r.url().startsWith(`${server.url}/v1/sso/callback`), {
    timeout: UI_TIMEOUT,
  });
  await page.getByTestId('sso-login-button').click({ timeout: UI_TIMEOUT });
  await page.locator('#login').fill(login, { timeout: UI_TIMEOUT });
  await page.locator('#sign-in').click();
  await page.locator('#allow').click({ timeout: UI_TIMEOUT });
  return new URL((await landed).headers()['location'] ?? '', server.url);
}

describe('Single sign-on in Chromium', () => {
  let ann: Profile;
  let annToken = '';

  it(
    'should register through the provider’s pages, reach the chat list and message another member',
    async () => {
      const bob = await ssoClient('u-bob-0002');
      await bob.messenger.connect();

      ann = await launchProfile('sso-ann', server.url, { viewport: { width: 390, height: 844 } });
      profiles.push(ann);
      const { page } = ann;
      const button = page.getByTestId('sso-login-button');
      await expect(button.textContent({ timeout: UI_TIMEOUT })).resolves.toBe('Sign in with Example Org');
      // Under single sign-on there is no username to choose and no invite to type.
      expect(await page.getByTestId('username-input').isVisible()).toBe(false);
      await screenshot(page, 'sso-onboarding');

      const landing = await signInThroughProvider(page, 'ann.lee');
      const fragment = new URLSearchParams(landing.hash.slice(1));
      annToken = fragment.get('sso-token') ?? '';
      expect(annToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(fragment.get('sso-username')).toBe('ann.lee');

      const done = page.getByTestId('welcome-done');
      await done.waitFor({ timeout: UI_TIMEOUT });
      // The single-use token left the address bar at once.
      expect(page.url()).toBe(`${server.url}/`);
      await done.click();
      await page.getByTestId('new-chat-button').waitFor({ timeout: UI_TIMEOUT });
      const annId = await bob.messenger.resolve('ann.lee');
      expect(annId).toBeTruthy();

      await startChat(page, 'bob.okafor');
      await send(page, 'hello bob, signed in by sso');
      await until('bob has it', async () =>
        (await texts(bob, annId, 'incoming')).includes('hello bob, signed in by sso'),
      );
      await bob.messenger.sendText(annId, 'hi ann');
      // Still in the chat with Bob: his answer appears there.
      await messageWithText(page, 'hi ann').waitFor({ timeout: UI_TIMEOUT });
      expect(await seriousViolations(page)).toEqual([]);
      await screenshot(page, 'sso-chat');
    },
    SLOW,
  );

  it(
    'should refuse a person outside the allowed domain and a replayed token, saying why',
    async () => {
      const other = await launchProfile('sso-eve', server.url, { viewport: { width: 1280, height: 800 } });
      profiles.push(other);
      const { page } = other;
      const landing = await signInThroughProvider(page, 'eve@evil.example');
      expect(new URLSearchParams(landing.hash.slice(1)).get('sso-error')).toBe('not-allowed');
      const error = page.getByTestId('sso-error');
      await expect(error.getAttribute('data-error', { timeout: UI_TIMEOUT })).resolves.toBe('not-allowed');
      await expect(error.textContent()).resolves.toContain('e-mail domain');
      expect(page.url()).toBe(`${server.url}/`);
      await screenshot(page, 'sso-not-allowed');

      // Ann's token, already used to register, replayed in another browser: refused, nothing registered.
      await page.goto(`${server.url}/?again#sso-token=${annToken}&sso-username=ann.lee`);
      await expect(error.getAttribute('data-error', { timeout: UI_TIMEOUT })).resolves.toBe('used');
      expect(page.url()).toBe(`${server.url}/?again`);
      await page.getByTestId('sso-login-button').waitFor();
      const accounts = await server.query<{ n: string }>('SELECT count(*) AS n FROM accounts');
      expect(accounts[0]?.n).toBe('2');
    },
    SLOW,
  );

  it(
    'should link a second browser of the same person after signing in again',
    async () => {
      const second = await launchProfile('sso-ann-2', server.url, { viewport: { width: 1280, height: 800 } });
      profiles.push(second);
      const { page } = second;
      await signInThroughProvider(page, 'ann@example.org');
      await expect(page.getByTestId('link-notice').textContent({ timeout: UI_TIMEOUT })).resolves.toContain('ann.lee');
      const uri = ((await page.getByTestId('link-uri').textContent({ timeout: UI_TIMEOUT })) ?? '').trim();
      expect(uri.startsWith('cove://link?')).toBe(true);
      await screenshot(page, 'sso-link-second-browser');

      const first = ann.page;
      await first.getByRole('button', { name: /Back/ }).first().click();
      await first.getByTestId('settings-button').click();
      await first.getByTestId('link-device-button').click({ timeout: UI_TIMEOUT });
      await first.getByTestId('link-uri-input').fill(uri);
      await first.getByTestId('link-confirm-button').click();
      await first.getByTestId('link-done').waitFor({ timeout: UI_TIMEOUT });

      const done = page.getByTestId('welcome-done');
      await done.waitFor({ timeout: UI_TIMEOUT });
      await done.click();
      await page.getByTestId('new-chat-button').waitFor({ timeout: UI_TIMEOUT });
      const devices = await server.query<{ n: string }>(
        "SELECT count(*) AS n FROM devices d JOIN accounts a ON a.id = d.account_id WHERE a.username = 'ann.lee'",
      );
      expect(devices[0]?.n).toBe('2');
      expect(await seriousViolations(page)).toEqual([]);
    },
    SLOW,
  );
});
