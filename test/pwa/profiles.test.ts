/**
 * Who is who (issue 12) in Debian's Chromium, in Chinese, against the real server with a Node client as the peer:
 * a chat started by typing the username in another case is titled with the server's spelling, and once the peer's
 * profile key arrives inside their reply, the list and the chat header show the peer's encrypted profile name and
 * avatar (fetched and decrypted by the PWA's core). Lean: one server, one browser profile, one peer.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';

import { destroyClient, newClient, texts, until, type TestClient } from '../support/clients.js';
import {
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
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
const suffix = Math.random().toString(36).slice(2, 7);
/** A 1×1 PNG: a real image for the avatar element. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

let server: TestServer;
let profile: Profile | undefined;
let peer: TestClient | undefined;

beforeAll(async () => {
  buildPwaIfStale();
  server = await startServer();
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  if (peer) await destroyClient(peer);
  await profile?.close().catch(() => undefined);
  await server?.close();
}, SLOW);

describe('Profiles in Chromium', () => {
  it(
    "should title a chat with the server's spelling, then with the peer's profile name and avatar",
    async () => {
      const peerName = `Pf_Peer_${suffix}`;
      peer = await newClient(server.url, peerName);
      await peer.messenger.connect();
      await peer.messenger.setProfile({ name: '王小明 Ming', about: 'hello', avatar: new Uint8Array(PNG) });

      profile = await launchProfile('profiles-zh', server.url, {
        locale: 'zh-CN',
        viewport: { width: 390, height: 844 },
      });
      const { page } = profile;
      const me = `pf_pwa_${suffix}`;
      await register(page, me);
      // Typed in upper case: the title is the spelling the server holds.
      await startChat(page, peerName.toUpperCase());
      const title = page.locator('#chat-title');
      await until('the server spelling', async () => (await title.textContent())?.trim() === peerName, UI_TIMEOUT);

      await send(page, '你好');
      const myId = await until('the peer has my message', async () => {
        const id = await peer!.messenger.resolve(me);
        return (await texts(peer!, id, 'incoming')).includes('你好') ? id : null;
      });
      // The reply carries the peer's profile key; the PWA fetches and decrypts the profile.
      await peer.messenger.sendText(myId, '你好呀');
      await until(
        'the profile name in the header',
        async () => (await title.textContent())?.trim() === '王小明 Ming',
        UI_TIMEOUT,
      );
      await page.locator('.chat-toolbar [data-testid="avatar-image"]').waitFor({ timeout: UI_TIMEOUT });
      await screenshot(page, 'profiles-chat-zh');

      await page
        .getByRole('button', { name: /返回|Back/ })
        .first()
        .click();
      const item = page.locator('[data-testid="conversation-item"][data-conversation="王小明 Ming"]');
      await item.waitFor({ timeout: UI_TIMEOUT });
      await item.locator('[data-testid="avatar-image"]').waitFor({ timeout: UI_TIMEOUT });
      await expect(page.locator('html').getAttribute('lang')).resolves.toMatch(/^zh/);
      await screenshot(page, 'profiles-list-zh');
    },
    SLOW,
  );
});
