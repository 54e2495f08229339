/**
 * Message actions in the PWA, in Debian's Chromium against the real server, with two profiles: Alice in English at
 * 1280×800 and Bob in Chinese at 390×844. The menu (`message-actions`) opens from its button with the keyboard
 * (Enter, arrows, Escape gives focus back); Bob reacts from the quick bar and Alice sees the `reaction` chip; Bob
 * replies with a quote and Alice's bubble shows the quoted block; Alice edits (Bob sees the new text with
 * "已编辑") and deletes for everyone (Bob sees "此消息已被删除"); message info shows delivered and read times; axe
 * finds no serious violation with the menu open. Screenshots in light and dark go to test-results/pwa/. Then the
 * `cove` CLI (a real process) and the PWA react, edit and delete for everyone in both directions.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';

import {
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
  messageWithText,
  openChat,
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
import { cove, ensureCliBuilt } from '../support/cli.js';

/** Browser scenarios on a shared 2-core machine take a while; nothing here asserts on time. */
const SLOW = 300_000;
const suffix = Math.random().toString(36).slice(2, 7);
const ALICE = `ma_alice_${suffix}`;
const BOB = `ma_bob_${suffix}`;

let server: TestServer;
let alice: Profile;
let bob: Profile;

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

let root = '';

beforeAll(async () => {
  buildPwaIfStale();
  await ensureCliBuilt();
  server = await startServer();
  root = await mkdtemp(join(tmpdir(), 'cove-actions-interop-'));
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  for (const profile of [alice, bob])
    if (profile && !profile.page.isClosed())
      await screenshot(profile.page, `actions-zz-last-${profile.name}`).catch(() => undefined);
  await alice?.close();
  await bob?.close();
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
}, SLOW);

