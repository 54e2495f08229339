/**
 * In-browser inspection helpers for the PWA tests: reading the service worker's notifications, delivering a push
 * through the DevTools protocol, dumping IndexedDB as the browser stores it, and running axe-core. They read what
 * the app stored or showed; they never change the app's code paths, except `replaceStoredIdentity`, which plays
 * a contact's key change by rewriting one sealed row the way the app itself would.
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

export async function waitForNotification(
  context: BrowserContext,
  origin: string,
  predicate: (n: ShownNotification) => boolean,
  timeoutMs = 60_000,
): Promise<ShownNotification> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = (await notifications(context, origin)).find(predicate);
    if (found) return found;
    if (Date.now() > deadline)
      throw new Error(`no matching notification; shown: ${JSON.stringify(await notifications(context, origin))}`);
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

/** Every value of every object store of the `cove` database, serialized to text as stored (ciphertexts in hex). */
export async function dumpIndexedDb(page: Page): Promise<{ stores: Record<string, string[]>; decrypted: string[] }> {
  return page.evaluate(async () => {
    const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
    const text = (v: unknown): string =>
      JSON.stringify(v, (_k, x: unknown) =>
        x instanceof Uint8Array ? `hex:${hex(x)}` : x instanceof CryptoKey ? `CryptoKey(${x.extractable})` : x,
      );
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('cove');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error('open failed'));
    });
    const all = (store: string) =>
      new Promise<{ keys: IDBValidKey[]; values: unknown[] }>((resolve, reject) => {
        const tx = db.transaction(store, 'readonly');
        const keys = tx.objectStore(store).getAllKeys();
        const values = tx.objectStore(store).getAll();
        tx.oncomplete = () => resolve({ keys: keys.result, values: values.result });
        tx.onerror = () => reject(tx.error ?? new Error('read failed'));
      });
    const stores: Record<string, string[]> = {};
    for (const name of Array.from(db.objectStoreNames)) {
      const { keys, values } = await all(name);
      stores[name] = values.map((v, i) => `${JSON.stringify(keys[i])} ${text(v)}`);
    }
    // Open every sealed row with the vault key, as the app does, to learn what must NOT appear in the raw dump.
    const { values: metaValues, keys: metaKeys } = await all('meta');
    const vault = metaValues[metaKeys.indexOf('vault')] as { key: CryptoKey };
    const { values: rows } = await all('records');
    const decrypted: string[] = [];
    for (const row of rows as {
      store: string;
      key: string;
      iv: Uint8Array<ArrayBuffer>;
      data: Uint8Array<ArrayBuffer>;
    }[]) {
      const aad = new TextEncoder().encode(`cove:row:v1\u0000${row.store}\u0000${row.key}`);
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: row.iv, additionalData: aad },
        vault.key,
        row.data,
      );
      decrypted.push(`${row.store}/${row.key} ${new TextDecoder().decode(plain)}`);
    }
    db.close();
    return { stores, decrypted };
  });
}

/**
 * Replaces the identity key the app stored for a contact with another valid key, re-sealing the row with the
 * vault key: the next message from the real contact then looks like a key change, as after a reinstall.
 */
