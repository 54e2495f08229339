/**
 * Chat-list and account controls in the PWA, in Debian's Chromium against the real server: Alice in English at
 * 1280×800 with four more contacts (CLI accounts), Bob in Chinese at 390×844.
 * - Pin: four at most, in the order pinned (a fifth is refused with a notice), kept across tabs; opened from the
 *   "⋯" button, right click and Shift+F10.
 * - Mute: a push for a muted chat shows no notification and adds nothing to the unread count in the title; unmuted,
 *   the same push notifies (the control). The state is stored sealed (no plaintext in IndexedDB).
 * - Archive: an "Archived" folder at the end; a new message brings an unmuted chat back, a muted one stays.
 * - Sealed sender: once profile keys are exchanged Alice and Bob chat sealed; while the recipient's app is closed,
 *   every column of the envelopes waiting for them is free of the sender's account id (and the source is null).
 *   "Who may send you sealed messages" (contacts only / anyone) is switched in Chinese and stored by the server.
 * - Theme: Dark chosen in one tab applies in the other at once, survives a reload and is set before the body is
 *   parsed (no flash), with the theme-color meta following.
 * - Passphrase change (the current one is checked; the old one no longer unlocks) and "lock now" (both tabs lock).
 * - Delete account (typed confirmation): the old credentials are refused, and the peer's send fails with "this
 *   account no longer exists"; the other tab goes back to onboarding too. Log out: a reload shows onboarding and
 *   IndexedDB holds no row of the old profile.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';

import {
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
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
import {
  deliverPush,
  dumpIndexedDb,
  notifications,
  overwriteSealedRowAfterNextCommit,
  pushAndWaitForNotification,
  readSealedRow,
  seriousViolations,
} from './support/inspect.js';
import { cove, ensureCliBuilt } from '../support/cli.js';

/** Browser scenarios on a shared 2-core machine take a while; nothing here asserts on time. */
const SLOW = 400_000;
const suffix = Math.random().toString(36).slice(2, 7);
const ALICE = `su_alice_${suffix}`;
const BOB = `su_bob_${suffix}`;
const CONTACTS = [1, 2, 3, 4].map((n) => `su_c${n}_${suffix}`);
const OLD_PASSPHRASE = 'first passphrase 123';
const NEW_PASSPHRASE = 'second passphrase 456';

const zh = JSON.parse(
  readFileSync(new URL('../../apps/pwa/src/locales/zh-CN.json', import.meta.url), 'utf8'),
) as Record<string, Record<string, unknown>>;

let server: TestServer;
let alice: Profile;
let bob: Profile;
let root = '';

const row = (page: Page, title: string) =>
  page.locator('li.conversation-row', {
    has: page.locator(`[data-testid="conversation-item"][data-conversation="${title}"]`),
  });

/** The titles of the main list, top to bottom. */
const listOrder = (page: Page): Promise<string[]> =>
  page.$$eval('[data-testid="conversation-item"]', (items) =>
    items.map((i) => i.getAttribute('data-conversation') ?? ''),
  );

async function option(
  page: Page,
  title: string,
  testId: string,
  how: 'button' | 'right-click' | 'keyboard' = 'button',
) {
  const entry = row(page, title);
  await entry.waitFor({ timeout: UI_TIMEOUT });
  if (how === 'button') await entry.getByTestId('chat-options-button').click();
  else if (how === 'right-click') await entry.getByTestId('conversation-item').click({ button: 'right' });
  else {
    await entry.getByTestId('conversation-item').focus();
    await page.keyboard.press('Shift+F10');
  }
  await page.getByTestId('chat-options').waitFor({ timeout: UI_TIMEOUT });
  await page.getByTestId(testId).click();
  await page.getByTestId('chat-options').waitFor({ state: 'detached', timeout: UI_TIMEOUT });
}

