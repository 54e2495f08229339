/**
 * Attacks on the PWA from the security review (issue 9), in Debian's Chromium against the real server, with Node
 * clients as the peers: a stored message with hostile values (a timestamp past JavaScript's date range, a text
 * that is not a string, an unknown status) must leave the list and the chat usable, before and after a reload.
 * Screenshots go to test-results/pwa/.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';

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
  startServer,
  type Profile,
  type TestServer,
} from './support/harness.js';
import { readSealedRow, writeSealedRow } from './support/inspect.js';

/** Browser scenarios on a shared 2-core machine take a while; nothing here asserts on time. */
const SLOW = 300_000;
const suffix = Math.random().toString(36).slice(2, 7);
const VICTIM = `victim_${suffix}`;

let server: TestServer;
let victim: Profile;
let peer: TestClient;
const clients: TestClient[] = [];

beforeAll(async () => {
  buildPwaIfStale();
  server = await startServer();
}, SLOW);

afterAll(async () => {
  if (victim && !victim.page.isClosed()) await screenshot(victim.page, 'zz-last-hardening').catch(() => undefined);
  for (const c of clients) await destroyClient(c);
  await victim?.close();
  await server?.close();
}, SLOW);

/** A message key after every existing one: the core's layout, "<conversation>/<17-digit µs clock><6 hex>". */
const laterMessageKey = (conversationId: string, offsetUs: number): string =>
  `${conversationId}/${String(Date.now() * 1000 + offsetUs).padStart(17, '0')}ffffff`;

describe('PWA hardening in Chromium', () => {
  it(
    'should keep the list and the chat usable when a stored message carries hostile values, after a reload too',
    async () => {
      victim = await launchProfile('victim', server.url);
      await register(victim.page, VICTIM);
      peer = await newClient(server.url, `peer_${suffix}`);
      clients.push(peer);
      await peer.messenger.connect();
      await peer.messenger.sendText(VICTIM, 'Hello before the hostile one');
      const victimId = await peer.messenger.resolve(VICTIM);
      await openChat(victim.page, peer.name);
      await messageWithText(victim.page, 'Hello before the hostile one').waitFor({ timeout: UI_TIMEOUT });

      // What a crafted Content could have left in storage: JavaScript dates end at 8.64e15 ms.
      const conversationId = peer.accountId;
      const base = {
        conversationId,
        direction: 'incoming',
        authorAccountId: peer.accountId,
        authorDeviceId: 1,
        serverTimestamp: 9e15,
        storedAt: Date.now(),
        quote: null,
        expireTimerSeconds: null,
        read: false,
        error: null,
      };
      const hostileTime = laterMessageKey(conversationId, 1);
      const hostileShape = laterMessageKey(conversationId, 2);
      await writeSealedRow(victim.page, 'messages', hostileTime, {
        ...base,
        id: hostileTime,
        timestamp: 9e15,
        text: 'Hostile timestamp',
        status: 'received',
      });
      await writeSealedRow(victim.page, 'messages', hostileShape, {
        ...base,
        id: hostileShape,
        timestamp: -1e300,
        text: { not: 'a string' },
        status: 'no-such-status',
      });
      const conversation = (await readSealedRow(victim.page, 'conversations', conversationId)) as Record<
        string,
        unknown
      >;
      await writeSealedRow(victim.page, 'conversations', conversationId, {
        ...conversation,
        lastMessageAt: 9e15,
        lastMessageKey: hostileTime,
        unreadCount: 'many',
      });

      for (const round of ['after the write', 'after a second reload']) {
        await victim.page.goto(server.url);
        const item = victim.page.locator(`[data-testid="conversation-item"][data-conversation="${peer.name}"]`);
        await item.waitFor({ timeout: UI_TIMEOUT });
        // The list previews the last message: the hostile one, until the user sent something after it.
        if (round === 'after the write') await expect(item.textContent()).resolves.toContain('Hostile timestamp');
        await openChat(victim.page, peer.name);
        await messageWithText(victim.page, 'Hello before the hostile one').waitFor({ timeout: UI_TIMEOUT });
        await messageWithText(victim.page, 'Hostile timestamp').waitFor({ timeout: UI_TIMEOUT });
        await screenshot(victim.page, `20-hostile-message-${round.replace(/ /g, '-')}`);
        // Still a working messenger: what the user sends now reaches the peer.
        const text = `Sent ${round}`;
        await send(victim.page, text);
        await messageWithText(victim.page, text).waitFor({ timeout: UI_TIMEOUT });
        await until(`the peer got "${text}"`, async () => (await texts(peer, victimId)).includes(text), 120_000);
      }
      await expect(victim.page.getByTestId('app-error').count()).resolves.toBe(0);
    },
    SLOW,
  );
});