export async function replaceStoredIdentity(page: Page, accountId: string): Promise<void> {
  await page.evaluate(async (id) => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('cove');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error ?? new Error('open failed'));
    });
    const get = (store: string, key: IDBValidKey) =>
      new Promise<unknown>((resolve, reject) => {
        const req = db.transaction(store, 'readonly').objectStore(store).get(key);
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error ?? new Error('get failed'));
      });
    const { key: vaultKey } = (await get('meta', 'vault')) as { key: CryptoKey };
    const row = (await get('records', ['identities', id])) as {
      store: string;
      key: string;
      iv: Uint8Array<ArrayBuffer>;
      data: Uint8Array<ArrayBuffer>;
    };
    const aad = new TextEncoder().encode(`cove:row:v1\u0000identities\u0000${id}`);
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: row.iv, additionalData: aad }, vaultKey, row.data);
    const value = JSON.parse(new TextDecoder().decode(plain)) as { publicKey: { $bytes: string } };
    const fake = new Uint8Array(33);
    crypto.getRandomValues(fake);
    fake[0] = 5;
    value.publicKey = { $bytes: btoa(String.fromCharCode(...fake)) };
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const data = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: aad },
        vaultKey,
        new TextEncoder().encode(JSON.stringify(value)),
      ),
    );
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction('records', 'readwrite');
      tx.objectStore('records').put({ store: 'identities', key: id, iv, data });
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error('put failed'));
    });
    db.close();
  }, accountId);
}

/**
 * Reads one sealed row of the app's storage as its JSON text (byte strings as `{ "$bytes": base64 }`), opened with
 * the vault key the way the app opens it; undefined when absent. Device-key vaults only (no passphrase).
 */
export async function readSealedRow(page: Page, table: string, key: string): Promise<unknown> {
  return page.evaluate(
    async ([store, rowKey]) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open('cove');
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error ?? new Error('open failed'));
      });
      const get = (name: string, k: IDBValidKey) =>
        new Promise<unknown>((resolve, reject) => {
          const req = db.transaction(name, 'readonly').objectStore(name).get(k);
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error ?? new Error('get failed'));
        });
      const { key: vaultKey } = (await get('meta', 'vault')) as { key: CryptoKey };
      const row = (await get('records', [store, rowKey])) as
        { iv: Uint8Array<ArrayBuffer>; data: Uint8Array<ArrayBuffer> } | undefined;
      db.close();
      if (!row) return undefined;
      const aad = new TextEncoder().encode(`cove:row:v1\u0000${store}\u0000${rowKey}`);
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: row.iv, additionalData: aad },
        vaultKey,
        row.data,
      );
      return JSON.parse(new TextDecoder().decode(plain)) as unknown;
    },
    [table, key] as const,
  );
}

/**
 * Writes one sealed row as the app would (same sealing, same key), with any JSON value: a stand-in for content
 * the app stored from a hostile peer or from an older build. Device-key vaults only (no passphrase).
 */
export async function writeSealedRow(page: Page, table: string, key: string, value: unknown): Promise<void> {
  await page.evaluate(
    async ([store, rowKey, json]) => {
      const db = await new Promise<IDBDatabase>((resolve, reject) => {
        const req = indexedDB.open('cove');
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error ?? new Error('open failed'));
      });
      const vault = await new Promise<{ key: CryptoKey }>((resolve, reject) => {
        const req = db.transaction('meta', 'readonly').objectStore('meta').get('vault');
        req.onsuccess = () => resolve(req.result as { key: CryptoKey });
        req.onerror = () => reject(req.error ?? new Error('get failed'));
      });
      const aad = new TextEncoder().encode(`cove:row:v1\u0000${store}\u0000${rowKey}`);
      const iv = crypto.getRandomValues(new Uint8Array(12));
      const data = new Uint8Array(
        await crypto.subtle.encrypt(
          { name: 'AES-GCM', iv, additionalData: aad },
          vault.key,
          new TextEncoder().encode(json),
        ),
      );
      await new Promise<void>((resolve, reject) => {
        const tx = db.transaction('records', 'readwrite');
        tx.objectStore('records').put({ store, key: rowKey, iv, data });
        tx.oncomplete = () => resolve();
        tx.onerror = () => reject(tx.error ?? new Error('put failed'));
      });
      db.close();
    },
    [table, key, JSON.stringify(value)] as const,
  );
}

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export type AxeViolation = { id: string; impact: string | null; help: string; nodes: string[] };

/** Runs axe-core (WCAG 2 A/AA rules) on the page and returns the serious and critical violations. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ content: AXE_SOURCE });
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
