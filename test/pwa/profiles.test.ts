/**
 * Who is who (issue 12) in Debian's Chromium, in Chinese, against the real server with a Node client as the peer:
 * the user sets a name, about line and photo in Settings and the peer reads them after the first message; a chat
 * started by typing the username in another case is titled with the server's spelling; once the peer's profile key
 * arrives inside their reply, the list and the chat header show the peer's profile name and avatar; a nickname set
 * in the contact view overrides it. Lean: one server, one browser profile, one peer.
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
import { seriousViolations } from './support/inspect.js';

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
    'should share a profile set in Settings, title chats by server spelling, profile name and nickname, with avatars',
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

      // The PWA user sets a name and a photo (cropped to a square JPEG on a canvas) in Settings, in Chinese.
      await page.getByTestId('settings-button').click();
      await page.getByTestId('profile-name-input').fill('测试用户');
      await page.getByTestId('profile-about-input').fill('在路上');
      // The about line takes emoji from the composer's picker, at the cursor (issue 12).
      await page.getByTestId('profile-about-emoji-button').click();
      await page.getByTestId('emoji-search').fill('猫');
      await page.locator('[data-testid="emoji-option"][data-emoji="🐱"]').click();
      await expect(page.getByTestId('profile-about-input').inputValue()).resolves.toBe('在路上🐱');
      await page.getByTestId('profile-about-emoji-button').click();
      await page
        .getByTestId('profile-avatar-input')
        .setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: PNG });
      await page.getByTestId('profile-save').click();
      await page.getByTestId('profile-status').filter({ hasText: '资料已保存' }).waitFor({ timeout: UI_TIMEOUT });
      await screenshot(page, 'profiles-settings-zh');
      expect(await seriousViolations(page)).toEqual([]);
      await page
        .getByRole('button', { name: /返回|Back/ })
        .first()
        .click();

      // Typed in upper case: the title is the spelling the server holds.
      await startChat(page, peerName.toUpperCase());
      const title = page.locator('#chat-title');
      await until('the server spelling', async () => (await title.textContent())?.trim() === peerName, UI_TIMEOUT);

      await send(page, '你好');
      const myId = await until('the peer has my message', async () => {
        const id = await peer!.messenger.resolve(me);
        return (await texts(peer!, id, 'incoming')).includes('你好') ? id : null;
      });
      // The message carried the PWA user's profile key: the peer reads the name and the photo (a JPEG now).
      const mine = await until('the peer reads my profile', async () => {
        const c = await peer!.messenger.contact(myId);
        return c.profileName === '测试用户' ? c : null;
      });
      expect(mine.about).toBe('在路上🐱');
      expect([...(mine.avatar ?? new Uint8Array(0)).subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);

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

      // A nickname set in the contact view overrides the profile name, in the list and the header.
      await item.click();
      await page.locator('.chat-peer').click();
      await page.getByTestId('nickname-input').fill('小明同学');
      await page.getByTestId('nickname-save').click();
      // Saved before leaving the view (on a loaded machine the save can outlast the click on Back).
      await page.getByText('备注名已保存。').waitFor({ timeout: UI_TIMEOUT });
      expect(await seriousViolations(page)).toEqual([]);
      await page
        .getByRole('button', { name: /返回|Back/ })
        .first()
        .click();
      await until(
        'the nickname in the header',
        async () => (await title.textContent())?.trim() === '小明同学',
        UI_TIMEOUT,
      );
      await page
        .getByRole('button', { name: /返回|Back/ })
        .first()
        .click();
      await page
        .locator('[data-testid="conversation-item"][data-conversation="小明同学"]')
        .waitFor({ timeout: UI_TIMEOUT });
    },
    SLOW,
  );
});
