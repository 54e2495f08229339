/**
 * Attacks on the PWA from the security review (issue 9), in Debian's Chromium against the real server, with Node
 * clients as the peers: a stored message with hostile values (a timestamp past JavaScript's date range, a text
 * that is not a string, an unknown status) must leave the list and the chat usable, before and after a reload;
 * "Mark as verified" must refuse a safety number that changed after it was shown; a disappearing message must
 * vanish on time in a tab that is offline; a send refused with `queue_full` must say why; setting a passphrase
 * while another tab and the service worker keep storing messages must leave every row readable and lose no
 * message. Screenshots go to test-results/pwa/.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';

import { destroyClient, newClient, texts, until, type TestClient } from '../support/clients.js';
import {
  RESULTS,
  ROOT,
  UI_TIMEOUT,
  buildPwaIfStale,
  launchProfile,
  messageWithText,
  openChat,
  waitForMessage,
  register,
  screenshot,
  send,
  startServer,
  takeCspViolations,
  type Profile,
  type TestServer,
} from './support/harness.js';
import { deliverPush, readSealedRow, replaceStoredIdentity, writeSealedRow } from './support/inspect.js';
import { checkAllRowsOpen } from './support/vault-check.js';

/** Browser scenarios on a shared 2-core machine take a while; nothing here asserts on time. */
const SLOW = 300_000;
const suffix = Math.random().toString(36).slice(2, 7);
const VICTIM = `victim_${suffix}`;

let server: TestServer;
let victim: Profile;
const profiles: Profile[] = [];
/** Durations seen on the way (never asserted): written to test-results/pwa/hardening-figures.json. */
const figures: Record<string, number> = {};
let peer: TestClient;
let victimId = '';
const clients: TestClient[] = [];

beforeAll(async () => {
  buildPwaIfStale();
  server = await startServer();
}, SLOW);

/** Any Content-Security-Policy violation in any page or worker fails the test it happened in. */
afterEach(() => {
  expect(takeCspViolations()).toEqual([]);
});

afterAll(async () => {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'hardening-figures.json'), `${JSON.stringify(figures, null, 2)}\n`);
  if (victim && !victim.page.isClosed()) await screenshot(victim.page, 'zz-last-hardening').catch(() => undefined);
  for (const c of clients) await destroyClient(c);
  await victim?.close();
  for (const p of profiles) await p.close().catch(() => undefined);
  await server?.close();
}, SLOW);

/**
 * The disappearing message's timer. It runs from the moment the tab stores the message, and before it runs out the
 * test must see the message in the chat and read its stored row (after it, the page hides the message and its
 * 15-second sweep deletes the row). With 5 seconds that was a race on a slow machine: with the page's CPU throttled
 * 20 times (Chromium's CPU throttling, the rest of the machine loaded by two other suites) the row was read 1.7 s
 * after it was stored (0.14 s unthrottled), and at 100 times the message was not shown within a minute. 15 seconds
 * leaves the throttled case a margin of 9 times, for 10 seconds more of waiting; the test waits for the timer's end
 * as an event (the message leaving the page), not for a fixed time.
 */
