/**
 * In-browser inspection helpers for the PWA tests: reading the service worker's notifications, delivering a push
 * through the DevTools protocol, dumping IndexedDB as the browser stores it, and running axe-core. They read what
 * the app stored or showed; they never change the app's code paths, except `writeSealedRow` and
 * `replaceStoredIdentity`, which write sealed rows the way the app itself would (to play a key change or content
 * stored from a hostile peer).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import type { BrowserContext, Page } from 'playwright-core';

export type ShownNotification = { title: string; body: string; tag: string; data: unknown };

/** Delivers a push message to the origin's service worker, as the browser's push service would. */
export async function deliverPush(context: BrowserContext, origin: string, data = 'wake'): Promise<void> {
  const page = context.pages()[0] ?? (await context.newPage());
  const cdp = await context.newCDPSession(page);
  const registrationId = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no service worker registration reported')), 20_000);
    cdp.on(
      'ServiceWorker.workerRegistrationUpdated',
      (event: { registrations: { registrationId: string; scopeURL: string; isDeleted: boolean }[] }) => {
        const match = event.registrations.find((r) => r.scopeURL.startsWith(origin) && !r.isDeleted);
        if (match) {
          clearTimeout(timer);
          resolve(match.registrationId);
        }
      },
    );
    void cdp.send('ServiceWorker.enable');
  });
  await cdp.send('ServiceWorker.deliverPushMessage', { origin: `${origin}/`, registrationId, data });
  await cdp.detach();
}

/** The notifications the service worker is currently showing, read from inside a same-origin document. */
export async function notifications(context: BrowserContext, origin: string): Promise<ShownNotification[]> {
  let probe = context.pages().find((p) => p.url().startsWith(`${origin}/icons/`));
  if (!probe) {
    probe = await context.newPage();
    // A static file is not an app navigation: the app does not start in this tab.
    await probe.goto(`${origin}/icons/icon-192.png`);
  }
  return probe.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration('/');
    if (!registration) return [];
    const list = await registration.getNotifications();
    return list.map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data as unknown }));
  });
}

/** How long a push may go without a matching notification before it is delivered again. */
const REDELIVER_AFTER_MS = 20_000;
/** Deliveries at most: DevTools' push delivery can drop a push when the worker's start-up times out on a busy machine. */
const MAX_DELIVERIES = 3;

/**
 * Delivers a push and waits for a notification matching `predicate`. If none shows within REDELIVER_AFTER_MS, the
 * push is delivered again (at most MAX_DELIVERIES in all, each one noted on stderr so a lossy run stays visible): the
 * DevTools delivery is the test's stand-in for a push service, and only the worker's handling is under test. A
 * worker that never shows the notification still fails after `timeoutMs`.
 */
