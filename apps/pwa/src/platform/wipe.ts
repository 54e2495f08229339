/**
 * Wipes what this browser keeps for the user when they log out or delete their account: every IndexedDB database of
 * the origin (the vault, its sealed rows and attachment blobs; the other tabs' connections close on the deletion's
 * `versionchange`, see idb/database.ts), every Cache Storage cache except the service worker's precache of the app's
 * own files (so Cove still opens, at onboarding, offline), the push subscription, notifications still shown, the
 * app badge, and local and session storage. It keeps nothing and reports nothing: a step the browser refuses is
 * skipped, and the deletion of the databases, which holds everything that matters, is awaited.
 */

/** Workbox names its precache `workbox-precache-v2-<scope>`: the app shell, no user data. */
const PRECACHE_PREFIX = 'workbox-precache';
/** The database name the app uses, for browsers without `indexedDB.databases()`. */
const KNOWN_DATABASES = ['cove'];

const ignore = (): undefined => undefined;

function deleteDatabase(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = () => resolve();
    request.onerror = () => reject(request.error ?? new Error('database not deleted'));
    // `blocked`: another connection has not closed yet; the deletion goes on once it has (they close on versionchange).
  });
}

export async function wipeLocalData(): Promise<void> {
  const registration = await navigator.serviceWorker?.getRegistration('/').catch(ignore);
  if (registration) {
    const subscription = await registration.pushManager?.getSubscription().catch(ignore);
    await subscription?.unsubscribe().catch(ignore);
    for (const notification of (await registration.getNotifications().catch(ignore)) ?? []) notification.close();
  }
  const badging = navigator as Navigator & { clearAppBadge?: () => Promise<void> };
  await badging.clearAppBadge?.().catch(ignore);
  if ('caches' in globalThis) {
    const names = (await caches.keys().catch(ignore)) ?? [];
    await Promise.all(names.filter((n) => !n.startsWith(PRECACHE_PREFIX)).map((n) => caches.delete(n).catch(ignore)));
  }
  const listed = await indexedDB.databases?.().catch(ignore);
  const names = new Set([...KNOWN_DATABASES, ...(listed ?? []).flatMap((d) => (d.name ? [d.name] : []))]);
  await Promise.all([...names].map(deleteDatabase));
  try {
    globalThis.localStorage.clear();
    globalThis.sessionStorage.clear();
  } catch {
    // Storage disabled: nothing was kept there.
  }
}
