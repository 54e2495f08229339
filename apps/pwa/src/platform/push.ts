/**
 * Web Push subscription: subscribes with the server's VAPID key (from `/v1/info`) and hands the subscription to
 * the caller to register with the server, on every app start so an expired or rotated subscription is replaced.
 * Failure (no push service reachable, permission not granted) is reported, never thrown: the app works without
 * push, it just is not woken up while closed.
 */

export type PushSubscriptionJson = { endpoint: string; keys: { p256dh: string; auth: string } };

/** A subscription attempt that never settles (no push service) must not hold anything up. */
const SUBSCRIBE_TIMEOUT_MS = 10_000;

function base64UrlToBytes(value: string): Uint8Array<ArrayBuffer> {
  const base64 = value
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(value.length / 4) * 4, '=');
  const binary = atob(base64);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function sameKey(a: ArrayBuffer | null, b: Uint8Array): boolean {
  if (!a || a.byteLength !== b.byteLength) return false;
  const view = new Uint8Array(a);
  return view.every((byte, i) => byte === b[i]);
}

/**
 * Returns the current subscription for `vapidPublicKey`, replacing one made with another key, or null when push
 * is unavailable or not permitted.
 */
export async function refreshPushSubscription(
  registration: ServiceWorkerRegistration,
  vapidPublicKey: string,
): Promise<PushSubscriptionJson | null> {
  if (!('pushManager' in registration) || typeof Notification !== 'function') return null;
  if (Notification.permission !== 'granted') return null;
  const key = base64UrlToBytes(vapidPublicKey);
  const attempt = (async () => {
    let subscription = await registration.pushManager.getSubscription();
    if (subscription && !sameKey(subscription.options.applicationServerKey, key)) {
      await subscription.unsubscribe();
      subscription = null;
    }
    subscription ??= await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    const json = subscription.toJSON();
    if (!json.endpoint || !json.keys?.p256dh || !json.keys.auth) return null;
    return { endpoint: json.endpoint, keys: { p256dh: json.keys.p256dh, auth: json.keys.auth } };
  })();
  const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), SUBSCRIBE_TIMEOUT_MS));
  try {
    return await Promise.race([attempt, timeout]);
  } catch {
    return null;
  }
}
