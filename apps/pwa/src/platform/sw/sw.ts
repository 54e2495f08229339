/**
 * The Cove service worker: precaches the app shell (so the app opens offline and shows history), serves the SPA
 * for every navigation, activates a new version only when the page asks (the in-app "update ready" prompt),
 * handles pushes (push-handler.ts) and opens the right chat when a notification is tapped. It never caches API
 * responses.
 */
/// <reference lib="webworker" />
import '../../no-eval.js';
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from 'workbox-precaching';
import { NavigationRoute, registerRoute } from 'workbox-routing';
import { handlePush, type NotificationData } from './push-handler.js';

declare const self: ServiceWorkerGlobalScope & { __WB_MANIFEST: (string | { url: string; revision: string | null })[] };

precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();
registerRoute(
  new NavigationRoute(createHandlerBoundToURL('/index.html'), {
    denylist: [/^\/v1\//, /^\/(healthz|readyz|metrics)$/, /\.[a-z0-9]+$/i],
  }),
);

self.addEventListener('message', (event: ExtendableMessageEvent) => {
  const data = event.data as { type?: string } | null;
  if (data?.type === 'SKIP_WAITING') void self.skipWaiting();
});

self.addEventListener('push', (event: PushEvent) => {
  event.waitUntil(
    handlePush((title, options) => self.registration.showNotification(title, options), self.navigator.languages),
  );
});

self.addEventListener('notificationclick', (event: NotificationEvent) => {
  event.notification.close();
  const data = event.notification.data as NotificationData | null;
  const path = data?.conversationId ? `/chat/${encodeURIComponent(data.conversationId)}` : '/';
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const existing = windows[0];
      if (existing) {
        await existing.focus();
        existing.postMessage({ type: 'open', path });
        return;
      }
      await self.clients.openWindow(path);
    })(),
  );
});
