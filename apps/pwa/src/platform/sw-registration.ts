/**
 * Registers the service worker (workbox-window) and reports when a new version is waiting, so the UI can offer
 * to reload; applying the update activates the waiting worker and reloads once it controls the page. Failure to
 * register (unsupported browser, private mode) leaves the app working online.
 */
import { Workbox } from 'workbox-window';

export type UpdateHandle = {
  onUpdateReady(listener: () => void): void;
  apply(): void;
  ready: Promise<ServiceWorkerRegistration | null>;
};

export function registerServiceWorker(url = '/sw.js'): UpdateHandle {
  const listeners: (() => void)[] = [];
  let waiting = false;
  if (!('serviceWorker' in navigator)) {
    return { onUpdateReady: () => undefined, apply: () => undefined, ready: Promise.resolve(null) };
  }
  const wb = new Workbox(url, { type: 'module' });
  wb.addEventListener('waiting', () => {
    waiting = true;
    for (const l of listeners) l();
  });
  wb.addEventListener('controlling', (event) => {
    if (event.isUpdate) globalThis.location.reload();
  });
  const ready = wb.register().then(
    (r) => r ?? null,
    () => null,
  );
  return {
    onUpdateReady(listener) {
      listeners.push(listener);
      if (waiting) listener();
    },
    apply() {
      wb.messageSkipWaiting();
    },
    ready,
  };
}

/** Calls `listener` with a path when the service worker asks this window to open a chat (notification tap). */
export function onOpenRequest(listener: (path: string) => void): void {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (event: MessageEvent<{ type?: string; path?: string }>) => {
    if (event.data.type === 'open' && typeof event.data.path === 'string' && event.data.path.startsWith('/'))
      listener(event.data.path);
  });
}