describe('Message actions in the PWA', () => {
  it(
    'should react, reply, edit and delete for everyone between an English and a Chinese profile',
    async () => {
      alice = await launchProfile('actions-alice', server.url, { viewport: { width: 1280, height: 800 } });
      bob = await launchProfile('actions-bob', server.url, { locale: 'zh-CN', viewport: { width: 390, height: 844 } });
      await register(alice.page, ALICE);
      await register(bob.page, BOB);
      await startChat(alice.page, BOB);
      await send(alice.page, 'Reply to me');
      await send(alice.page, 'Typo here');
      await send(alice.page, 'Delete me');
      await openChat(bob.page, ALICE);
      await messageWithText(bob.page, 'Delete me').waitFor({ timeout: UI_TIMEOUT });

      // Keyboard: the button opens the menu, focus lands on its first item, arrows move, Escape closes and gives
      // focus back to the button.
      await openMenu(bob.page, 'Reply to me');
      const focused = () => bob.page.evaluate(() => document.activeElement?.getAttribute('data-testid') ?? '');
      await expect(focused()).resolves.toBe('quick-reaction');
      await bob.page.keyboard.press('End');
      await expect(focused()).resolves.toBe('action-delete');
      await bob.page.keyboard.press('Escape');
      await bob.page.getByTestId('message-actions').waitFor({ state: 'detached', timeout: UI_TIMEOUT });
      await expect(focused()).resolves.toBe('message-actions-button');

      // React from the quick bar (Chinese labels), seen by Alice as a chip.
      await openMenu(bob.page, 'Reply to me');
      await expect(bob.page.getByTestId('action-reply').textContent()).resolves.toBe('回复');
      await expect(seriousViolations(bob.page)).resolves.toEqual([]);
      await screenshot(bob.page, 'actions-01-menu-phone-zh');
      await bob.page.locator('[data-testid="quick-reaction"][data-emoji="👍"]').click();
      const chip = rowWithText(alice.page, 'Reply to me').getByTestId('reaction');
      await chip.waitFor({ timeout: UI_TIMEOUT });
      await expect(chip.getAttribute('data-emoji')).resolves.toBe('👍');
      await expect(chip.getAttribute('data-count')).resolves.toBe('1');
      // Alice adds the same emoji by tapping the chip: two people, one chip counting 2.
      await chip.click();
      await rowWithText(bob.page, 'Reply to me')
        .locator('[data-testid="reaction"][data-count="2"]')
        .waitFor({ timeout: UI_TIMEOUT });

      // Reply with a quote.
      await openMenu(bob.page, 'Reply to me');
      await bob.page.getByTestId('action-reply').click();
      await bob.page.getByTestId('quote-preview').waitFor({ timeout: UI_TIMEOUT });
      await send(bob.page, '这是回复');
      const reply = rowWithText(alice.page, '这是回复');
      await reply.getByTestId('quoted-message').waitFor({ timeout: UI_TIMEOUT });
      await expect(reply.getByTestId('quoted-message').textContent()).resolves.toContain('Reply to me');
      await reply.getByTestId('quoted-message').click();
      await expect(bob.page.getByTestId('quote-preview').count()).resolves.toBe(0);

      // Edit: the composer takes the text; Bob sees the new one marked "已编辑"; the history is in the info dialog.
      await openMenu(alice.page, 'Typo here');
      await alice.page.getByTestId('action-edit').click();
      // The composer takes the text in an effect after the tap: wait for it rather than read it at once.
      await alice.page.waitForFunction(
        (text) => document.querySelector<HTMLTextAreaElement>('[data-testid="message-input"]')?.value === text,
        'Typo here',
        { timeout: UI_TIMEOUT },
      );
      await send(alice.page, 'Fixed here');
      const edited = rowWithText(bob.page, 'Fixed here');
      await edited.getByTestId('edited-mark').waitFor({ timeout: UI_TIMEOUT });
      await expect(edited.getByTestId('edited-mark').textContent()).resolves.toBe('已编辑');
      await expect(rowWithText(alice.page, 'Fixed here').getByTestId('edited-mark').textContent()).resolves.toBe(
        'edited',
      );
      await openMenu(bob.page, 'Fixed here');
      await bob.page.getByTestId('action-info').click();
      await bob.page.getByTestId('edit-history').waitFor({ timeout: UI_TIMEOUT });
      await expect(bob.page.getByTestId('edit-history').textContent()).resolves.toContain('Typo here');
      await bob.page.keyboard.press('Escape');

      // Delete for everyone, confirmed in the dialog.
      await openMenu(alice.page, 'Delete me');
      await alice.page.getByTestId('action-delete').click();
      await alice.page.getByTestId('confirm-delete-everyone').click();
      await bob.page
        .getByTestId('deleted-placeholder')
        .filter({ hasText: '此消息已被删除' })
        .waitFor({ timeout: UI_TIMEOUT });
      await alice.page
        .getByTestId('deleted-placeholder')
        .filter({ hasText: 'This message was deleted' })
        .waitFor({ timeout: UI_TIMEOUT });
      await expect(messageWithText(bob.page, 'Delete me').count()).resolves.toBe(0);

      // Message info: Bob has the chat open, so Alice's message was delivered and read.
      await openMenu(alice.page, 'Fixed here');
      await alice.page.getByTestId('action-info').click();
      const info = alice.page.getByTestId('message-info');
      await info.getByTestId('info-read').waitFor({ timeout: UI_TIMEOUT });
      await alice.page.waitForFunction(
        () => document.querySelector('[data-testid="info-read"]')?.getAttribute('datetime'),
        undefined,
        { timeout: UI_TIMEOUT },
      );
      await expect(seriousViolations(alice.page)).resolves.toEqual([]);
      await screenshot(alice.page, 'actions-02-info-desktop-light');
      await alice.page.keyboard.press('Escape');

      // Light and dark, phone and desktop, with the menu open.
      await alice.page.emulateMedia({ colorScheme: 'dark' });
      await openMenu(alice.page, 'Fixed here');
      await expect(seriousViolations(alice.page)).resolves.toEqual([]);
      await screenshot(alice.page, 'actions-03-menu-desktop-dark');
      await alice.page.keyboard.press('Escape');
      await bob.page.emulateMedia({ colorScheme: 'dark' });
      await screenshot(bob.page, 'actions-04-chat-phone-dark-zh');
    },
    SLOW,
  );
  it(
    'should interoperate with the cove CLI: reactions, edits and deletes both ways',
    async () => {
      const CAROL = `ma_carol_${suffix}`;
      const carol = join(root, 'carol');
      const json = (stdout: string) =>
        stdout
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect((await cove(carol, ['register', '--server', server.url, '--username', CAROL])).code).toBe(0);
      expect((await cove(carol, ['send', ALICE, 'from the terminal'])).code).toBe(0);
      expect((await cove(carol, ['send', ALICE, 'terminal typo'])).code).toBe(0);
      expect((await cove(carol, ['send', ALICE, 'terminal regret'])).code).toBe(0);
      await openChat(alice.page, CAROL);
      await messageWithText(alice.page, 'terminal regret').waitFor({ timeout: UI_TIMEOUT });

      // The CLI edits and deletes its own messages and reacts to Alice's; the PWA shows all three.
      await send(alice.page, 'from the browser');
      await messageWithText(alice.page, 'from the browser').waitFor({ timeout: UI_TIMEOUT });
      let history: Record<string, unknown>[] = [];
      for (let i = 0; i < 60 && !history.some((m) => m.text === 'from the browser'); i += 1) {
        expect((await cove(carol, ['listen', '--exit-when-idle'], { json: true })).code).toBe(0);
        history = json((await cove(carol, ['history', ALICE], { json: true })).stdout);
      }
      const idOf = (text: string) => history.find((m) => m.text === text)?.id as string;
      expect((await cove(carol, ['edit', ALICE, idOf('terminal typo'), 'terminal fixed'])).code).toBe(0);
      expect((await cove(carol, ['delete', ALICE, idOf('terminal regret'), '--for-everyone'])).code).toBe(0);
      expect((await cove(carol, ['react', ALICE, idOf('from the browser'), '🎉'])).code).toBe(0);
      await rowWithText(alice.page, 'terminal fixed').getByTestId('edited-mark').waitFor({ timeout: UI_TIMEOUT });
      await alice.page.getByTestId('deleted-placeholder').first().waitFor({ timeout: UI_TIMEOUT });
      await expect(messageWithText(alice.page, 'terminal regret').count()).resolves.toBe(0);
      await rowWithText(alice.page, 'from the browser')
        .locator('[data-testid="reaction"][data-emoji="🎉"]')
        .waitFor({ timeout: UI_TIMEOUT });

      // The PWA reacts, edits and deletes; `cove listen --json` reports each.
      await openMenu(alice.page, 'from the terminal');
      await alice.page.locator('[data-testid="quick-reaction"][data-emoji="❤️"]').click();
      await openMenu(alice.page, 'from the browser');
      await alice.page.getByTestId('action-edit').click();
      await send(alice.page, 'edited in the browser');
      await rowWithText(alice.page, 'edited in the browser')
        .getByTestId('edited-mark')
        .waitFor({ timeout: UI_TIMEOUT });
      await send(alice.page, 'browser regret');
      await openMenu(alice.page, 'browser regret');
      await alice.page.getByTestId('action-delete').click();
      await alice.page.getByTestId('confirm-delete-everyone').click();
      await alice.page.getByTestId('deleted-placeholder').nth(1).waitFor({ timeout: UI_TIMEOUT });
      const seen: Record<string, unknown>[] = [];
      for (let i = 0; i < 60 && !seen.some((e) => e.type === 'delete'); i += 1) {
        const run = await cove(carol, ['listen', '--exit-when-idle'], { json: true });
        expect(run.code).toBe(0);
        seen.push(...json(run.stdout));
      }
      expect(seen.find((e) => e.type === 'reaction')).toMatchObject({ emoji: '❤️', remove: false });
      expect(seen.find((e) => e.type === 'edit')).toMatchObject({ text: 'edited in the browser' });
      expect(seen.find((e) => e.type === 'delete')).toBeDefined();
      const text = (await cove(carol, ['history', ALICE])).stdout;
      expect(text).toContain('edited in the browser (edited)');
      expect(text).toMatch(/from the terminal \[❤️ 1\]/);
      expect(text).toContain('(this message was deleted)');
    },
    SLOW,
  );
});
