/**
 * The admin console in Chromium against the real server (PostgreSQL, `REGISTRATION=invite`, the local admin socket)
 * and real `cove` CLI processes: the owner takes the owner invite from the admin socket, registers in the PWA (whose
 * client makes the organization key), opens the console from Settings and creates an invite; a member registers with
 * it from the CLI and is refused the admin commands, and links a laptop that the owner removes from the console; the
 * owner sees the member, grants admin (its device signs the
 * certificate: the member's CLI can now administer), sends a notice the member's CLI receives as a notice, sets the
 * retention, disables the member (its live CLI socket is closed), and verifies the audit chain — which then reports
 * an edited row as broken. A member's PWA shows no console button, and the console route refuses it. The console is
 * screenshotted at 1280×800 (light, Chinese) and 390×844 (dark). One server and one owner profile for the file.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { Page } from 'playwright-core';

import { answer } from '../../apps/api/test/support/admin-socket.js';
import { cove, ensureCliBuilt, listen, start } from '../support/cli.js';
import {
  UI_TIMEOUT,
  launchProfile,
  screenshot,
  startServer,
  takeCspViolations,
  type Profile,
  type TestServer,
} from './support/harness.js';

/** Browser and CLI processes on a shared 2-core machine: a generous limit, never a timing assertion. */
const SLOW = 300_000;
const s = Math.random().toString(36).slice(2, 6);
const OWNER = `ac_owner_${s}`;
const MEMBER = `ac_member_${s}`;
const VIEWER = `ac_viewer_${s}`;

let server: TestServer;
let root = '';
let owner: Profile;
let viewer: Profile | undefined;
let invite = '';

const memberRow = (page: Page, username: string) =>
  page.locator(`[data-testid="admin-member-row"][data-username="${username}"]`);

/** Registers in the PWA with an invite code (the onboarding asks for one under `REGISTRATION=invite`). */
async function registerWithInvite(page: Page, username: string, code: string | null): Promise<void> {
  await page.getByTestId('username-input').fill(username);
  // null: the field was filled from an invite link.
  if (code !== null) await page.getByTestId('invite-input').fill(code);
  await page.getByTestId('register-button').click();
  const done = page.getByTestId('welcome-done');
  await done.waitFor({ timeout: UI_TIMEOUT });
  await done.click();
  await page.getByTestId('settings-button').waitFor({ timeout: UI_TIMEOUT });
}

/** From the chat list into the console through Settings (the console reads everything afresh). */
async function openConsole(page: Page): Promise<void> {
  const view = page.getByTestId('admin-console');
  if (await view.isVisible()) await view.locator('.toolbar .icon-button').click();
  else await page.getByTestId('settings-button').click();
  await page.getByTestId('admin-console-button').click({ timeout: UI_TIMEOUT });
  await page.getByTestId('admin-member-row').first().waitFor({ timeout: UI_TIMEOUT });
}

beforeAll(async () => {
  await ensureCliBuilt();
  root = await mkdtemp(join(tmpdir(), 'cove-admin-console-'));
  const socket = join(root, 'admin.sock');
  server = await startServer({ REGISTRATION: 'invite', ADMIN_SOCKET: socket });
  const ownerInvite = await answer(socket, { command: 'owner-invite' });
  expect(ownerInvite).toMatchObject({ ok: true });
  owner = await launchProfile('ac-owner', server.url, { locale: 'zh-CN', viewport: { width: 1280, height: 800 } });
  await registerWithInvite(owner.page, OWNER, String(ownerInvite.code));
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  await owner?.close();
  await viewer?.close();
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
}, SLOW);