async function waitForStatus(page: Page, text: string, status: string): Promise<void> {
  await page.waitForFunction(
    ([t, s]) =>
      [...document.querySelectorAll('[data-testid="message"]')].some(
        (el) => el.querySelector('.bubble-text')?.textContent === t && el.getAttribute('data-status') === s,
      ),
    [text, status] as const,
    { timeout: UI_TIMEOUT },
  );
}

/** A message bubble showing exactly `text` in the open chat. */
const bubble = (page: Page, text: string) =>
  page.locator('[data-testid="message"] .bubble-text').filter({ hasText: new RegExp(`^${text}$`) });

/** Moves within the app without reloading (a reload of a passphrase-locked profile would ask for it again). */
const navigate = (page: Page, path: string): Promise<void> =>
  page.evaluate((to) => {
    globalThis.history.pushState(null, '', to);
    globalThis.dispatchEvent(new PopStateEvent('popstate'));
  }, path);

/** The unread count the title shows ("(3) Cove"), 0 without one. */
const titleCount = async (page: Page): Promise<number> => Number(/^\((\d+)\)/.exec(await page.title())?.[1] ?? 0);

/** Sum of the unread badges of the rows that are not muted. */
const unmutedUnread = (page: Page): Promise<number> =>
  page.$$eval('[data-testid="conversation-item"]:not([data-muted])', (items) =>
    items.reduce((sum, i) => sum + Number(i.querySelector('[data-testid="unread-count"]')?.textContent ?? 0), 0),
  );

beforeAll(async () => {
  buildPwaIfStale();
  await ensureCliBuilt();
  server = await startServer();
  root = await mkdtemp(join(tmpdir(), 'cove-settings-ui-'));
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  for (const profile of [alice, bob])
    if (profile && !profile.page.isClosed())
      await screenshot(profile.page, `settings-ui-zz-last-${profile.name}`).catch(() => undefined);
  await alice?.close();
  await bob?.close();
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
}, SLOW);

