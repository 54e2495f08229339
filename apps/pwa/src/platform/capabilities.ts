/**
 * Browser capabilities the app uses outside the messenger core: preferred languages, connectivity, page
 * visibility, persistent storage, notification permission, push support (feature-detected, with iOS's
 * home-screen rule), the MediaRecorder format this engine can record, and QR scanning from the camera (jsqr on
 * video frames), and a label for this browser in the account's device list ("Chrome on Linux", read from the user
 * agent only to name the device, never to decide anything). Page-only. The decisions are pure functions over what
 * was detected, so they are unit-tested without a browser; nothing here sniffs an engine by name except iOS, whose
 * rule depends on it.
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

/**
 * Calls `listener` whenever the user comes back: the page becomes visible (tab switched back, app brought to the
 * front) or the window gets the focus again (another window was in front of a visible page).
 */
export function onVisible(listener: () => void): () => void {
  const handler = () => {
    if (document.visibilityState === 'visible') listener();
  };
  document.addEventListener('visibilitychange', handler);
  globalThis.addEventListener('focus', handler);
  return () => {
    document.removeEventListener('visibilitychange', handler);
    globalThis.removeEventListener('focus', handler);
  };
}

/**
 * Longest wait for an idle moment after the paint: a page kept busy (or a hidden tab, where animation frames stop)
 * still starts the deferred work, at most this late. The core then connects within about a second at worst.
 */
const AFTER_PAINT_BOUND_MS = 500;

/**
 * Calls `run` once: after the next frame is painted, in the first idle period (`requestIdleCallback`, where the
 * browser has it; a zero-delay timer otherwise, as in Safari), or after AFTER_PAINT_BOUND_MS, whichever is first.
 */
export function afterPaint(run: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    clearTimeout(bound);
    run();
  };
  const bound = setTimeout(once, AFTER_PAINT_BOUND_MS);
  requestAnimationFrame(() => {
    if (typeof requestIdleCallback === 'function') requestIdleCallback(once, { timeout: AFTER_PAINT_BOUND_MS });
    else setTimeout(once, 0);
  });
}

/** The page title without an unread count, as index.html sets it. */
const BASE_TITLE = 'Cove';

/**
 * Shows the unread count in the tab title ("(3) Cove") and on the installed app's icon (Badging API, where the
 * browser has it; a refused badge is not an error worth reporting). 0 clears both.
 */
export function showUnread(count: number): void {
  document.title = count > 0 ? `(${count > 999 ? '999+' : String(count)}) ${BASE_TITLE}` : BASE_TITLE;
  const badging = navigator as Navigator & {
    setAppBadge?: (count: number) => Promise<void>;
    clearAppBadge?: () => Promise<void>;
  };
  const done = count > 0 ? badging.setAppBadge?.(count) : badging.clearAppBadge?.();
  done?.catch(() => undefined);
}

/** Copies text to the clipboard; false when the browser has no clipboard API or refused (no focus, no gesture). */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (!navigator.clipboard?.writeText) return false;
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
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

/** What push can do here: works, would work once Cove is on the iOS home screen, or not at all in this browser. */
export type PushSupport = 'supported' | 'needs-home-screen' | 'unsupported';

/** What `detectPushSupport` looks at, gathered by `pushEnvironment()`. */
export type PushEnvironment = {
  serviceWorker: boolean;
  pushManager: boolean;
  notification: boolean;
  /** iPhone or iPad, where every browser is WebKit and Web Push exists only for home-screen apps. */
  ios: boolean;
  /** Opened from the home screen (`display-mode: standalone`, or Safari's `navigator.standalone`). */
  standalone: boolean;
};

export function detectPushSupport(env: PushEnvironment): PushSupport {
  // On iOS, Web Push is for home-screen apps only (iOS 16.4+): Safari hides PushManager and Notification in a tab,
  // and a tab that exposed them would still not get a subscription Apple delivers to. Apple gives the page no
  // signal of this but the platform (the user agent) and the display mode, so here, and only here, the rule is
  // read from the user agent: push is offered after installation, never before.
  if (env.ios && !env.standalone) return 'needs-home-screen';
  if (env.serviceWorker && env.pushManager && env.notification) return 'supported';
  return 'unsupported';
}

/** iPadOS reports itself as a Mac; a Mac has no touch points, an iPad has five. */
export function isIosUserAgent(userAgent: string, maxTouchPoints: number): boolean {
  return /iPhone|iPad|iPod/.test(userAgent) || (/Macintosh/.test(userAgent) && maxTouchPoints > 1);
}

export function pushEnvironment(): PushEnvironment {
  const safari = navigator as Navigator & { standalone?: boolean };
  return {
    serviceWorker: 'serviceWorker' in navigator,
    pushManager: typeof globalThis.PushManager === 'function',
    notification: typeof globalThis.Notification === 'function',
    ios: isIosUserAgent(navigator.userAgent, navigator.maxTouchPoints),
    standalone: safari.standalone === true || globalThis.matchMedia?.('(display-mode: standalone)').matches === true,
  };
}

export function pushSupport(): PushSupport {
  return detectPushSupport(pushEnvironment());
}

/**
 * Voice-note containers in order of preference: Opus in WebM (Chromium, Firefox), Opus in Ogg (Firefox), AAC in
 * MP4 (WebKit records nothing else). All three engines play all of them.
 */
export const RECORDING_TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/mp4'] as const;

/** The first of `RECORDING_TYPES` that `isTypeSupported` accepts, or null when this browser cannot record audio. */
export function chooseRecordingType(isTypeSupported: ((type: string) => boolean) | null): string | null {
  if (!isTypeSupported) return null;
  return RECORDING_TYPES.find((type) => isTypeSupported(type)) ?? null;
}

/** The MediaRecorder type for a voice note in this browser, or null when it has no MediaRecorder. */
export function preferredRecordingType(): string | null {
  const recorder = globalThis.MediaRecorder as typeof MediaRecorder | undefined;
  return chooseRecordingType(
    typeof recorder?.isTypeSupported === 'function' ? (type) => recorder.isTypeSupported(type) : null,
  );
}

/** The browsers and systems a device label names, first match wins (Edge and Opera also say "Chrome"). */
const BROWSER_NAMES: readonly [RegExp, string][] = [
  [/Edg\//, 'Edge'],
  [/OPR\//, 'Opera'],
  [/Firefox\/|FxiOS\//, 'Firefox'],
  [/Chrom(e|ium)\/|CriOS\//, 'Chrome'],
  [/Safari\//, 'Safari'],
];
const SYSTEM_NAMES: readonly [RegExp, string][] = [
  [/iPhone/, 'iPhone'],
  [/iPad/, 'iPad'],
  [/Android/, 'Android'],
  [/Mac OS X|Macintosh/, 'macOS'],
  [/Windows/, 'Windows'],
  [/CrOS/, 'ChromeOS'],
  [/Linux/, 'Linux'],
];

/** A name for a browser in the device list, from its user agent ("Chrome on Linux"; "Browser" when unknown). */
export function deviceLabelFrom(userAgent: string): string {
  const browser = BROWSER_NAMES.find(([pattern]) => pattern.test(userAgent))?.[1] ?? 'Browser';
  const system = SYSTEM_NAMES.find(([pattern]) => pattern.test(userAgent))?.[1];
  return system ? `${browser} on ${system}` : browser;
}

export function deviceLabel(): string {
  return deviceLabelFrom(navigator.userAgent);
}
