/**
 * Browser capabilities the app uses outside the messenger core: preferred languages, connectivity, page
 * visibility, persistent storage, notification permission, and QR scanning from the camera (jsqr on video
 * frames). Page-only.
 */
export function browserLanguages(): readonly string[] {
  return navigator.languages.length > 0 ? navigator.languages : [navigator.language];
}

export function isOnline(): boolean {
  return navigator.onLine;
}

export function onConnectivityChange(listener: (online: boolean) => void): () => void {
  const up = () => listener(true);
  const down = () => listener(false);
  globalThis.addEventListener('online', up);
  globalThis.addEventListener('offline', down);
  return () => {
    globalThis.removeEventListener('online', up);
    globalThis.removeEventListener('offline', down);
  };
}

/** Calls `listener` whenever the page becomes visible again (tab switched back, app brought to the front). */
export function onVisible(listener: () => void): () => void {
  const handler = () => {
    if (document.visibilityState === 'visible') listener();
  };
  document.addEventListener('visibilitychange', handler);
  return () => document.removeEventListener('visibilitychange', handler);
}

export async function isPersisted(): Promise<boolean | null> {
  if (!navigator.storage?.persisted) return null;
  return navigator.storage.persisted();
}

/** Asks the browser to keep our storage under pressure; must follow a user gesture in some browsers. */
export async function requestPersistence(): Promise<boolean> {
  if (!navigator.storage?.persist) return false;
  return navigator.storage.persist();
}

export type PermissionState = 'default' | 'granted' | 'denied' | 'unsupported';

export function notificationPermission(): PermissionState {
  return typeof Notification === 'function' ? Notification.permission : 'unsupported';
}

/** Must be called from a tap (iOS and Chromium ignore requests without a user gesture). */
export async function requestNotificationPermission(): Promise<PermissionState> {
  if (typeof Notification !== 'function') return 'unsupported';
  return Notification.requestPermission();
}

export function canScan(): boolean {
  return typeof navigator.mediaDevices?.getUserMedia === 'function';
}

/** Time between decoding attempts: fast enough to feel instant, slow enough not to heat a phone. */
const SCAN_INTERVAL_MS = 150;

/** Streams the back camera into `video` and resolves with the first QR code read, or null if aborted. */
export async function scanQr(video: HTMLVideoElement, signal: AbortSignal): Promise<string | null> {
  const { default: jsQR } = await import('jsqr');
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
  try {
    video.srcObject = stream;
    await video.play();
    const canvas = document.createElement('canvas');
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) return null;
    while (!signal.aborted) {
      if (video.videoWidth > 0) {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        context.drawImage(video, 0, 0);
        const image = context.getImageData(0, 0, canvas.width, canvas.height);
        const code = jsQR(image.data, image.width, image.height);
        if (code) return code.data;
      }
      await new Promise((resolve) => setTimeout(resolve, SCAN_INTERVAL_MS));
    }
    return null;
  } finally {
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  }
}
