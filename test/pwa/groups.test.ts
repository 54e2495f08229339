/**
 * Group chats in the PWA, in Debian's Chromium against the real server (one server, one registration each), with
 * members on every kind of client: Ann in English at 1280×800 and Ben in Chinese at 390×844 (two browser profiles),
 * Cat and Dan on the `cove` CLI (real processes), Eve on the messenger core in this process (to forge what a
 * modified client would send). Ann creates the group in the PWA (member chips checked against the server,
 * removable), everyone chats with sender names; Ben, a member, is offered no admin action and Eve's forged admin
 * update changes nothing; Ann adds Dan late (he sees only what follows), removes Cat (who gets nothing new), renames
 * the group while Ben is offline (he catches up after a cold start, history kept, the system lines in Chinese), makes
 * Ben an admin, and Ben leaves. In between, everything a 1:1 chat has works in the group: a reply with its quote, a
 * reaction, an edit, a delete for everyone, a photo with a caption, "Ben is typing…" and the message info listing
 * every member. axe finds no serious violation; screenshots in light and dark go to test-results/pwa/.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';
import { encodeContent } from '@cove/protocol';

import { updateContent } from '../../packages/client/src/groups.js';
import { newOutboxEntry } from '../../packages/client/src/outbox.js';
import { cove, ensureCliBuilt, listen, type Listener } from '../support/cli.js';
import { destroyClient, newClient, until, type TestClient } from '../support/clients.js';
import {
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
  messageWithText,
  register,
  screenshot,
  send,
  startServer,
  takeCspViolations,
  type Profile,
  type TestServer,
} from './support/harness.js';
import { seriousViolations } from './support/inspect.js';

/** Browser scenarios on a shared 2-core machine take a while; nothing here asserts on time. */
const SLOW = 900_000;
const suffix = Math.random().toString(36).slice(2, 7);
const ANN = `g_ann_${suffix}`;
const BEN = `g_ben_${suffix}`;
const CAT = `g_cat_${suffix}`;
const DAN = `g_dan_${suffix}`;
const EVE = `g_eve_${suffix}`;
const TITLE = `Team ${suffix}`;
const RENAMED = `Hikers ${suffix}`;

let server: TestServer;
let ann: Profile;
let ben: Profile;
let eve: TestClient;
let root = '';
const listeners: Listener[] = [];

const item = (page: Page, title: string) =>
  page.locator(`[data-testid="conversation-item"][data-conversation="${title}"]`);
const systemLine = (page: Page, text: string) => page.getByTestId('system-line').filter({ hasText: text });
/** The row (bubble, actions button, reactions) of the message whose text is `text`. */
const rowWithText = (page: Page, text: string) =>
  page.locator('.message-with-actions').filter({ has: page.locator('.bubble-text', { hasText: text }) });

/** Opens the actions menu of a message with the keyboard: focus its button, press Enter. */
async function openMenu(page: Page, text: string): Promise<void> {
  const row = rowWithText(page, text);
  await row.waitFor({ timeout: UI_TIMEOUT });
  await row.getByTestId('message-actions-button').focus();
  await page.keyboard.press('Enter');
  await page.getByTestId('message-actions').waitFor({ timeout: UI_TIMEOUT });
}

const memberItem = (page: Page, username: string) =>
  page.locator(`[data-testid="group-member-item"][data-username="${username}"]`);

/** Screenshots of the current screen in light and dark. */
async function shoot(page: Page, name: string): Promise<void> {
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await screenshot(page, `groups-${name}-${scheme}`);
  }
  await page.emulateMedia({ colorScheme: null });
}

beforeAll(async () => {
  buildPwaIfStale();
  await ensureCliBuilt();
  server = await startServer();
  root = await mkdtemp(join(tmpdir(), 'cove-groups-pwa-'));
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  for (const listener of listeners) await listener.stop().catch(() => undefined);
  for (const profile of [ann, ben])
    if (profile && !profile.page.isClosed())
      await screenshot(profile.page, `groups-zz-last-${profile.name}`).catch(() => undefined);
  await ann?.close();
  await ben?.close();
  if (eve) await destroyClient(eve);
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
}, SLOW);