describe('Chat list and account controls', () => {
  it(
    'should pin at most four in order, mute without notification or badge, and archive until a new message',
    async () => {
      alice = await launchProfile('su-alice', server.url, { viewport: { width: 1280, height: 800 } });
      bob = await launchProfile('su-bob', server.url, { locale: 'zh-CN', viewport: { width: 390, height: 844 } });
      await register(alice.page, ALICE);
      await register(bob.page, BOB);
      await Promise.all(
        CONTACTS.map(async (name) => {
          const dir = join(root, name);
          expect((await cove(dir, ['register', '--server', server.url, '--username', name])).code).toBe(0);
          expect((await cove(dir, ['send', ALICE, `hello from ${name}`])).code).toBe(0);
        }),
      );
      await startChat(bob.page, ALICE);
      await send(bob.page, 'Bob says hi');
      await waitForStatus(bob.page, 'Bob says hi', 'delivered');
      for (const name of [...CONTACTS, BOB]) await row(alice.page, name).waitFor({ timeout: UI_TIMEOUT });
      // Strangers' first messages are message requests: Alice accepts them before she pins, mutes and archives.
      for (const name of [...CONTACTS, BOB]) {
        await openChat(alice.page, name);
        await alice.page.getByTestId('request-accept').click();
        await alice.page.getByTestId('request-accept').waitFor({ state: 'detached', timeout: UI_TIMEOUT });
      }
      // Opening them read them: one contact writes again, so an unmuted chat has unread messages for the title count.
      expect((await cove(join(root, CONTACTS[0]!), ['send', ALICE, 'hello again'])).code).toBe(0);
      await openChat(alice.page, BOB);
      await row(alice.page, CONTACTS[0]!).getByTestId('unread-count').waitFor({ timeout: UI_TIMEOUT });

      // Pin four, by the button, right click and the keyboard; they come first in the order pinned.
      await option(alice.page, CONTACTS[2]!, 'chat-option-pin', 'button');
      await option(alice.page, CONTACTS[0]!, 'chat-option-pin', 'right-click');
      await option(alice.page, CONTACTS[3]!, 'chat-option-pin', 'keyboard');
      await option(alice.page, CONTACTS[1]!, 'chat-option-pin');
      const pinnedOrder = [CONTACTS[2]!, CONTACTS[0]!, CONTACTS[3]!, CONTACTS[1]!];
      await alice.page.waitForFunction(
        (expected) =>
          [...document.querySelectorAll('[data-testid="conversation-item"]')]
            .slice(0, 4)
            .map((i) => i.getAttribute('data-conversation'))
            .join() === expected,
        pinnedOrder.join(),
        { timeout: UI_TIMEOUT },
      );
      await expect(alice.page.getByTestId('pinned-icon').count()).resolves.toBe(4);
      // A fifth is refused, with a notice; nothing changes.
      await option(alice.page, BOB, 'chat-option-pin');
      await alice.page.getByTestId('list-notice').filter({ hasText: 'up to 4' }).waitFor({ timeout: UI_TIMEOUT });
      await expect(listOrder(alice.page)).resolves.toEqual([...pinnedOrder, BOB]);
      // Unpin one, pin Bob: he goes last among the pinned.
      await option(alice.page, CONTACTS[0]!, 'chat-option-unpin');
      await option(alice.page, BOB, 'chat-option-pin');
      const order = [CONTACTS[2]!, CONTACTS[3]!, CONTACTS[1]!, BOB, CONTACTS[0]!];
      await alice.page.waitForFunction(
        (expected) =>
          [...document.querySelectorAll('[data-testid="conversation-item"]')]
            .map((i) => i.getAttribute('data-conversation'))
            .join() === expected,
        order.join(),
        { timeout: UI_TIMEOUT },
      );
      // Another tab shows the same order (shared through the stored, sealed preferences).
      const second = await alice.context.newPage();
      await second.goto(server.url);
      await row(second, BOB).waitFor({ timeout: UI_TIMEOUT });
      await expect(listOrder(second)).resolves.toEqual(order);
      await second.close();

      // Mute Bob's chat from the chat header: his next message makes no notification and no title count.
      await openChat(alice.page, BOB);
      await alice.page.getByTestId('chat-header-options-button').click();
      await alice.page.getByTestId('chat-option-mute-always').click();
      await alice.page.getByTestId('chat-muted-icon').waitFor({ timeout: UI_TIMEOUT });
      await row(alice.page, BOB).getByTestId('muted-icon').waitFor({ timeout: UI_TIMEOUT });
      await expect(seriousViolations(alice.page)).resolves.toEqual([]);
      await screenshot(alice.page, 'settings-ui-01-list-pinned-muted');
      const stored = await dumpIndexedDb(alice.page);
      expect(stored.decrypted.some((line) => line.startsWith('meta/chat/') && line.includes('mutedUntil'))).toBe(true);
      expect(JSON.stringify(stored.stores)).not.toMatch(/mutedUntil|pinnedAt|archivedAfter/);

      const origin = server.url;
      const closeApp = async () => {
        await alice.context.newPage();
        await alice.page.close();
      };
      const reopenApp = async () => {
        alice.page = await alice.context.newPage();
        await alice.page.goto(origin);
        await row(alice.page, BOB).waitFor({ timeout: UI_TIMEOUT });
      };
      await closeApp();
      await send(bob.page, 'muted ping');
      await waitForStatus(bob.page, 'muted ping', 'sent');
      await deliverPush(alice.context, origin);
      // The worker fetched and stored it (Bob sees it delivered), and showed nothing.
      await waitForStatus(bob.page, 'muted ping', 'delivered');
      await new Promise((r) => setTimeout(r, 1000));
      expect(await notifications(alice.context, origin)).toEqual([]);
      await reopenApp();
      await row(alice.page, BOB).getByTestId('unread-count').waitFor({ timeout: UI_TIMEOUT });
      await alice.page.waitForFunction(() => /^\(\d+\)/.test(document.title), undefined, { timeout: UI_TIMEOUT });
      const unmuted = await unmutedUnread(alice.page);
      expect(unmuted).toBeGreaterThan(0);
      await expect(titleCount(alice.page)).resolves.toBe(unmuted);

      // The control: unmuted, the same kind of push notifies, and the title counts Bob's chat again.
      await option(alice.page, BOB, 'chat-option-unmute');
      await alice.page.waitForFunction(
        () => {
          const badges = [...document.querySelectorAll('[data-testid="unread-count"]')];
          const total = badges.reduce((sum, b) => sum + Number(b.textContent ?? 0), 0);
          return document.title.startsWith(`(${total}) `);
        },
        undefined,
        { timeout: UI_TIMEOUT },
      );
      expect(await titleCount(alice.page)).toBeGreaterThan(unmuted);
      await closeApp();
      await send(bob.page, 'loud ping');
      await waitForStatus(bob.page, 'loud ping', 'sent');
      await pushAndWaitForNotification(alice.context, origin, (n) => n.body.includes('loud ping'), UI_TIMEOUT);
      await reopenApp();

      // Archive two chats (archiving unpins); one is also muted. The folder comes last and opens them.
      await option(alice.page, CONTACTS[2]!, 'chat-option-archive');
      await option(alice.page, CONTACTS[3]!, 'chat-option-mute-1w');
      await option(alice.page, CONTACTS[3]!, 'chat-option-archive');
      await alice.page
        .getByTestId('archived-folder')
        .filter({ hasText: 'Archived (2)' })
        .waitFor({ timeout: UI_TIMEOUT });
      expect(await listOrder(alice.page)).not.toContain(CONTACTS[2]);
      await alice.page.getByTestId('archived-folder').click();
      await row(alice.page, CONTACTS[2]!).waitFor({ timeout: UI_TIMEOUT });
      await expect(listOrder(alice.page)).resolves.toEqual(expect.arrayContaining([CONTACTS[2], CONTACTS[3]]));
      await screenshot(alice.page, 'settings-ui-02-archived');
      await alice.page.getByTestId('archived-back').click();
      // New messages: the unmuted archived chat comes back, the muted one stays archived.
      expect((await cove(join(root, CONTACTS[2]!), ['send', ALICE, 'back again'])).code).toBe(0);
      expect((await cove(join(root, CONTACTS[3]!), ['send', ALICE, 'still quiet'])).code).toBe(0);
      await row(alice.page, CONTACTS[2]!).waitFor({ timeout: UI_TIMEOUT });
      await alice.page
        .getByTestId('archived-folder')
        .filter({ hasText: 'Archived (1)' })
        .waitFor({ timeout: UI_TIMEOUT });
      expect(await listOrder(alice.page)).not.toContain(CONTACTS[3]);
    },
    SLOW,
  );

  it(
    'should chat sealed (no trace of the sender while the recipient is away) and choose who may send sealed',
    async () => {
      /** Every column of the envelopes waiting for an account, as text, and whether any names the other account. */
      const waiting = (username: string) =>
        server.query<{ row: string; source_account_id: string | null; type: string }>(
          `SELECT row_to_json(e)::text AS row, e.source_account_id, e.type FROM envelopes e
           JOIN accounts a ON a.id = e.account_id WHERE lower(a.username) = lower($1) ORDER BY e.id`,
          [username],
        );
      const idOf = async (name: string): Promise<string> => {
        const [found] = await server.query<{ id: string }>('SELECT id FROM accounts WHERE lower(username) = $1', [
          name.toLowerCase(),
        ]);
        if (!found) throw new Error(`no account ${name}`);
        return found.id;
      };
      const aliceId = await idOf(ALICE);
      const bobId = await idOf(BOB);
      const mentions = (text: string, accountId: string): boolean =>
        text.toLowerCase().includes(accountId) || text.toLowerCase().includes(accountId.replace(/-/g, ''));

      // Profile keys travel with the first messages: Bob's reached Alice earlier, hers reaches him now.
      await openChat(alice.page, BOB);
      await send(alice.page, 'key for you');
      await waitForStatus(alice.page, 'key for you', 'delivered');
      // Bob (on a phone) still has the chat with Alice open from the first step.
      await bubble(bob.page, 'key for you').waitFor({ timeout: UI_TIMEOUT });

      // Bob is away (his app closed): Alice's message waits on the server with no trace of her.
      const bobAway = await bob.context.newPage();
      await bob.page.close();
      await send(alice.page, 'sealed while you were away');
      await waitForStatus(alice.page, 'sealed while you were away', 'sent');
      const toBob = await waiting(BOB);
      expect(toBob.length).toBeGreaterThan(0);
      for (const envelope of toBob) {
        expect(envelope).toMatchObject({ source_account_id: null, type: 'unidentified-sender' });
        expect(mentions(envelope.row, aliceId)).toBe(false);
      }
      bob.page = bobAway;
      await bob.page.goto(server.url);
      await openChat(bob.page, ALICE);
      await bubble(bob.page, 'sealed while you were away').waitFor({ timeout: UI_TIMEOUT });

      // And the other way: Alice away, Bob's reply waits sealed for her.
      const aliceAway = await alice.context.newPage();
      await alice.page.close();
      await send(bob.page, 'sealed reply');
      await waitForStatus(bob.page, 'sealed reply', 'sent');
      const toAlice = await waiting(ALICE);
      expect(toAlice.length).toBeGreaterThan(0);
      expect(toAlice.every((e) => e.source_account_id === null && e.type === 'unidentified-sender')).toBe(true);
      expect(toAlice.some((e) => mentions(e.row, bobId))).toBe(false);
      alice.page = aliceAway;
      await alice.page.goto(server.url);
      await openChat(alice.page, BOB);
      await bubble(alice.page, 'sealed reply').waitFor({ timeout: UI_TIMEOUT });

      // Who may send sealed: "contacts" by default; Bob (in Chinese, on a phone) opens it to anyone, the server
      // keeps it, Alice (in English) sees her own default; then Bob closes it again.
      const unrestricted = async (accountId: string) =>
        (
          await server.query<{ open: boolean }>(
            'SELECT unrestricted_unidentified_access AS open FROM accounts WHERE id = $1::uuid',
            [accountId],
          )
        )[0]?.open;
      await bob.page.goto(`${server.url}/settings`);
      const setting = bob.page.getByTestId('sealed-sender-setting');
      await setting.waitFor({ timeout: UI_TIMEOUT });
      const zhSettings = zh.settings as Record<string, string>;
      await setting.getByText(String(zhSettings.sealedSender)).waitFor({ timeout: UI_TIMEOUT });
      await bob.page.waitForFunction(
        () => document.querySelector<HTMLInputElement>('[data-testid="sealed-sender-contacts"]')?.checked === true,
        undefined,
        { timeout: UI_TIMEOUT },
      );
      await bob.page.getByTestId('sealed-sender-anyone').check({ timeout: UI_TIMEOUT });
      await setting.getByText(String(zhSettings.sealedSenderAnyoneHint)).waitFor({ timeout: UI_TIMEOUT });
      const deadline = Date.now() + UI_TIMEOUT;
      while ((await unrestricted(bobId)) !== true) {
        if (Date.now() > deadline) throw new Error('the server never took "anyone"');
        await new Promise((r) => setTimeout(r, 100));
      }
      await screenshot(bob.page, 'settings-ui-02b-sealed-sender-zh');
      await alice.page.goto(`${server.url}/settings`);
      await alice.page.getByTestId('sealed-sender-setting').getByText('Contacts only').waitFor({ timeout: UI_TIMEOUT });
      // The choice shows once the stored setting is read (the radios wait unchecked and disabled until then).
      await alice.page.waitForFunction(
        () => document.querySelector<HTMLInputElement>('[data-testid="sealed-sender-contacts"]')?.checked === true,
        undefined,
        { timeout: UI_TIMEOUT },
      );
      await expect(alice.page.getByTestId('sealed-sender-anyone').isChecked()).resolves.toBe(false);
      await expect(seriousViolations(alice.page)).resolves.toEqual([]);
      await alice.page.getByTestId('sealed-sender-setting').scrollIntoViewIfNeeded();
      await screenshot(alice.page, 'settings-ui-02c-sealed-sender-en');
      await bob.page.getByTestId('sealed-sender-contacts').check({ timeout: UI_TIMEOUT });
      await setting.getByText(String(zhSettings.sealedSenderContactsHint)).waitFor({ timeout: UI_TIMEOUT });
      const closedBy = Date.now() + UI_TIMEOUT;
      while ((await unrestricted(bobId)) !== false) {
        if (Date.now() > closedBy) throw new Error('the server never took "contacts"');
        await new Promise((r) => setTimeout(r, 100));
      }

      // Bob opens it to anyone again, and another device of his turns it back while his save is finishing: that
      // device's change reaches the server after his, and his device stores it right after storing his own choice,
      // before the screen reads the setting again. While his save is on its way the radios show his choice; once
      // it is over the stored setting wins (they must not stick on his choice until the next change).
      let shownInFlight: string | null = null;
      let turnedBack = 0;
      await bob.page.route('**/v1/accounts/attributes', async (route) => {
        if (route.request().method() !== 'PUT') return route.fallback();
        const response = await route.fetch();
        try {
          shownInFlight = await setting.getAttribute('data-value');
          const { authorization = '' } = await route.request().allHeaders();
          turnedBack = (
            await fetch(route.request().url(), {
              method: 'PUT',
              headers: { authorization, 'content-type': 'application/json' },
              body: JSON.stringify({ unrestrictedUnidentifiedAccess: false }),
            })
          ).status;
        } finally {
          await route.fulfill({ response });
        }
      });
      await overwriteSealedRowAfterNextCommit(bob.page, 'meta', 'sealed/accept', 'contacts');
      await bob.page.getByTestId('sealed-sender-anyone').click({ timeout: UI_TIMEOUT });
      await bob.page.waitForFunction(
        () => (globalThis as unknown as { coveOverwrite?: { done: boolean } }).coveOverwrite?.done === true,
        undefined,
        { timeout: UI_TIMEOUT },
      );
      expect(shownInFlight).toBe('anyone');
      expect(turnedBack).toBe(204);
      await bob.page.waitForFunction(
        () =>
          document.querySelector<HTMLInputElement>('[data-testid="sealed-sender-contacts"]')?.checked === true &&
          document.querySelector<HTMLInputElement>('[data-testid="sealed-sender-anyone"]')?.checked === false,
        undefined,
        { timeout: UI_TIMEOUT },
      );
      await setting.getByText(String(zhSettings.sealedSenderContactsHint)).waitFor({ timeout: UI_TIMEOUT });
      await expect(readSealedRow(bob.page, 'meta', 'sealed/accept')).resolves.toBe('contacts');
      await expect(unrestricted(bobId)).resolves.toBe(false);
      await bob.page.unroute('**/v1/accounts/attributes');
      await alice.page.goto(server.url);
      await bob.page.goto(server.url);
      await bob.page.getByTestId('new-chat-button').waitFor({ timeout: UI_TIMEOUT });
    },
    SLOW,
  );

  it(
    'should switch to dark before the first paint in every tab, change the passphrase and lock every tab',
    async () => {
      // Records the theme at the moment the parser creates <body>: set by then means no frame in the wrong theme.
      await bob.context.addInitScript(() => {
        const seen = new MutationObserver(() => {
          if (!document.body) return;
          (globalThis as unknown as { themeAtBody?: string | null }).themeAtBody =
            document.documentElement.getAttribute('data-theme');
          seen.disconnect();
        });
        seen.observe(document, { childList: true, subtree: true });
      });
      const tab2 = await bob.context.newPage();
      await tab2.goto(server.url);
      await tab2.getByTestId('new-chat-button').waitFor({ timeout: UI_TIMEOUT });
      await bob.page.goto(`${server.url}/settings`);
      await bob.page.getByTestId('theme-dark').check({ timeout: UI_TIMEOUT });
      for (const page of [bob.page, tab2])
        await page.waitForFunction(() => document.documentElement.getAttribute('data-theme') === 'dark', undefined, {
          timeout: UI_TIMEOUT,
        });
      await expect(
        tab2.evaluate(() => document.querySelector('meta[name="theme-color"]')?.getAttribute('content')),
      ).resolves.toBe('#0d1719');
      await expect(
        tab2.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue('--bg').trim()),
      ).resolves.toBe('#0d1719');
      await bob.page.reload();
      await bob.page.getByTestId('theme-dark').waitFor({ timeout: UI_TIMEOUT });
      await expect(bob.page.getByTestId('theme-dark').isChecked()).resolves.toBe(true);
      await expect(
        bob.page.evaluate(() => (globalThis as unknown as { themeAtBody?: string | null }).themeAtBody),
      ).resolves.toBe('dark');
      await expect(seriousViolations(bob.page)).resolves.toEqual([]);
      await screenshot(bob.page, 'settings-ui-03-settings-dark-zh');

      // Passphrase: set, then change (a wrong current one is refused).
      await bob.page.getByTestId('passphrase-input').fill(OLD_PASSPHRASE);
      await bob.page.getByTestId('passphrase-confirm-input').fill(OLD_PASSPHRASE);
      await bob.page.getByTestId('passphrase-submit').click();
      // Setting it re-keys: the other tab reloads and asks for it.
      await tab2.getByTestId('unlock-input').waitFor({ timeout: UI_TIMEOUT });
      await tab2.getByTestId('unlock-input').fill(OLD_PASSPHRASE);
      await tab2.getByTestId('unlock-button').click();
      await tab2.getByTestId('new-chat-button').waitFor({ timeout: UI_TIMEOUT });
      const form = bob.page.getByTestId('change-passphrase-form');
      await form.waitFor({ timeout: UI_TIMEOUT });
      await bob.page.getByTestId('passphrase-current-input').fill('not the passphrase');
      await bob.page.getByTestId('passphrase-new-input').fill(NEW_PASSPHRASE);
      await bob.page.getByTestId('passphrase-new-confirm-input').fill(NEW_PASSPHRASE);
      await bob.page.getByTestId('passphrase-change-submit').click();
      const wrong = String((zh.lock as Record<string, string>).wrong);
      await form.getByText(wrong).waitFor({ timeout: UI_TIMEOUT });
      await bob.page.getByTestId('passphrase-current-input').fill(OLD_PASSPHRASE);
      await bob.page.getByTestId('passphrase-change-submit').click();
      const changed = String((zh.settings as Record<string, string>).passphraseChanged);
      await form.getByText(changed).waitFor({ timeout: UI_TIMEOUT });
      // The other tab kept working (same keys): it still shows the list, unlocked.
      await expect(tab2.getByTestId('unlock-input').count()).resolves.toBe(0);

      // Lock now: both tabs lock; the old passphrase fails, the new one opens.
      await bob.page.getByTestId('lock-now-button').click();
      for (const page of [bob.page, tab2]) await page.getByTestId('unlock-input').waitFor({ timeout: UI_TIMEOUT });
      await bob.page.getByTestId('unlock-input').fill(OLD_PASSPHRASE);
      await bob.page.getByTestId('unlock-button').click();
      await bob.page.getByText(wrong).waitFor({ timeout: UI_TIMEOUT });
      await bob.page.getByTestId('unlock-input').fill(NEW_PASSPHRASE);
      await bob.page.getByTestId('unlock-button').click();
      await bob.page.getByTestId('theme-choice').waitFor({ timeout: UI_TIMEOUT });
      await tab2.getByTestId('unlock-input').fill(NEW_PASSPHRASE);
      await tab2.getByTestId('unlock-button').click();
      await tab2.getByTestId('new-chat-button').waitFor({ timeout: UI_TIMEOUT });
      await tab2.close();
      await bob.page.getByTestId('theme-system').check();
    },
    SLOW,
  );

  it(
    'should delete the account (old credentials refused, the peer told it is gone) and log out with a wipe',
    async () => {
      const account = (await readSealedRow(alice.page, 'meta', 'account')) as {
        accountId: string;
        deviceId: number;
        secret: { $bytes: string };
      };
      const secret = Buffer.from(account.secret.$bytes, 'base64').toString('base64');
      const authorization = `Basic ${Buffer.from(`${account.accountId}.${account.deviceId}:${secret}`).toString('base64')}`;
      const devices = () => fetch(`${server.url}/v1/devices`, { headers: { authorization } }).then((r) => r.status);
      await expect(devices()).resolves.toBe(200);
      const tab2 = await alice.context.newPage();
      await tab2.goto(server.url);
      await tab2.getByTestId('new-chat-button').waitFor({ timeout: UI_TIMEOUT });

      await alice.page.goto(`${server.url}/settings`);
      await alice.page.getByTestId('delete-account-button').click();
      const dialog = alice.page.getByTestId('delete-account-dialog');
      await dialog.waitFor({ timeout: UI_TIMEOUT });
      await expect(dialog.textContent()).resolves.toContain("can't be undone");
      await alice.page.getByTestId('delete-account-input').fill('someone_else');
      await expect(alice.page.getByTestId('delete-account-confirm').isDisabled()).resolves.toBe(true);
      await expect(seriousViolations(alice.page)).resolves.toEqual([]);
      await screenshot(alice.page, 'settings-ui-04-delete-dialog');
      await alice.page.getByTestId('delete-account-input').fill(ALICE.toUpperCase());
      await alice.page.getByTestId('delete-account-confirm').click();
      // Both tabs end at onboarding; the server refuses the old credentials.
      for (const page of [alice.page, tab2]) await page.getByTestId('username-input').waitFor({ timeout: UI_TIMEOUT });
      await expect(devices()).resolves.toBe(401);
      await tab2.close();

      // Bob writes to the deleted account: the send fails and says why.
      await navigate(bob.page, '/');
      await openChat(bob.page, ALICE);
      await send(bob.page, 'are you there?');
      await waitForStatus(bob.page, 'are you there?', 'failed');
      const gone = String(((zh.chat as Record<string, unknown>).failure as Record<string, string>).unknown_user);
      // The reason sits under the failed bubble (the only failed message of this chat).
      await bob.page.getByTestId('failure-reason').filter({ hasText: gone }).waitFor({ timeout: UI_TIMEOUT });

      // Bob logs out (his vault has a passphrase): a reload shows onboarding, and no row of his profile is left.
      await navigate(bob.page, '/settings');
      await bob.page.getByTestId('logout-button').click();
      await bob.page.getByTestId('logout-dialog').waitFor({ timeout: UI_TIMEOUT });
      await bob.page.getByTestId('logout-confirm').click();
      await bob.page.getByTestId('username-input').waitFor({ timeout: UI_TIMEOUT });
      await bob.page.reload();
      await bob.page.getByTestId('username-input').waitFor({ timeout: UI_TIMEOUT });
      const after = await dumpIndexedDb(bob.page);
      expect(after.stores.rows ?? []).toEqual([]);
      expect(after.decrypted).toEqual([]);
      await expect(bob.page.evaluate(() => localStorage.length)).resolves.toBe(0);
    },
    SLOW,
  );
});