export async function pushAndWaitForNotification(
  context: BrowserContext,
  origin: string,
  predicate: (n: ShownNotification) => boolean,
  timeoutMs = 60_000,
): Promise<ShownNotification> {
  const deadline = Date.now() + timeoutMs;
  let deliveries = 1;
  let lastDelivery = Date.now();
  await deliverPush(context, origin);
  for (;;) {
    const found = (await notifications(context, origin)).find(predicate);
    if (found) return found;
    if (Date.now() > deadline)
      throw new Error(
        `no matching notification after ${deliveries} deliveries; shown: ${JSON.stringify(await notifications(context, origin))}`,
      );
    if (Date.now() - lastDelivery > REDELIVER_AFTER_MS && deliveries < MAX_DELIVERIES) {
      deliveries += 1;
      lastDelivery = Date.now();
      process.stderr.write(`push: no notification after ${REDELIVER_AFTER_MS} ms, delivering again (${deliveries})\n`);
      await deliverPush(context, origin);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function closeNotifications(context: BrowserContext, origin: string): Promise<void> {
  const probe = context.pages().find((p) => p.url().startsWith(`${origin}/icons/`));
  await probe?.evaluate(async () => {
    const registration = await navigator.serviceWorker.getRegistration('/');
    for (const n of (await registration?.getNotifications()) ?? []) n.close();
  });
}

/**
 * What the page-side row operations need: open the `cove` database, and name, seal and open rows exactly as the
 * app's row-cipher.ts does (keyed-hash ids, table and partition tags, AES-GCM with id and epoch bound), with the
 * device keys from the vault header. Passed to `page.evaluate` as source, so the tests share one copy of it.
 */
const ROW_TOOLS = `(() => {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const b64url = (b) => btoa(String.fromCharCode(...b)).replace(/[+]/g, '-').replace(/[/]/g, '_').replace(/=+$/, '');
  const partitioned = new Set(['messages', 'sessions', 'kyberPreKeysUsed', 'meta']);
  const openDb = () => new Promise((resolve, reject) => {
    const req = indexedDB.open('cove');
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  const request = (db, store, mode, fn) => new Promise((resolve, reject) => {
    const tx = db.transaction(store, mode);
    const req = fn(tx.objectStore(store));
    tx.oncomplete = () => resolve(req ? req.result : undefined);
    tx.onerror = () => reject(tx.error);
  });
  const tag = async (index, text) =>
    b64url(new Uint8Array(await crypto.subtle.sign('HMAC', index, enc.encode(text))).subarray(0, 16));
  const vault = async (db) => {
    const header = await request(db, 'meta', 'readonly', (s) => s.get('vault'));
    if (!header || header.mode !== 'device' || header.version !== 2) throw new Error('needs an unlocked v2 device vault');
    return header;
  };
  const aad = (id, e) => enc.encode('cove:row:v2\\u0000' + id + '\\u0000' + e);
  const open = async (header, row) =>
    JSON.parse(dec.decode(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: row.iv, additionalData: aad(row.id, row.e) }, header.key, row.data)));
  const rowId = (header, table, key) => tag(header.index, 'cove:row\\u0000' + table + '\\u0000' + key);
  const seal = async (header, table, key, json) => {
    const id = await rowId(header, table, key);
    const t = await tag(header.index, 'cove:table\\u0000' + table);
    const at = key.search(/[/.]/);
    const p = partitioned.has(table) && at >= 0
      ? await tag(header.index, 'cove:part\\u0000' + table + '\\u0000' + key.slice(0, at + 1))
      : undefined;
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const plain = enc.encode('{"t":' + JSON.stringify(table) + ',"k":' + JSON.stringify(key) + ',"v":' + json + '}');
    const data = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aad(id, header.epoch) }, header.key, plain));
    return { id, t, ...(p === undefined ? {} : { p }), e: header.epoch, iv, data };
  };
  return { openDb, request, vault, open, rowId, seal };
})()`;

/**
 * Runs `body(tools, ...args)` in the page with the row tools. The whole call goes as one source string through the
 * DevTools protocol (as `page.evaluate` sends any function), never through `eval` in the page, which the app's
 * Content-Security-Policy forbids.
 */
async function withRowTools<A extends unknown[], R>(
  page: Page,
  body: (tools: RowTools, ...args: A) => Promise<R>,
  ...args: A
): Promise<R> {
  return page.evaluate<R>(`(${body.toString()})(${ROW_TOOLS}, ...${JSON.stringify(args)})`);
}

type RowTools = {
  openDb(): Promise<IDBDatabase>;
  request<T>(
    db: IDBDatabase,
    store: string,
    mode: IDBTransactionMode,
    fn: (s: IDBObjectStore) => IDBRequest | void,
  ): Promise<T>;
  vault(db: IDBDatabase): Promise<{ key: CryptoKey; index: CryptoKey; epoch: number }>;
  open(header: unknown, row: unknown): Promise<{ t: string; k: string; v: unknown }>;
  rowId(header: unknown, table: string, key: string): Promise<string>;
  seal(header: unknown, table: string, key: string, json: string): Promise<unknown>;
};

/**
 * Every value of every object store of the `cove` database, serialized to text as stored (ciphertexts in hex),
 * and every sealed row opened with the vault keys (`table/key plaintext`), to learn what must NOT appear raw.
 */
export async function dumpIndexedDb(page: Page): Promise<{ stores: Record<string, string[]>; decrypted: string[] }> {
  return withRowTools(page, async (t) => {
    const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    const text = (v: unknown): string =>
      JSON.stringify(v, (_k, x: unknown) =>
        x instanceof Uint8Array ? `hex:${hex(x)}` : x instanceof CryptoKey ? `CryptoKey(${x.extractable})` : x,
      );
    const db = await t.openDb();
    const stores: Record<string, string[]> = {};
    for (const name of Array.from(db.objectStoreNames)) {
      const keys = await t.request<IDBValidKey[]>(db, name, 'readonly', (s) => s.getAllKeys());
      const values = await t.request<unknown[]>(db, name, 'readonly', (s) => s.getAll());
      stores[name] = values.map((v, i) => `${JSON.stringify(keys[i])} ${text(v)}`);
    }
    const header = await t.vault(db);
    const rows = await t.request<unknown[]>(db, 'rows', 'readonly', (s) => s.getAll());
    const decrypted: string[] = [];
    for (const row of rows) {
      const opened = await t.open(header, row);
      decrypted.push(`${opened.t}/${opened.k} ${JSON.stringify(opened.v)}`);
    }
    db.close();
    return { stores, decrypted };
  });
}

/**
 * Reads one sealed row of the app's storage as its JSON value (byte strings as `{ "$bytes": base64 }`), opened
 * with the vault keys the way the app opens it; undefined when absent. Device-key vaults only (no passphrase).
 */
export async function readSealedRow(page: Page, table: string, key: string): Promise<unknown> {
  return withRowTools(
    page,
    async (t, store: string, rowKey: string) => {
      const db = await t.openDb();
      const header = await t.vault(db);
      const id = await t.rowId(header, store, rowKey);
      const row = await t.request<unknown>(db, 'rows', 'readonly', (s) => s.get(id));
      db.close();
      return row === undefined ? undefined : (await t.open(header, row)).v;
    },
    table,
    key,
  );
}

/**
 * Writes one sealed row as the app would (same naming, sealing, keys and epoch), with any JSON value: a stand-in
 * for content the app stored from a hostile peer or from an older build. Device-key vaults only (no passphrase).
 */
export async function writeSealedRow(page: Page, table: string, key: string, value: unknown): Promise<void> {
  await withRowTools(
    page,
    async (t, store: string, rowKey: string, json: string) => {
      const db = await t.openDb();
      const header = await t.vault(db);
      const row = await t.seal(header, store, rowKey, json);
      await t.request(db, 'rows', 'readwrite', (s) => s.put(row));
      db.close();
    },
    table,
    key,
    JSON.stringify(value),
  );
}

/**
 * Arms a one-time overwrite of the sealed row `table/key` with `value`: when a commit of this page writes that row,
 * a write of `value` is queued in a transaction of its own begun at that very moment. IndexedDB runs transactions
 * on one store in the order they were begun, so it lands right after the app's commit and before any read the app
 * begins afterwards: the app's next read of the row finds `value`. A stand-in for another context of the device (a
 * tab, the service worker) storing a newer value right after the app's commit, a moment the test could not
 * otherwise choose. The app's code runs as it is: the wrapper put around `IDBObjectStore.put` only notes which row
 * is written, and is removed once it fired. Resolves once armed; the page's `globalThis.coveOverwrite.done` turns
 * true once the write is durable. Device-key vaults only (no passphrase).
 */
export async function overwriteSealedRowAfterNextCommit(
  page: Page,
  table: string,
  key: string,
  value: unknown,
): Promise<void> {
  await withRowTools(
    page,
    async (t, store: string, rowKey: string, json: string) => {
      const db = await t.openDb();
      const header = await t.vault(db);
      const id = await t.rowId(header, store, rowKey);
      const row = await t.seal(header, store, rowKey, json);
      db.close();
      const put = IDBObjectStore.prototype.put;
      const state = { done: false };
      (globalThis as unknown as { coveOverwrite?: typeof state }).coveOverwrite = state;
      IDBObjectStore.prototype.put = function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
        const request = put.apply(this, args);
        if ((args[0] as { id?: unknown } | null)?.id === id) {
          IDBObjectStore.prototype.put = put;
          const ours = this.transaction.db.transaction('rows', 'readwrite');
          put.call(ours.objectStore('rows'), row);
          ours.addEventListener('complete', () => {
            state.done = true;
          });
        }
        return request;
      };
    },
    table,
    key,
    JSON.stringify(value),
  );
}

/**
 * Replaces the identity key the app stored for a contact with another valid key, re-sealing the row with the
 * vault keys: the next message from the real contact then looks like a key change, as after a reinstall.
 */
export async function replaceStoredIdentity(page: Page, accountId: string): Promise<void> {
  const identity = (await readSealedRow(page, 'identities', accountId)) as Record<string, unknown>;
  const fake = new Uint8Array(33);
  crypto.getRandomValues(fake);
  fake[0] = 5;
  await writeSealedRow(page, 'identities', accountId, {
    ...identity,
    publicKey: { $bytes: Buffer.from(fake).toString('base64') },
  });
}

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export type AxeViolation = { id: string; impact: string | null; help: string; nodes: string[] };

/** Runs axe-core (WCAG 2 A/AA rules) on the page and returns the serious and critical violations. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  // Evaluated through the DevTools protocol: an injected inline <script> would (rightly) violate the app's CSP.
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: {
          run(
            ctx: Document,
            o: object,
          ): Promise<{
            violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
          }>;
        };
      }
    ).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * Runs axe-core's landmark rules, which its WCAG tags leave out (they are best practice): one `<main>`
 * (`landmark-one-main`) and all content inside landmarks (`region`), with every violation whatever its impact.
 */
export async function landmarkViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: {
          run(
            ctx: Document,
            o: object,
          ): Promise<{
            violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
          }>;
        };
      }
    ).axe;
    const result = await axe.run(document, {
      runOnly: {
        type: 'rule',
        values: ['landmark-one-main', 'region', 'landmark-no-duplicate-main', 'landmark-unique'],
      },
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
}