const VANISH_SECONDS = 15;

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
      victimId = await peer.messenger.resolve(VICTIM);
      await openChat(victim.page, peer.name);
      await messageWithText(victim.page, 'Hello before the hostile one').waitFor({ timeout: UI_TIMEOUT });

      // What a crafted Content could have left in storage: JavaScript dates end at 8.64e15 ms.
      const conversationId = `direct:${peer.accountId}`;
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

  it(
    'should hide a disappearing message when its timer runs out in a tab that is offline, and sweep it from storage',
    async () => {
      await victim.page.goto(server.url);
      await openChat(victim.page, peer.name);
      await peer.messenger.sendText(VICTIM, 'Vanishing soon', { expireTimerSeconds: VANISH_SECONDS });
      await messageWithText(victim.page, 'Vanishing soon').waitFor({ timeout: UI_TIMEOUT });
      const conversation = (await readSealedRow(victim.page, 'conversations', `direct:${peer.accountId}`)) as {
        lastMessageKey: string;
      };
      const key = conversation.lastMessageKey;
      const stored = (await readSealedRow(victim.page, 'messages', key)) as {
        text: string;
        storedAt: number;
        expireTimerSeconds: number;
      };
      expect(stored.text).toBe('Vanishing soon');
      figures.vanishingReadAfterStoredMs = Date.now() - stored.storedAt;

      // Offline, and a fresh page: this tab never connects, so only the PWA's own reader and sweeper can help.
      await victim.context.setOffline(true);
      try {
        await victim.page.goto(server.url);
        await openChat(victim.page, peer.name);
        await messageWithText(victim.page, 'Hello before the hostile one').waitFor({ timeout: UI_TIMEOUT });
        figures.vanishingOfflineChatAfterStoredMs = Date.now() - stored.storedAt;
        const expiry = stored.storedAt + stored.expireTimerSeconds * 1000;
        // The timer's end is the event here: the page hides the message by its own timer, whenever the steps above
        // ended (before or after it).
        await messageWithText(victim.page, 'Vanishing soon').waitFor({
          state: 'detached',
          timeout: Math.max(0, expiry - Date.now()) + UI_TIMEOUT,
        });
        expect(Date.now()).toBeGreaterThanOrEqual(expiry);
        await until(
          'the sweep deleted the row',
          async () => (await readSealedRow(victim.page, 'messages', key)) === undefined,
          120_000,
        );
      } finally {
        await victim.context.setOffline(false);
      }
    },
    SLOW,
  );

  it(
    "should say why a send failed when the recipient's queue is full",
    async () => {
      const key = laterMessageKey(`direct:${peer.accountId}`, 3);
      await writeSealedRow(victim.page, 'messages', key, {
        id: key,
        conversationId: `direct:${peer.accountId}`,
        direction: 'outgoing',
        authorAccountId: victimId,
        authorDeviceId: 1,
        timestamp: Date.now(),
        serverTimestamp: null,
        storedAt: Date.now(),
        text: 'Refused with queue_full',
        quote: null,
        expireTimerSeconds: null,
        status: 'failed',
        read: true,
        error: 'queue_full',
      });
      await victim.page.goto(server.url);
      await openChat(victim.page, peer.name);
      await messageWithText(victim.page, 'Refused with queue_full').waitFor({ timeout: UI_TIMEOUT });
      const reason = victim.page.getByTestId('failure-reason');
      await reason.waitFor({ timeout: UI_TIMEOUT });
      await expect(reason.textContent()).resolves.toContain('too many messages waiting');
      await screenshot(victim.page, '21-queue-full');
    },
    SLOW,
  );

  it(
    'should refuse "Mark as verified" when the safety number changed after it was shown, and say so',
    async () => {
      await victim.page.goto(server.url);
      await openChat(victim.page, peer.name);
      await victim.page.locator('.chat-peer').click();
      const shown = (await victim.page.getByTestId('safety-number').textContent({ timeout: UI_TIMEOUT })) ?? '';
      expect(shown).toMatch(/^\d{60}$/);
      // The contact's key changes while the user compares (here: rewritten in storage, as after a reinstall).
      await replaceStoredIdentity(victim.page, peer.accountId);
      await victim.page.getByTestId('mark-verified-button').click();
      await victim.page.getByTestId('verify-changed').waitFor({ timeout: UI_TIMEOUT });
      await screenshot(victim.page, '22-verify-number-changed');
      const identity = (await readSealedRow(victim.page, 'identities', peer.accountId)) as { trust: string };
      expect(identity.trust).not.toBe('verified');
      await expect(victim.page.getByTestId('verification-state').textContent()).resolves.toBe('Not verified');
      // The screen now shows the new number; marking that one (after comparing it) works.
      await victim.page.waitForFunction(
        (old) => document.querySelector('[data-testid="safety-number"]')?.textContent !== old,
        shown,
        { timeout: UI_TIMEOUT },
      );
      await victim.page.getByTestId('mark-verified-button').click();
      await victim.page
        .getByTestId('verification-state')
        .filter({ hasText: /^Verified$/ })
        .waitFor({ timeout: UI_TIMEOUT });
      await expect(victim.page.getByTestId('verify-changed').count()).resolves.toBe(0);
    },
    SLOW,
  );

  it(
    'should leave every row readable and lose no message when a passphrase is set while another tab and the service worker write',
    async () => {
      const PASSPHRASE = 'a passphrase set mid-stream';
      const keyed = await launchProfile('keyed', server.url);
      profiles.push(keyed);
      const self = `keyed_${suffix}`;
      await register(keyed.page, self);
      const sender = await newClient(server.url, `sender_${suffix}`);
      clients.push(sender);
      await sender.messenger.connect();
      const sent = ['stream 000'];
      await sender.messenger.sendText(self, 'stream 000');
      await openChat(keyed.page, sender.name);
      await messageWithText(keyed.page, 'stream 000').waitFor({ timeout: UI_TIMEOUT });
      // A second tab of the profile on the same chat: it takes the connection while the first one re-keys.
      const second = await keyed.context.newPage();
      await second.goto(server.url);
      await openChat(second, sender.name);

      // While the first tab sets the passphrase, the peer keeps writing (a message every ~150 ms), the second tab
      // keeps sending (each send is a local commit first), and the service worker is woken to fetch and store.
      let streaming = true;
      const stream = (async () => {
        for (let i = 1; streaming; i++) {
          const text = `stream ${String(i).padStart(3, '0')}`;
          await sender.messenger.sendText(self, text);
          sent.push(text);
          await new Promise((resolve) => setTimeout(resolve, 150));
        }
      })();
      // Each send waits for its bubble (a local commit), so the tab's queue stays short on a loaded machine; when
      // the tab reloads to its lock screen (or a send is refused), the loop ends.
      const typing = (async () => {
        for (let i = 1; streaming; i++) {
          const text = `tab two ${String(i).padStart(3, '0')}`;
          const shown = await send(second, text)
            .then(() => messageWithText(second, text).waitFor({ timeout: 15_000 }))
            .then(
              () => true,
              () => false,
            );
          if (!shown) break;
        }
      })();
      const pushes = (async () => {
        while (streaming) {
          await deliverPush(keyed.context, server.url).catch(() => undefined);
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      })();
      await keyed.page.goto(`${server.url}/settings`);
      await messageWithText(second, 'stream 002').waitFor({ timeout: UI_TIMEOUT });
      await keyed.page.getByTestId('passphrase-input').fill(PASSPHRASE);
      await keyed.page.getByTestId('passphrase-confirm-input').fill(PASSPHRASE);
      await keyed.page.getByTestId('passphrase-submit').click();
      const started = Date.now();
      await keyed.page.getByText('Passphrase set.').waitFor({ timeout: UI_TIMEOUT });
      figures.passphraseSetDuringTrafficMs = Date.now() - started;
      streaming = false;
      await Promise.all([stream, typing, pushes]);
      await sender.messenger.flushOutbox();

      // Every row the profile holds opens under the keys now wrapped by the passphrase, all in one epoch.
      const probe = await keyed.context.newPage();
      await probe.goto(`${server.url}/icons/icon-192.png`);
      const right = await checkAllRowsOpen(probe, PASSPHRASE);
      expect(right.unreadable).toEqual([]);
      expect(right.otherEpoch).toBe(0);
      expect(right.rows).toBeGreaterThan(20);

      // The other tab is locked now; unlocking it shows every message, including those sent during the change.
      await second.getByTestId('unlock-input').waitFor({ timeout: UI_TIMEOUT });
      await second.getByTestId('unlock-input').fill(PASSPHRASE);
      const unlocking = Date.now();
      await second.getByTestId('unlock-button').click();
      await second.getByTestId('conversation-item').first().waitFor({ timeout: UI_TIMEOUT });
      figures.unlockToListMs = Date.now() - unlocking;
      await openChat(second, sender.name);
      await messageWithText(second, sent[sent.length - 1] ?? '').waitFor({ timeout: UI_TIMEOUT });
      // Every message is stored (those refused during the change were left on the server and fetched again):
      // what the peer sent, and what the second tab sent that reached the peer.
      const keyedId = await sender.messenger.resolve(self);
      const received = (await texts(sender, keyedId)).filter((t) => t.startsWith('tab two'));
      expect(received.length).toBeGreaterThan(0);
      const missing = async () => {
        const stored = (await checkAllRowsOpen(probe, PASSPHRASE)).plaintexts.join('\n');
        return [...sent, ...received].filter((text) => !stored.includes(`"text":"${text}"`));
      };
      await until('every message stored', async () => (await missing()).length === 0, 120_000).catch(async () => {
        throw new Error(`not stored: ${(await missing()).join(', ')}`);
      });
      await screenshot(second, '23-rekeyed-during-stream');
      // New messages keep being stored, and the profile still unlocks after a reload.
      await sender.messenger.sendText(self, 'after the change');
      await messageWithText(second, 'after the change').waitFor({ timeout: UI_TIMEOUT });
      await second.reload();
      await second.getByTestId('unlock-input').fill(PASSPHRASE);
      await second.getByTestId('unlock-button').click();
      await openChat(second, sender.name);
      await messageWithText(second, 'after the change').waitFor({ timeout: UI_TIMEOUT });
      const after = await checkAllRowsOpen(probe, PASSPHRASE);
      expect(after.unreadable).toEqual([]);
      expect(after.otherEpoch).toBe(0);
    },
    SLOW,
  );

  it(
    'should migrate a profile saved by the schema-version-1 build on open, keep its history and hide its metadata',
    async () => {
      const fixture = JSON.parse(
        readFileSync(join(ROOT, 'apps/pwa/test/fixtures/profile-v1.json'), 'utf8'),
      ) as LegacyFixture;
      // A page of the origin that does not run the app writes the old database, as the old build left it.
      const legacy = await launchProfile('legacy', `${server.url}/icons/icon-192.png`);
      profiles.push(legacy);
      await legacy.page.evaluate(async (data: LegacyFixture) => {
        const bytes = (v: unknown): unknown =>
          v !== null && typeof v === 'object' && '$bytes' in v
            ? Uint8Array.from(atob((v as { $bytes: string }).$bytes), (c) => c.charCodeAt(0))
            : v;
        const db = await new Promise<IDBDatabase>((resolve, reject) => {
          const req = indexedDB.open('cove', 1);
          req.onupgradeneeded = () => {
            req.result.createObjectStore('meta');
            req.result.createObjectStore('records', { keyPath: ['store', 'key'] }).createIndex('by-store', 'store');
          };
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error ?? new Error('open failed'));
        });
        await new Promise<void>((resolve, reject) => {
          const tx = db.transaction(['meta', 'records'], 'readwrite');
          for (const { key, value } of data.meta)
            tx.objectStore('meta').put(Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bytes(v)])), key);
          for (const r of data.records)
            tx.objectStore('records').put({ store: r.store, key: r.key, iv: bytes(r.iv), data: bytes(r.data) });
          tx.oncomplete = () => resolve();
          tx.onerror = () => reject(tx.error ?? new Error('write failed'));
        });
        db.close();
      }, fixture);

      // The messenger core's code is held back until Carol's chat is open, as on a slow machine (where this test
      // failed now and then): the chat is first read from the tables as the old build left them, before the core's
      // storage migration moves the messages under `direct:` conversation ids, and must show the history once the
      // core has opened.
      let releaseCore = (): void => undefined;
      const coreHeld = new Promise<void>((resolve) => {
        releaseCore = resolve;
      });
      await legacy.page.route('**/assets/messenger-adapter-*.js', async (route) => {
        await coreHeld;
        await route.continue();
      });
      await legacy.page.goto(server.url);
      await legacy.page.getByTestId('unlock-input').fill(fixture.expected.passphrase);
      await legacy.page.getByTestId('unlock-button').click();
      const [carol, dave] = fixture.expected.conversations;
      await openChat(legacy.page, carol!.peerUsername);
      releaseCore();
      for (const text of carol!.texts) await waitForMessage(legacy.page, text);
      await openChat(legacy.page, dave!.peerUsername);
      await waitForMessage(legacy.page, 'Legacy to Dave: noted');
      await screenshot(legacy.page, '24-migrated-v1-profile');

      const probe = await legacy.context.newPage();
      await probe.goto(`${server.url}/icons/icon-192.png`);
      const migrated = await checkAllRowsOpen(probe, fixture.expected.passphrase);
      expect(migrated.legacyRows).toBe(0);
      expect(migrated.rows).toBeGreaterThanOrEqual(fixture.records.length);
      expect(migrated.unreadable).toEqual([]);
      expect(migrated.otherEpoch).toBe(0);
      for (const c of fixture.expected.conversations) {
        expect(migrated.visibleKeys).not.toContain(c.peerAccountId);
        expect(migrated.visibleKeys).not.toContain(c.peerUsername);
      }
      expect(migrated.visibleKeys).not.toContain(fixture.expected.accountId);
      expect(migrated.visibleKeys).not.toMatch(/\d{13}/);
    },
    SLOW,
  );
});

type LegacyFixture = {
  meta: { key: string; value: Record<string, unknown> }[];
  records: { store: string; key: string; iv: unknown; data: unknown }[];
  expected: {
    passphrase: string;
    accountId: string;
    conversations: { peerUsername: string; peerAccountId: string; texts: string[] }[];
  };
};