describe('Admin console', () => {
  it(
    'should open from Settings for the owner and create an invite shown with a copy button and a link',
    async () => {
      const { page } = owner;
      await openConsole(page);
      await expect(memberRow(page, OWNER).getAttribute('data-role')).resolves.toBe('owner');
      await page.getByTestId('admin-invite-uses-input').fill('2');
      await page.getByTestId('admin-invite-create-button').click();
      invite = (await page.getByTestId('admin-invite-code').textContent({ timeout: UI_TIMEOUT })) ?? '';
      expect(invite).toMatch(/^[A-Za-z0-9_-]{22}$/);
      await expect(page.getByTestId('admin-invite-link').getAttribute('href')).resolves.toBe(
        `${server.url}/?invite=${invite}`,
      );
      await page.getByTestId('admin-invite-copy-button').waitFor();
      await page.locator('[data-testid="admin-invite-row"][data-live]').first().waitFor({ timeout: UI_TIMEOUT });
      // The server keeps only the code's hash.
      const rows = await server.query<{ code_hash: Buffer }>('SELECT code_hash FROM invites');
      for (const row of rows) expect(row.code_hash.toString('base64url')).not.toBe(invite);
      // The status card answers in counts; the audit card lists what happened.
      await page.getByTestId('admin-status-connections').waitFor({ timeout: UI_TIMEOUT });
      await page
        .locator('[data-testid="admin-audit-row"][data-event="invite_created"]')
        .waitFor({ timeout: UI_TIMEOUT });
      await screenshot(page, 'admin-console-01-1280-light-zh');
    },
    SLOW,
  );

  it(
    'should show a member who registered with the invite, refuse it the admin commands, remove its laptop and grant admin',
    async () => {
      const dir = join(root, 'member');
      expect(
        (await cove(dir, ['register', '--server', server.url, '--username', MEMBER, '--invite', invite])).code,
      ).toBe(0);
      // A member: the server refuses the admin endpoints (403 → not_admin).
      const refused = await cove(dir, ['admin', 'members']);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/administrator/);

      // The member links a laptop (the CLI's `link`, confirmed by its primary).
      const laptopDir = join(root, 'laptop');
      const linking = start(laptopDir, ['link', '--server', server.url, '--device-name', 'Laptop']);
      try {
        const uri = await linking.waitForLine('the link URI', (line) => line.startsWith('cove://'), 60_000);
        expect((await cove(dir, ['devices', 'add', uri])).code).toBe(0);
        expect(await linking.exited).toBe(0);
      } finally {
        await linking.kill();
      }

      const { page } = owner;
      await openConsole(page);
      const row = memberRow(page, MEMBER);
      await row.waitFor({ timeout: UI_TIMEOUT });
      await expect(row.getAttribute('data-role')).resolves.toBe('member');
      await expect(row.getByTestId('admin-member-device').count()).resolves.toBe(2);
      // A lost laptop: the admin removes that one device; the member's primary stays.
      await row
        .locator('[data-testid="admin-member-device"][data-device-id="2"]')
        .getByTestId('admin-remove-device-button')
        .click();
      await page.getByTestId('admin-confirm-button').click();
      await page
        .locator(`[data-testid="admin-member-row"][data-username="${MEMBER}"] [data-testid="admin-member-device"]`)
        .nth(1)
        .waitFor({ state: 'detached', timeout: UI_TIMEOUT });
      expect((await cove(laptopDir, ['devices', 'list'])).code).not.toBe(0);
      expect((await cove(dir, ['devices', 'list'])).code).toBe(0);
      await row.getByTestId('admin-grant-admin-button').click();
      await page
        .locator(`[data-testid="admin-member-row"][data-username="${MEMBER}"][data-role="admin"]`)
        .waitFor({ timeout: UI_TIMEOUT });
      // The certificate the owner's browser signed convinces the member's own client and the server.
      const org = JSON.parse((await cove(dir, ['org'], { json: true })).lines[0]!) as { role: string };
      expect(org.role).toBe('admin');
      expect((await cove(dir, ['admin', 'members'])).code).toBe(0);
    },
    SLOW,
  );

  it(
    "should send a notice the member's CLI receives, store a retention override, and disable the member (socket closed)",
    async () => {
      const { page } = owner;
      const listener = listen(join(root, 'member'));
      try {
        await listener.waitFor('member online', (e) => e.type === 'connection' && e.state === 'online', 60_000);
        const text = `Fire drill at three ${s}`;
        await page.getByTestId('admin-notice-input').fill(text);
        await page.getByTestId('admin-notice-send-button').click();
        await page.getByTestId('admin-notice-sent').waitFor({ timeout: UI_TIMEOUT });
        const notice = await listener.waitFor(
          'the notice',
          (e) => e.type === 'message' && e.notice === true && e.text === text,
          60_000,
        );
        expect(notice).toMatchObject({ sender: OWNER, senderRole: 'owner', conversationId: 'notices' });

        await page.getByTestId('admin-retention-envelope-input').fill('14');
        await page.getByTestId('admin-retention-attachment-input').fill('');
        await page.getByTestId('admin-retention-save-button').click();
        await page.getByTestId('admin-retention-saved').waitFor({ timeout: UI_TIMEOUT });
        expect(
          await server.query<{ e: string; a: string | null }>(
            'SELECT envelope_ttl_ms::text AS e, attachment_ttl_ms::text AS a FROM retention_settings',
          ),
        ).toEqual([{ e: String(14 * 86_400_000), a: null }]);

        await memberRow(page, MEMBER).getByTestId('admin-disable-button').click();
        await page.getByTestId('admin-confirm-dialog').waitFor();
        await page.getByTestId('admin-confirm-button').click();
        await listener.waitFor('member removed', (e) => e.type === 'connection' && e.state === 'removed', 30_000);
        await page
          .locator(`[data-testid="admin-member-row"][data-username="${MEMBER}"][data-disabled]`)
          .waitFor({ timeout: UI_TIMEOUT });
        await memberRow(page, MEMBER).getByTestId('admin-enable-button').waitFor();
      } finally {
        await listener.stop();
      }
    },
    SLOW,
  );

  it(
    'should verify the audit chain, then report an edited row as broken',
    async () => {
      const { page } = owner;
      await openConsole(page);
      for (const event of ['device_removed', 'role_admin', 'retention_changed', 'account_disabled'])
        await page.locator(`[data-testid="admin-audit-row"][data-event="${event}"]`).waitFor({ timeout: UI_TIMEOUT });
      await page.getByTestId('admin-audit-verify-button').click();
      const result = page.getByTestId('admin-audit-verify-result');
      await result.waitFor({ timeout: UI_TIMEOUT });
      await expect(result.getAttribute('data-intact')).resolves.toBe('true');

      await page.setViewportSize({ width: 390, height: 844 });
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.getByTestId('admin-audit').scrollIntoViewIfNeeded();
      await screenshot(page, 'admin-console-02-390-dark-audit');
      await page.getByTestId('admin-members').scrollIntoViewIfNeeded();
      await screenshot(page, 'admin-console-03-390-dark-members');
      await page.emulateMedia({ colorScheme: null });
      await page.setViewportSize({ width: 1280, height: 800 });

      await server.query(`UPDATE audit_log SET target = NULL WHERE seq = 3`);
      await page.getByTestId('admin-audit-verify-button').click();
      await page
        .locator('[data-testid="admin-audit-verify-result"][data-intact="false"]')
        .waitFor({ timeout: UI_TIMEOUT });
    },
    SLOW,
  );

  it(
    "should show a member's PWA no console button, and refuse the console route",
    async () => {
      viewer = await launchProfile('ac-viewer', server.url, { viewport: { width: 390, height: 844 } });
      const { page } = viewer;
      // The console's invite link: the onboarding takes the code from it and clears it from the address.
      await page.goto(`${server.url}/?invite=${encodeURIComponent(invite)}`);
      await expect(page.getByTestId('invite-input').inputValue({ timeout: UI_TIMEOUT })).resolves.toBe(invite);
      expect(new URL(page.url()).search).toBe('');
      await registerWithInvite(page, VIEWER, null);
      await page.getByTestId('settings-button').click();
      await page.getByTestId('organization-role').waitFor({ timeout: UI_TIMEOUT });
      await expect(page.getByTestId('organization-role').getAttribute('data-role')).resolves.toBe('member');
      await expect(page.getByTestId('admin-console-button').count()).resolves.toBe(0);
      await page.goto(`${server.url}/admin`);
      await page.getByTestId('admin-denied').waitFor({ timeout: UI_TIMEOUT });
      await expect(page.getByTestId('admin-members').count()).resolves.toBe(0);
    },
    SLOW,
  );
});