describe('Group chats in the PWA', () => {
  it(
    'should create, chat, refuse members admin changes, add late, remove, catch up offline and leave',
    async () => {
      ann = await launchProfile('groups-ann', server.url, { viewport: { width: 1280, height: 800 } });
      ben = await launchProfile('groups-ben', server.url, { locale: 'zh-CN', viewport: { width: 390, height: 844 } });
      await register(ann.page, ANN);
      await register(ben.page, BEN);
      const catDir = join(root, 'cat');
      const danDir = join(root, 'dan');
      expect((await cove(catDir, ['register', '--server', server.url, '--username', CAT])).code).toBe(0);
      expect((await cove(danDir, ['register', '--server', server.url, '--username', DAN])).code).toBe(0);
      eve = await newClient(server.url, EVE, { oneTimePreKeys: 5 });
      await eve.messenger.connect();
      const cat = listen(catDir, [], 'info');
      listeners.push(cat);

      // New group: chips are checked against the server (an unknown name is refused), and removable.
      await ann.page.getByTestId('new-group-button').click();
      await ann.page.getByTestId('group-name-input').fill(TITLE);
      const memberInput = ann.page.getByTestId('group-member-input');
      for (const name of [BEN, `nobody_${suffix}`, CAT, EVE, DAN]) {
        await memberInput.fill(name);
        await memberInput.press('Enter');
        if (name.startsWith('nobody')) {
          await ann.page.getByTestId('group-error').waitFor({ timeout: UI_TIMEOUT });
          await memberInput.fill('');
        } else
          await ann.page
            .locator(`[data-testid="group-member-chip"][data-username="${name}"]`)
            .waitFor({ timeout: UI_TIMEOUT });
      }
      // Dan joins later: his chip is taken away again.
      await ann.page.locator(`[data-testid="group-member-chip"][data-username="${DAN}"]`).getByRole('button').click();
      await expect(ann.page.getByTestId('group-member-chip').count()).resolves.toBe(3);
      await expect(seriousViolations(ann.page)).resolves.toEqual([]);
      await shoot(ann.page, '01-new-group-desktop');
      await ann.page.getByTestId('group-create-button').click();
      await systemLine(ann.page, `You created the group “${TITLE}”`).waitFor({ timeout: UI_TIMEOUT });
      const groupId = decodeURIComponent(new URL(ann.page.url()).pathname.split('/')[2] ?? '').replace('group:', '');
      expect(groupId).toMatch(/^[0-9a-f]{64}$/);

      // Chat both ways: PWA → everyone, PWA (zh) → everyone, CLI → everyone; names on other people's messages.
      await send(ann.page, 'hello team');
      await item(ben.page, TITLE).click({ timeout: UI_TIMEOUT });
      await systemLine(ben.page, `${ANN} 创建了群组“${TITLE}”`).waitFor({ timeout: UI_TIMEOUT });
      const fromAnn = messageWithText(ben.page, 'hello team');
      await fromAnn.waitFor({ timeout: UI_TIMEOUT });
      await expect(fromAnn.getByTestId('message-sender').textContent()).resolves.toBe(ANN);
      await cat.waitFor('hello team on the CLI', (e) => e.type === 'message' && e.text === 'hello team', 120_000);
      await send(ben.page, '大家好');
      const fromBen = messageWithText(ann.page, '大家好');
      await fromBen.waitFor({ timeout: UI_TIMEOUT });
      await expect(fromBen.getByTestId('message-sender').textContent()).resolves.toBe(BEN);
      const catSend = await cove(catDir, ['send', '--group', groupId, 'cat on the cli']);
      // Seen under full-suite load: exit 3, the message still `sending` after the flush. The cause was a member's
      // receipt writing the row back after the outbox marked it sent (test/client/group-receipt-race.test.ts); should
      // it happen again, the listener's log (the send runs there, over IPC) says why, so print it.
      if (catSend.code !== 0)
        process.stderr.write(
          `cat's group send: ${catSend.stdout}${catSend.stderr}\n${cat.stderr.join('').slice(-6000)}\n`,
        );
      expect(catSend.code).toBe(0);
      const fromCat = messageWithText(ann.page, 'cat on the cli');
      await fromCat.waitFor({ timeout: UI_TIMEOUT });
      await expect(fromCat.getByTestId('message-sender').textContent()).resolves.toBe(CAT);
      await messageWithText(ben.page, 'cat on the cli').waitFor({ timeout: UI_TIMEOUT });
      // Each member keeps one colour, and two members get told apart by theirs here.
      const colour = (bubble: typeof fromBen) =>
        bubble.getByTestId('message-sender').evaluate((el) => getComputedStyle(el).color);
      // (Eight colours by account id: two random accounts share one 1 time in 8, and then nothing tells them apart.)
      const colourClass = (bubble: typeof fromBen) => bubble.getByTestId('message-sender').getAttribute('class');
      if ((await colourClass(fromBen)) !== (await colourClass(fromCat)))
        await expect(colour(fromBen)).resolves.not.toBe(await colour(fromCat));
      await shoot(ann.page, '02-chat-desktop');
      await shoot(ben.page, '03-chat-phone-zh');

      // Everything a 1:1 chat has, in the group. Ben (zh) replies to Ann with a quote; the CLI member sees it too.
      await openMenu(ben.page, 'hello team');
      await ben.page.getByTestId('action-reply').click();
      await ben.page.getByTestId('quote-preview').waitFor({ timeout: UI_TIMEOUT });
      await send(ben.page, '收到');
      const reply = rowWithText(ann.page, '收到');
      await reply.getByTestId('quoted-message').waitFor({ timeout: UI_TIMEOUT });
      await expect(reply.getByTestId('quoted-message').textContent()).resolves.toContain('hello team');
      await cat.waitFor(
        'the reply with its quote on the CLI',
        (e) =>
          e.type === 'message' &&
          e.text === '收到' &&
          (e.quote as { text?: string } | undefined)?.text === 'hello team',
        120_000,
      );
      // Ann reacts to Cat's message: a chip for Ben, a reaction line naming the group for Cat.
      await openMenu(ann.page, 'cat on the cli');
      await ann.page.locator('[data-testid="quick-reaction"][data-emoji="👍"]').click();
      await rowWithText(ben.page, 'cat on the cli')
        .locator('[data-testid="reaction"][data-emoji="👍"]')
        .waitFor({ timeout: UI_TIMEOUT });
      await cat.waitFor(
        'the reaction',
        (e) => e.type === 'reaction' && e.groupId === groupId && e.emoji === '👍',
        120_000,
      );
      // Ann edits her message (Ben sees "已编辑") and deletes another for everyone.
      await send(ann.page, 'meet at 9');
      await messageWithText(ben.page, 'meet at 9').waitFor({ timeout: UI_TIMEOUT });
      await openMenu(ann.page, 'meet at 9');
      await ann.page.getByTestId('action-edit').click();
      await send(ann.page, 'meet at 10');
      await rowWithText(ben.page, 'meet at 10').getByTestId('edited-mark').waitFor({ timeout: UI_TIMEOUT });
      await send(ann.page, 'wrong chat, sorry');
      await messageWithText(ben.page, 'wrong chat, sorry').waitFor({ timeout: UI_TIMEOUT });
      await openMenu(ann.page, 'wrong chat, sorry');
      await ann.page.getByTestId('action-delete').click();
      await ann.page.getByTestId('confirm-delete-everyone').click();
      await ben.page
        .getByTestId('deleted-placeholder')
        .filter({ hasText: '此消息已被删除' })
        .waitFor({ timeout: UI_TIMEOUT });
      await expect(messageWithText(ben.page, 'wrong chat, sorry').count()).resolves.toBe(0);
      // A photo with a caption, uploaded once for everyone.
      const png = Buffer.from(
        await ann.page.evaluate(() => {
          const canvas = document.createElement('canvas');
          canvas.width = 48;
          canvas.height = 32;
          const g = canvas.getContext('2d')!;
          g.fillStyle = '#3a7';
          g.fillRect(0, 0, 48, 32);
          return canvas.toDataURL('image/png').split(',')[1] ?? '';
        }),
        'base64',
      );
      await ann.page
        .getByTestId('attachment-input')
        .setInputFiles({ name: 'summit.png', mimeType: 'image/png', buffer: png });
      await ann.page.getByTestId('attachment-preview').waitFor({ timeout: UI_TIMEOUT });
      await ann.page.getByTestId('attachment-caption').fill('the summit');
      await ann.page.getByTestId('attachment-send').click();
      const photo = ben.page.locator('[data-testid="message"][data-kind="image"]').last();
      await photo.getByTestId('attachment-image').waitFor({ timeout: UI_TIMEOUT });
      await expect(photo.locator('.bubble-text').textContent()).resolves.toBe('the summit');
      await cat.waitFor(
        'the photo on the CLI',
        (e) => e.type === 'message' && e.text === 'the summit' && Array.isArray(e.attachments),
        120_000,
      );
      // Ben types: Ann's header names him.
      await ben.page.getByTestId('message-input').fill('我在打字');
      await ann.page
        .getByTestId('typing-indicator')
        .filter({ hasText: `${BEN} is typing…` })
        .waitFor({ timeout: UI_TIMEOUT });
      await ben.page.getByTestId('message-input').fill('');
      // Ann's message info lists every member it went to.
      await openMenu(ann.page, 'meet at 10');
      await ann.page.getByTestId('action-info').click();
      await ann.page.getByTestId('info-recipient').nth(2).waitFor({ timeout: UI_TIMEOUT });
      await expect(ann.page.getByTestId('info-recipient').count()).resolves.toBe(3);
      await expect(seriousViolations(ann.page)).resolves.toEqual([]);
      await shoot(ann.page, '02b-info-desktop');
      await ann.page.keyboard.press('Escape');
      await shoot(ben.page, '03b-actions-phone-zh');

      // Ben is a member: the info lists everyone with roles, and offers no admin action.
      await ben.page.getByTestId('group-info-button').click();
      await memberItem(ben.page, ANN).waitFor({ timeout: UI_TIMEOUT });
      await expect(ben.page.getByTestId('group-member-item').count()).resolves.toBe(4);
      await expect(memberItem(ben.page, ANN).getAttribute('data-role')).resolves.toBe('admin');
      await expect(memberItem(ben.page, ANN).getByTestId('group-member-role').textContent()).resolves.toBe('管理员');
      await expect(memberItem(ben.page, CAT).getAttribute('data-role')).resolves.toBe('member');
      for (const admin of ['group-remove-member', 'group-make-admin', 'group-add-input', 'group-rename-button'])
        await expect(ben.page.getByTestId(admin).count()).resolves.toBe(0);
      await ben.page.getByTestId('group-admin-only-note').waitFor();
      await expect(seriousViolations(ben.page)).resolves.toEqual([]);
      await shoot(ben.page, '04-info-member-phone-zh');
      await ben.page.goBack();

      // Eve forges an admin-only change (a rename making herself admin), as a modified client would send it; then
      // a group message behind it. Ann gets the message and ignores the update.
      const held = await until('eve holds the group', () => eve.messenger.group(groupId));
      const forged = {
        ...held,
        revision: held.revision + 1,
        title: 'Taken over',
        members: held.members.map((m) => (m.accountId === eve.accountId ? { ...m, role: 'admin' as const } : m)),
      };
      const ctx = {
        platform: eve.platform,
        sequencer: { next: () => `${Date.now()}` },
        timestamps: { next: () => Date.now() },
      };
      const annAccount = await eve.messenger.resolve(ANN);
      const entry = newOutboxEntry(ctx as never, {
        destination: annAccount,
        kind: 'group-control',
        timestamp: Date.now(),
        content: encodeContent(updateContent(forged, Date.now())),
      });
      await eve.platform.storage.commit([{ op: 'put', table: 'outbox', key: entry.id, value: entry }]);
      await eve.messenger.flushOutbox();
      await eve.messenger.sendGroupText(groupId, 'eve after the forgery');
      await eve.messenger.flushOutbox();
      await messageWithText(ann.page, 'eve after the forgery').waitFor({ timeout: UI_TIMEOUT });
      await expect(ann.page.locator('#chat-title').textContent()).resolves.toBe(TITLE);
      await expect(systemLine(ann.page, 'Taken over').count()).resolves.toBe(0);
      await expect(eve.messenger.setGroupTitle(groupId, 'Taken over')).rejects.toThrow('only an admin');

      // A late member: Dan is added from the info screen and sees what follows, not what came before.
      const dan = listen(danDir);
      listeners.push(dan);
      await ann.page.getByTestId('group-info-button').click();
      await memberItem(ann.page, CAT).getByTestId('group-remove-member').waitFor({ timeout: UI_TIMEOUT });
      await expect(seriousViolations(ann.page)).resolves.toEqual([]);
      await shoot(ann.page, '05-info-admin-desktop');
      await ann.page.getByTestId('group-add-input').fill(DAN);
      await ann.page.getByTestId('group-add-button').click();
      await memberItem(ann.page, DAN).waitFor({ timeout: UI_TIMEOUT });
      await ann.page.goBack();
      await systemLine(ann.page, `You added ${DAN}`).waitFor({ timeout: UI_TIMEOUT });
      await send(ann.page, 'welcome dan');
      await dan.waitFor('welcome dan', (e) => e.type === 'message' && e.text === 'welcome dan', 120_000);
      await systemLine(ben.page, `${ANN} 添加了 ${DAN}`).waitFor({ timeout: UI_TIMEOUT });

      // Cat is removed: the line says so, and nothing sent afterwards reaches Cat.
      await ann.page.getByTestId('group-info-button').click();
      await memberItem(ann.page, CAT).getByTestId('group-remove-member').click();
      await memberItem(ann.page, CAT).waitFor({ state: 'detached', timeout: UI_TIMEOUT });
      await ann.page.goBack();
      await systemLine(ann.page, `You removed ${CAT}`).waitFor({ timeout: UI_TIMEOUT });
      await cat.waitFor(
        'the removal',
        (e) => e.type === 'group-update' && typeof e.text === 'string' && e.text.includes(`removed ${CAT}`),
        120_000,
      );
      await send(ann.page, 'after cat left');
      await messageWithText(ben.page, 'after cat left').waitFor({ timeout: UI_TIMEOUT });
      await dan.waitFor('after cat left', (e) => e.type === 'message' && e.text === 'after cat left', 120_000);

      // Ben goes offline; meanwhile Ann writes and renames the group. After a cold start Ben catches up.
      await ben.context.close();
      await send(ann.page, 'while you were away');
      await ann.page.getByTestId('group-info-button').click();
      await ann.page.getByTestId('group-rename-button').click();
      await ann.page.getByTestId('group-rename-input').fill(RENAMED);
      await ann.page.getByTestId('group-rename-save').click();
      await ann.page.getByTestId('group-title').filter({ hasText: RENAMED }).waitFor({ timeout: UI_TIMEOUT });
      await ann.page.goBack();
      await systemLine(ann.page, `You renamed the group to “${RENAMED}”`).waitFor({ timeout: UI_TIMEOUT });
      ben = await launchProfile(ben.name, server.url, {
        dir: ben.dir,
        locale: 'zh-CN',
        viewport: { width: 390, height: 844 },
      });
      const renamed = item(ben.page, RENAMED);
      await renamed.getByTestId('unread-count').waitFor({ timeout: UI_TIMEOUT });
      await renamed.click();
      await messageWithText(ben.page, 'while you were away').waitFor({ timeout: UI_TIMEOUT });
      await systemLine(ben.page, `${ANN} 将群组重命名为“${RENAMED}”`).waitFor({ timeout: UI_TIMEOUT });
      // History from before the restart is still there.
      await messageWithText(ben.page, 'hello team').waitFor({ timeout: UI_TIMEOUT });
      // A former member's messages keep their name.
      await expect(
        messageWithText(ben.page, 'cat on the cli').getByTestId('message-sender').textContent(),
      ).resolves.toBe(CAT);
      await expect(seriousViolations(ben.page)).resolves.toEqual([]);

      // Ann makes Ben an admin: his info now offers the admin actions. Then he leaves.
      await ann.page.getByTestId('group-info-button').click();
      await memberItem(ann.page, BEN).getByTestId('group-make-admin').click();
      await memberItem(ann.page, BEN).and(ann.page.locator('[data-role="admin"]')).waitFor({ timeout: UI_TIMEOUT });
      await ann.page.goBack();
      await ben.page.getByTestId('group-info-button').click();
      await ben.page.getByTestId('group-rename-button').waitFor({ timeout: UI_TIMEOUT });
      await ben.page.getByTestId('group-leave-button').click();
      await ben.page.getByTestId('group-leave-confirm').click();
      await ben.page.goBack();
      await ben.page.getByTestId('group-inactive').waitFor({ timeout: UI_TIMEOUT });
      await expect(ben.page.getByTestId('message-input').count()).resolves.toBe(0);
      await systemLine(ann.page, `${BEN} left the group`).waitFor({ timeout: UI_TIMEOUT });
      await shoot(ben.page, '06-left-phone-zh');

      // What Cat and Dan saw, in the end: Cat nothing after the removal, Dan nothing from before he joined.
      const catTexts = cat
        .events()
        .filter((e) => e.type === 'message')
        .map((e) => e.text);
      expect(catTexts).toContain('hello team');
      expect(catTexts).not.toContain('after cat left');
      expect(catTexts).not.toContain('while you were away');
      const danTexts = dan
        .events()
        .filter((e) => e.type === 'message')
        .map((e) => e.text);
      expect(danTexts).not.toContain('hello team');
      expect(danTexts).toContain('while you were away');
      expect(cat.events().filter((e) => e.type === 'undecryptable' || e.status === 'undecryptable')).toEqual([]);
    },
    SLOW,
  );
});
