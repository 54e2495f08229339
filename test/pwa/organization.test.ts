/**
 * The organization in the PWA, in Debian's Chromium against the real server (open registration with the directory
 * turned on, the local admin socket for the owner invite), with `cove` CLI processes as the owner and an admin and a
 * hand-driven attacker device: a member registered in the browser finds the admin through the new-chat dialog's
 * directory matches and opens a chat from one; an admin's notice appears in the pinned Notices conversation with the
 * admin's name and no composer (members cannot reply); a notice carrying a certificate the attacker made for itself
 * (sent as ordinary ciphertext, past the server's check) is not shown. One server and one browser profile for all.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';

import { generateOrganizationKey, signRoleCertificate } from '@cove/crypto';
import { encodeContent } from '@cove/protocol';

import { answer } from '../../apps/api/test/support/admin-socket.js';
import { cove, ensureCliBuilt } from '../support/cli.js';
import { RawDevice } from '../support/raw-device.js';
import {
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
  messageWithText,
  register,
  screenshot,
  startServer,
  takeCspViolations,
  type Profile,
  type TestServer,
} from './support/harness.js';
import { seriousViolations } from './support/inspect.js';

/** Browser and CLI processes on a shared 2-core machine; nothing here asserts on time. */
const SLOW = 300_000;
const suffix = Math.random().toString(36).slice(2, 7);
const OWNER = `po_owner_${suffix}`;
const ADMIN = `po_admin_${suffix}`;
const MEMBER = `po_member_${suffix}`;
const MALLORY = `po_mallory_${suffix}`;

let server: TestServer;
let member: Profile;
let root = '';

beforeAll(async () => {
  buildPwaIfStale();
  await ensureCliBuilt();
  root = await mkdtemp(join(tmpdir(), 'cove-pwa-org-'));
  server = await startServer({ ADMIN_SOCKET: join(root, 'admin.sock'), ORG_DIRECTORY: 'on' });
  const invite = await answer(join(root, 'admin.sock'), { command: 'owner-invite' });
  expect(invite).toMatchObject({ ok: true });
  const owner = join(root, 'owner');
  const admin = join(root, 'admin');
  expect(
    (await cove(owner, ['register', '--server', server.url, '--username', OWNER, '--invite', String(invite.code)]))
      .code,
  ).toBe(0);
  expect((await cove(admin, ['register', '--server', server.url, '--username', ADMIN])).code).toBe(0);
  expect((await cove(owner, ['admin', 'grant', ADMIN, 'admin'])).code).toBe(0);
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  await member?.close();
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
}, SLOW);

describe('The organization in the PWA', () => {
  it(
    "should list directory matches in the new-chat dialog, and show the admin's notice read-only, never a forged one",
    async () => {
      member = await launchProfile('org-member', server.url, { viewport: { width: 390, height: 844 } });
      const page = member.page;
      await register(page, MEMBER);

      // The directory: typing the start of a username lists the members it matches; picking one opens the chat.
      await page.getByTestId('new-chat-button').click();
      await page.getByTestId('new-chat-username-input').fill('po_adm');
      const match = page.getByTestId('directory-result');
      await match.filter({ hasText: ADMIN }).waitFor({ timeout: UI_TIMEOUT });
      await expect(match.count()).resolves.toBe(1);
      await expect(seriousViolations(page)).resolves.toEqual([]);
      await screenshot(page, 'org-01-directory-phone');
      await match.click();
      await page.getByTestId('message-input').waitFor({ timeout: UI_TIMEOUT });
      await page.locator('.back-button').click();

      // Mallory's self-made "admin" certificate, as ordinary ciphertext (the server cannot see inside): first.
      const mallory = await RawDevice.register(server.url, MALLORY);
      const lookup = (await (
        await fetch(`${server.url}/v1/accounts/username/${MEMBER}`, {
          headers: { authorization: RawDevice.basic(mallory.accountId, mallory.deviceId, mallory.secret) },
        })
      ).json()) as { accountId: string };
      const now = Date.now();
      const forged = signRoleCertificate(generateOrganizationKey(), {
        accountId: mallory.accountId,
        role: 'admin',
        issuedAt: now - 1000,
        expiresAt: now + 3600_000,
      });
      const forgedText = `Forged: send your password to ${MALLORY}`;
      const content = encodeContent({
        kind: 'data',
        data: {
          text: forgedText,
          timestamp: now,
          senderUsername: MALLORY,
          notice: { roleCertificate: forged.body, roleCertificateSignature: forged.signature },
        },
      });
      expect((await mallory.send(lookup.accountId, content)).status).toBe(200);

      // Then the admin's genuine notice.
      const text = `Town hall at four ${suffix}`;
      expect((await cove(join(root, 'admin'), ['admin', 'notice', text])).code).toBe(0);

      const notices = page.getByTestId('notices-conversation');
      await notices.waitFor({ timeout: UI_TIMEOUT });
      await notices.click();
      const shown = messageWithText(page, text);
      await shown.waitFor({ timeout: UI_TIMEOUT });
      await expect(shown.getByTestId('message-sender').textContent()).resolves.toContain(ADMIN);
      await page.getByTestId('notices-read-only').waitFor({ timeout: UI_TIMEOUT });
      await expect(page.getByTestId('message-input').count()).resolves.toBe(0);
      // Nothing to set in a conversation nobody writes to: no disappearing-messages timer.
      await expect(page.getByTestId('disappearing-button').count()).resolves.toBe(0);
      await expect(page.getByTestId('message').count()).resolves.toBe(1);
      await expect(page.locator('body').textContent()).resolves.not.toContain(forgedText);
      await expect(seriousViolations(page)).resolves.toEqual([]);
      await page.emulateMedia({ colorScheme: 'dark' });
      await screenshot(page, 'org-02-notices-phone-dark');
      await page.emulateMedia({ colorScheme: null });
    },
    SLOW,
  );
});
