/**
 * Linking devices in Debian's Chromium against the real server, with the `cove` CLI as the other device, both ways
 * (issue 13): a browser links to an account a CLI registered (the browser shows the QR code and the link URI, `cove
 * devices add URI` sends the account), then shows the messages the CLI sends and the peer's replies, lists both
 * devices with itself marked, and shows "This device was removed" when the CLI removes it, wiping itself on request.
 * The reverse: a browser's account links a waiting `cove link` from a pasted URI, after refusing a foreign scheme, a
 * damaged link and a well-formed link to no waiting device with clear errors; the CLI's messages appear in the
 * browser's chat as sent, and removing the CLI in Settings signs it out. Lean: one server, two browser profiles, one
 * peer in-process. Both ways, the existing device sends recent history (`--history`, the `link-transfer-history`
 * box): the new device shows the transfer's progress and its end, and lists the messages from before it existed —
 * the organization's notice among them, in the read-only Notices conversation with its admin sender.
 * Screenshots in English at 390×844 (light) and Chinese at 1280×800 (dark).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import jsQRModule from 'jsqr';

import { answer } from '../../apps/api/test/support/admin-socket.js';
import { cove, ensureCliBuilt, start, type RunningCommand } from '../support/cli.js';
import { destroyClient, newClient, texts, until, type TestClient } from '../support/clients.js';
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

// jsqr is CommonJS: under NodeNext the default import is its module object, whose `default` is the decoder.
const jsQR = jsQRModule.default;
const SLOW = 300_000;
const suffix = Math.random().toString(36).slice(2, 7);

let server: TestServer;
let peer: TestClient | undefined;
/** The organization's owner and an admin (in-process), for a notice the history carries. */
const organization: TestClient[] = [];
let adminSocket = '';
const profiles: Profile[] = [];
const commands: RunningCommand[] = [];

beforeAll(async () => {
  buildPwaIfStale();
  await ensureCliBuilt();
  adminSocket = join(await mkdtemp(join(tmpdir(), 'cove-linking-admin-')), 'admin.sock');
  server = await startServer({ ADMIN_SOCKET: adminSocket });
}, SLOW);

afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  for (const command of commands) await command.kill();
  if (peer) await destroyClient(peer);
  for (const client of organization) await destroyClient(client);
  for (const profile of profiles) await profile.close().catch(() => undefined);
  await server?.close();
}, SLOW);

const dataDir = (name: string): Promise<string> => mkdtemp(join(tmpdir(), `cove-linking-${name}-`));

