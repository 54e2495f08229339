/**
 * Response headers that make the browser enforce what the server cannot: a strict Content-Security-Policy (the
 * app's own scripts and WebAssembly only, no inline code, no plugins, no framing, no `<base>`), `nosniff`, no
 * `Referer`, a separate browsing-context group, camera and microphone for this origin only and every other
 * powerful feature off, HSTS when configured, and `Cache-Control: no-store` on everything that does not set its
 * own (API answers, errors). Every response gets them; responses that are not the app's pages or scripts (API
 * JSON, images, the manifest, styles) get an even narrower policy that runs no script at all. This module decides
 * headers only; which files are pages, scripts or cacheable is the static serving's business.
 */
import type { NextFunction, Request, Response } from 'express';

/**
 * The policy of the app's pages and scripts (the service worker's policy is its script's). Each directive, and why:
 * - `default-src 'self'`: anything not listed below loads from this origin only (styles, fonts, media, manifest).
 * - `script-src 'self' 'wasm-unsafe-eval'`: the bundled scripts; `wasm-unsafe-eval` lets libsodium compile its
 *   WebAssembly (no `eval`, no inline script, no `new Function`).
 * - `style-src 'self'`: the bundled stylesheet; React sets `style` through the CSSOM, which CSP allows.
 * - `img-src 'self' data: blob:`: icons, the contact QR code rendered as an SVG `data:` URL, attachment thumbnails
 *   (`data:`) and decrypted photos, which the page itself makes into `blob:` URLs (only this origin's own objects).
 * - `media-src 'self' blob:`: decrypted voice notes and audio, played from `blob:` URLs the page made.
 * - `connect-src 'self'`: the API over fetch and the WebSocket (CSP Level 3 browsers extend `'self'` to `ws:` and
 *   `wss:` on the same host and port).
 * - `worker-src 'self'`: the service worker.
 * - `object-src 'none'`, `base-uri 'none'`, `frame-ancestors 'none'`, `form-action 'self'`: no plugins, no `<base>`
 *   redirecting relative URLs, no framing (clickjacking), forms post only here.
 */
const APP_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "worker-src 'self'",
  "manifest-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/**
 * The policy of everything else: nothing loads and no script runs; the browser may style what it renders itself
 * when such a response is opened directly (an image or text shown as a page), which needs inline styles.
 */
const RESOURCE_POLICY = [
  "default-src 'none'",
  "img-src 'self'",
  "style-src 'unsafe-inline'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Both policies, with the `report-uri` directive when reports are configured. */
export function contentSecurityPolicies(reportUri: string | null): { app: string; resource: string } {
  const report = reportUri ? `; report-uri ${reportUri}` : '';
  return { app: `${APP_POLICY}${report}`, resource: `${RESOURCE_POLICY}${report}` };
}

/**
 * Camera (QR scanning) and microphone for this origin only; every other powerful feature the browser knows is
 * off, so injected or third-party code could not use it either. Only features current browsers recognise are
 * listed (an unknown one is reported in the console).
 */
export const PERMISSIONS_POLICY = [
  'camera=(self)',
  'microphone=(self)',
  'accelerometer=()',
  'autoplay=()',
  'bluetooth=()',
  'browsing-topics=()',
  'display-capture=()',
  'encrypted-media=()',
  'fullscreen=()',
  'gamepad=()',
  'geolocation=()',
  'gyroscope=()',
  'hid=()',
  'idle-detection=()',
  'local-fonts=()',
  'magnetometer=()',
  'midi=()',
  'payment=()',
  'picture-in-picture=()',
  'publickey-credentials-get=()',
  'screen-wake-lock=()',
  'serial=()',
  'usb=()',
  'window-management=()',
  'xr-spatial-tracking=()',
].join(', ');

export type SecurityHeaderOptions = {
  /** `Strict-Transport-Security` max-age in seconds; null sends none (the server is not reached over HTTPS). */
  hstsMaxAgeSeconds: number | null;
  /** Where browsers POST CSP violation reports (`report-uri`); null sends none. */
  cspReportUri: string | null;
};

/**
 * Express middleware setting the headers above on every response, before any handler runs, with the resource
 * policy; whoever serves the app's pages and scripts replaces it with `contentSecurityPolicies(…).app`.
 */
export function securityHeaders(
  options: SecurityHeaderOptions,
): (req: Request, res: Response, next: NextFunction) => void {
  const headers: Array<[string, string]> = [
    ['Content-Security-Policy', contentSecurityPolicies(options.cspReportUri).resource],
    ['X-Content-Type-Options', 'nosniff'],
    ['Referrer-Policy', 'no-referrer'],
    ['Cross-Origin-Opener-Policy', 'same-origin'],
    /** Other sites cannot embed our responses as images, scripts or media (`no-cors` reads). */
    ['Cross-Origin-Resource-Policy', 'same-origin'],
    /** For browsers that predate `frame-ancestors`. */
    ['X-Frame-Options', 'DENY'],
    ['Permissions-Policy', PERMISSIONS_POLICY],
    /** Static files replace this with their own; everything else (API answers, errors) is never stored. */
    ['Cache-Control', 'no-store'],
  ];
  if (options.hstsMaxAgeSeconds !== null) {
    headers.push(['Strict-Transport-Security', `max-age=${options.hstsMaxAgeSeconds}`]);
  }
  return (_req, res, next) => {
    for (const [name, value] of headers) res.setHeader(name, value);
    next();
  };
}