describe('Linking devices in Chromium', () => {
  it(
    'should link a browser to a CLI account, show its messages and both devices, and show the removal',
    async () => {
      const cliName = `lk_cli_${suffix}`;
      const peerName = `lk_peer_${suffix}`;
      const cliDir = await dataDir('cli');
      expect((await cove(cliDir, ['register', '--server', server.url, '--username', cliName])).code).toBe(0);
      peer = await newClient(server.url, peerName);
      await peer.messenger.connect();
      expect((await cove(cliDir, ['send', peerName, 'before the browser'])).code).toBe(0);
      // An admin's notice reaches the CLI before the browser exists: the history carries it with its certificate.
      const invite = await answer(adminSocket, { command: 'owner-invite' });
      const owner = await newClient(server.url, `lk_owner_${suffix}`, { inviteCode: String(invite.code) });
      organization.push(owner);
      const adminName = `lk_admin_${suffix}`;
      organization.push(await newClient(server.url, adminName));
      await owner.messenger.organization.grant(adminName, 'admin');
      const noticeText = `Badge renewal this week ${suffix}`;
      await organization[1]!.messenger.sendNotice(noticeText);
      expect((await cove(cliDir, ['listen', '--exit-when-idle'])).stdout).toContain(noticeText);

      const profile = await launchProfile('linking-new', server.url, { viewport: { width: 390, height: 844 } });
      profiles.push(profile);
      const { page } = profile;
      await page.getByTestId('link-existing-button').click({ timeout: UI_TIMEOUT });
      await page.getByTestId('link-qr').waitFor({ timeout: UI_TIMEOUT });
      const uri = ((await page.getByTestId('link-uri').textContent()) ?? '').trim();
      expect(uri).toMatch(/^cove:\/\/link\?uuid=[A-Za-z0-9_-]{22}&pub_key=[A-Za-z0-9_-]{44}$/);
      // The QR code carries exactly the URI: read back from its pixels as a camera would.
      const pixels = await page.getByTestId('link-qr').evaluate((img: HTMLImageElement) => {
        const canvas = document.createElement('canvas');
        canvas.width = img.width;
        canvas.height = img.height;
        const context = canvas.getContext('2d');
        context?.drawImage(img, 0, 0, canvas.width, canvas.height);
        const data = context?.getImageData(0, 0, canvas.width, canvas.height).data ?? new Uint8ClampedArray(0);
        return { width: canvas.width, height: canvas.height, data: Array.from(data) };
      });
      expect(jsQR(Uint8ClampedArray.from(pixels.data), pixels.width, pixels.height)?.data).toBe(uri);
      // The code beside the QR is the end of the key in the URI: the other device shows the same.
      const code = (await page.getByTestId('link-code').textContent()) ?? '';
      // Two groups of four around one separator (the key's own characters may include "-" too).
      expect(code[4]).toBe('-');
      expect(code.slice(0, 4) + code.slice(5)).toBe(uri.slice(-8).toUpperCase());
      await page.getByTestId('link-device-name-input').fill('Test browser');
      await screenshot(page, 'linking-new-device-en');
      expect(await seriousViolations(page)).toEqual([]);

      // The CLI sends its recent history too: the browser shows the transfer's progress and how it ended.
      await page.evaluate(() => {
        const seen: string[] = [];
        (window as unknown as { historyPhases: string[] }).historyPhases = seen;
        new MutationObserver(() => {
          const phase = document.querySelector('[data-testid="history-transfer-progress"]')?.getAttribute('data-phase');
          if (phase && seen[seen.length - 1] !== phase) seen.push(phase);
        }).observe(document.body, { subtree: true, childList: true, attributes: true });
      });
      const added = await cove(cliDir, ['devices', 'link', uri, '--yes', '--history']);
      expect(added.code).toBe(0);
      await expect(page.getByTestId('history-transfer-done').textContent({ timeout: UI_TIMEOUT })).resolves.toMatch(
        /: 2$/,
      );
      const phases = await page.evaluate(() => (window as unknown as { historyPhases: string[] }).historyPhases);
      expect(phases).toEqual(expect.arrayContaining(['downloading', 'importing']));
      await screenshot(page, 'linking-history-done-en');
      expect(await seriousViolations(page)).toEqual([]);
      await page.getByTestId('history-transfer-continue').click();
      await page.getByTestId('welcome-done').click({ timeout: UI_TIMEOUT });
      // The message from before this browser existed is in its history, as sent by itself.
      await openChat(page, peerName);
      await messageWithText(page, 'before the browser')
        .and(page.locator('[data-direction="out"]'))
        .waitFor({ timeout: UI_TIMEOUT });
      await page.getByRole('button', { name: 'Back' }).first().click();
      await page.getByTestId('new-chat-button').waitFor({ timeout: UI_TIMEOUT });
      // So is the notice, in the pinned, read-only Notices conversation, with the admin as its sender.
      await page.getByTestId('notices-conversation').click({ timeout: UI_TIMEOUT });
      const notice = messageWithText(page, noticeText);
      await notice.waitFor({ timeout: UI_TIMEOUT });
      await expect(notice.getByTestId('message-sender').textContent()).resolves.toContain(adminName);
      await page.getByTestId('notices-read-only').waitFor({ timeout: UI_TIMEOUT });
      await expect(page.getByTestId('message-input').count()).resolves.toBe(0);
      await page.getByRole('button', { name: 'Back' }).first().click();
      await page.getByTestId('new-chat-button').waitFor({ timeout: UI_TIMEOUT });

      // Sent from the CLI after linking: the browser shows it as its own; the peer's reply reaches it too.
      expect((await cove(cliDir, ['send', peerName, 'sent from the cli'])).code).toBe(0);
      await openChat(page, peerName);
      await messageWithText(page, 'sent from the cli')
        .and(page.locator('[data-direction="out"]'))
        .waitFor({ timeout: UI_TIMEOUT });
      const cliAccount = await until('the peer knows the CLI', async () => {
        const id = await peer!.messenger.resolve(cliName);
        return (await texts(peer!, id, 'incoming')).includes('sent from the cli') ? id : null;
      });
      await peer.messenger.sendText(cliAccount, 'reply to both devices');
      await messageWithText(page, 'reply to both devices')
        .and(page.locator('[data-direction="in"]'))
        .waitFor({ timeout: UI_TIMEOUT });

      // Settings lists both devices, this one marked and named; a linked device is told it cannot manage devices.
      await page.getByRole('button', { name: 'Back' }).first().click();
      await page.getByTestId('settings-button').click();
      const items = page.getByTestId('device-item');
      await until('both devices listed', async () => ((await items.count()) === 2 ? true : null), UI_TIMEOUT);
      const mine = page.locator('[data-testid="device-item"][data-current]');
      await expect(mine.getAttribute('data-device-id')).resolves.toBe('2');
      await expect(mine.textContent()).resolves.toContain('Test browser');
      await expect(page.getByTestId('device-remove-button').count()).resolves.toBe(0);
      await expect(page.getByTestId('link-device-button').count()).resolves.toBe(0);
      await page.getByTestId('devices-not-primary').waitFor();
      await page.getByTestId('devices-section').scrollIntoViewIfNeeded();
      await screenshot(page, 'linking-devices-linked-en');
      const listed = await cove(cliDir, ['devices', 'list']);
      expect(listed.lines.some((l) => /^2\tTest browser\t/.test(l))).toBe(true);

      // The primary removes the browser: its socket closes (4004) and it says so, then wipes itself on request.
      expect((await cove(cliDir, ['devices', 'remove', '2'])).code).toBe(0);
      await page.getByTestId('device-removed').waitFor({ timeout: UI_TIMEOUT });
      await screenshot(page, 'linking-removed-en');
      expect(await seriousViolations(page)).toEqual([]);
      await page.getByTestId('wipe-device-button').click();
      await page.getByTestId('link-existing-button').waitFor({ timeout: UI_TIMEOUT });
    },
    SLOW,
  );

  it(
    "should link a CLI to a browser's account from a pasted URI, refusing foreign and damaged ones, and remove it",
    async () => {
      const peerName = `lk_peer_${suffix}`;
      const pwaName = `lk_pwa_${suffix}`;
      const profile = await launchProfile('linking-primary', server.url, {
        locale: 'zh-CN',
        viewport: { width: 1280, height: 800 },
      });
      profiles.push(profile);
      const { page } = profile;
      await page.emulateMedia({ colorScheme: 'dark' });
      await register(page, pwaName);
      await startChat(page, peerName);
      await send(page, 'hello from the browser');
      await until('the peer has it', async () => {
        const id = await peer!.messenger.resolve(pwaName);
        return (await texts(peer!, id, 'incoming')).includes('hello from the browser') || null;
      });

      await page.getByTestId('settings-button').click();
      await page.getByTestId('link-device-button').click({ timeout: UI_TIMEOUT });
      const input = page.getByTestId('link-uri-input');
      const confirm = page.getByTestId('link-confirm-button');
      const uriError = page.getByTestId('link-uri-error');
      // Hostile and mistaken input: explained, nothing sent, the app keeps working.
      await input.fill(`https://evil.example/link?uuid=${'A'.repeat(22)}&pub_key=BQ${'A'.repeat(42)}`);
      await confirm.click();
      await expect(uriError.getAttribute('data-error')).resolves.toBe('not-link');
      await input.fill('cove://link?uuid=<img src=x onerror=alert(1)>&pub_key=BQ');
      await confirm.click();
      await expect(uriError.getAttribute('data-error')).resolves.toBe('malformed');
      // Well formed, but no device waits behind it (a made-up channel): the server's 404 reads as "not waiting".
      await input.fill(`cove://link?uuid=${'Q'.repeat(22)}&pub_key=BQ${'x'.repeat(42)}`);
      await page.getByTestId('link-confirm-text').waitFor();
      await confirm.click();
      const addError = page.getByTestId('link-add-error');
      await addError.waitFor({ timeout: UI_TIMEOUT });
      await expect(addError.getAttribute('data-error')).resolves.toBe('expired');
      await page.getByTestId('link-device-dialog').getByRole('button', { name: '重试' }).click();

      const cliDir = await dataDir('laptop');
      const link = start(cliDir, ['link', '--server', server.url, '--device-name', 'CLI laptop']);
      commands.push(link);
      const uri = await link.waitForLine('the link URI', (line) => line.startsWith('cove://'));
      await input.fill(uri);
      await expect(page.getByTestId('link-confirm-code').textContent()).resolves.toBe(
        uri.slice(-8, -4).toUpperCase() + '-' + uri.slice(-4).toUpperCase(),
      );
      // The user chooses here whether the new device gets recent history.
      await page.getByTestId('link-transfer-history').check();
      await screenshot(page, 'linking-confirm-zh-dark');
      expect(await seriousViolations(page)).toEqual([]);
      await confirm.click();
      await expect(page.getByTestId('link-done').textContent({ timeout: UI_TIMEOUT })).resolves.toContain('CLI laptop');
      await page.getByTestId('history-transfer-sent').waitFor({ timeout: UI_TIMEOUT });
      expect(await link.exited).toBe(0);
      expect(link.lines.some((l) => l.startsWith(`linked as device 2 of ${pwaName}`))).toBe(true);
      expect(link.stderr.join('')).toMatch(/history: imported 1 messages/);
      const laptopHistory = await cove(cliDir, ['history', peerName], { json: true });
      expect(laptopHistory.lines.map((l) => (JSON.parse(l) as { text: string }).text)).toEqual([
        'hello from the browser',
      ]);
      await page.getByTestId('link-device-dialog').getByRole('button', { name: '关闭' }).last().click();

      const items = page.getByTestId('device-item');
      await until('both devices listed', async () => ((await items.count()) === 2 ? true : null), UI_TIMEOUT);
      await expect(items.nth(1).textContent()).resolves.toContain('CLI laptop');
      // The browser named itself at registration (encrypted), from its user agent.
      await expect(items.nth(0).textContent()).resolves.toContain('Chrome on Linux');
      await screenshot(page, 'linking-devices-primary-zh-dark');

      // The CLI sends as the account: the browser's chat shows it as sent by itself.
      expect((await cove(cliDir, ['send', peerName, 'sent from the linked laptop'])).code).toBe(0);
      await page
        .getByRole('button', { name: /返回|Back/ })
        .first()
        .click();
      await openChat(page, peerName);
      await messageWithText(page, 'sent from the linked laptop')
        .and(page.locator('[data-direction="out"]'))
        .waitFor({ timeout: UI_TIMEOUT });

      // Removing it in Settings, after a confirmation, signs it out on the server.
      await page.getByTestId('settings-button').click();
      await page.getByTestId('device-remove-button').click({ timeout: UI_TIMEOUT });
      await page.getByTestId('device-remove-confirm').click();
      await until('one device left', async () => ((await items.count()) === 1 ? true : null), UI_TIMEOUT);
      expect((await cove(cliDir, ['devices', 'list'])).code).not.toBe(0);
    },
    SLOW,
  );
});
