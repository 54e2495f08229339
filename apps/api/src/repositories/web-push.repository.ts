/**
 * Sends Web Push messages (RFC 8030) with VAPID (RFC 8292) and `aes128gcm` payload encryption (RFC 8291) through
 * the `web-push` library. VAPID keys come from the environment or are generated on first start and kept in
 * `DATA_DIR/vapid.json` (mode 0600), so subscriptions survive restarts. The signed VAPID token is cached per push
 * service origin until shortly before it expires (signing costs ~0.5 ms per push otherwise).
 *
 * It classifies the push service's answer (sent / gone / retry later / refused) and never logs or returns the
 * endpoint. It does not decide who gets a push, nor check the allow-list (the push service does both).
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';

import webpush from 'web-push';

export type VapidKeys = { publicKey: string; privateKey: string };

export type WebPushOptions = {
  dataDir: string;
  subject: string;
  keys?: VapidKeys | undefined;
  /** Give up on a push service that has not answered after this long (then retried as transient). */
  timeoutMs: number;
  /** HTTPS agent for push requests (default: a keep-alive pool; tests: one trusting a local receiver's certificate). */
  agent?: Agent | undefined;
};

export type PushUrgency = 'very-low' | 'low' | 'normal' | 'high';

export type PushTarget = { endpoint: string; p256dh: string; auth: string };

export type PushOutcome =
  | { kind: 'sent'; status: number }
  /** 404/410: the subscription is dead; forget it. */
  | { kind: 'gone'; status: number }
  /** 429/5xx/network/timeout: try again later, not before `retryAfterMs` when the service said so. */
  | { kind: 'retry'; status: number | null; retryAfterMs?: number }
  /** Any other 4xx: the request itself is wrong (bad key, payload too large); retrying cannot help. */
  | { kind: 'refused'; status: number };

/** VAPID tokens may live at most 24 h (RFC 8292 §2); 12 h keeps a margin for clock skew at the push service. */
const TOKEN_LIFETIME_S = 12 * 3600;
/** Renew a cached token when less than this remains, so none expires in flight. */
const TOKEN_RENEW_MARGIN_S = 3600;
/** Longest `Retry-After` honoured, so a hostile push service cannot park a job forever. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

/**
 * Connections kept open to each push service: a wake-up then costs one request on a warm TLS connection instead of
 * a TCP and TLS handshake. Push services are few (one per browser vendor), so a small pool per origin suffices.
 */
const SOCKETS_PER_PUSH_SERVICE = 16;

export class WebPushRepository {
  private keys: VapidKeys | undefined;
  private readonly tokens = new Map<string, { authorization: string; expiresAt: number }>();
  private readonly agent: Agent;

  constructor(private readonly options: WebPushOptions) {
    this.agent =
      options.agent ?? new Agent({ keepAlive: true, maxSockets: SOCKETS_PER_PUSH_SERVICE, scheduling: 'lifo' });
  }

  /** Loads or creates the VAPID keys; call once before sending. */
  async init(): Promise<void> {
    if (this.keys) return;
    if (this.options.keys) {
      this.keys = validate(this.options.subject, this.options.keys);
      return;
    }
    const file = join(this.options.dataDir, 'vapid.json');
    try {
      const stored = JSON.parse(await readFile(file, 'utf8')) as Partial<VapidKeys>;
      if (typeof stored.publicKey !== 'string' || typeof stored.privateKey !== 'string') {
        throw new Error(`${file} is not a VAPID key file`);
      }
      this.keys = { publicKey: stored.publicKey, privateKey: stored.privateKey };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      const generated = webpush.generateVAPIDKeys();
      await mkdir(this.options.dataDir, { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      await writeFile(tmp, JSON.stringify(generated), { mode: 0o600 });
      await chmod(tmp, 0o600);
      await rename(tmp, file);
      this.keys = generated;
    }
    validate(this.options.subject, this.keys);
  }

  /** Closes the kept-alive connections to push services. */
  close(): void {
    if (!this.options.agent) this.agent.destroy();
  }

  /** The application server key browsers pass to `PushManager.subscribe` (base64url, uncompressed P-256). */
  get publicKey(): string {
    if (!this.keys) throw new Error('WebPushRepository.init() was not called');
    return this.keys.publicKey;
  }

  private authorization(endpoint: string, now: number): string {
    const keys = this.keys;
    if (!keys) throw new Error('WebPushRepository.init() was not called');
    const audience = new URL(endpoint).origin;
    const cached = this.tokens.get(audience);
    const nowS = Math.floor(now / 1000);
    if (cached && cached.expiresAt - TOKEN_RENEW_MARGIN_S > nowS) return cached.authorization;
    const expiresAt = nowS + TOKEN_LIFETIME_S;
    const headers = webpush.getVapidHeaders(
      audience,
      this.options.subject,
      keys.publicKey,
      keys.privateKey,
      'aes128gcm',
      expiresAt,
    );
    this.tokens.set(audience, { authorization: headers.Authorization, expiresAt });
    return headers.Authorization;
  }

  async send(
    target: PushTarget,
    payload: Uint8Array,
    options: { ttlSeconds: number; urgency: PushUrgency; topic?: string },
  ): Promise<PushOutcome> {
    const subscription = { endpoint: target.endpoint, keys: { p256dh: target.p256dh, auth: target.auth } };
    try {
      const result = await webpush.sendNotification(subscription, Buffer.from(payload), {
        headers: { Authorization: this.authorization(target.endpoint, Date.now()) },
        TTL: options.ttlSeconds,
        urgency: options.urgency,
        contentEncoding: 'aes128gcm',
        timeout: this.options.timeoutMs,
        ...(options.topic ? { topic: options.topic } : {}),
        agent: this.agent,
      });
      return { kind: 'sent', status: result.statusCode };
    } catch (error) {
      return classify(error);
    }
  }
}

/**
 * Checks subject and keys the way a send would, so a bad configuration fails at start. The library's global VAPID
 * details stay unset: each request carries the cached token as its own `Authorization` header.
 */
function validate(subject: string, keys: VapidKeys): VapidKeys {
  webpush.getVapidHeaders('https://push.invalid', subject, keys.publicKey, keys.privateKey, 'aes128gcm');
  return keys;
}

function classify(error: unknown): PushOutcome {
  if (!(error instanceof webpush.WebPushError)) return { kind: 'retry', status: null };
  const status = error.statusCode;
  if (status === 404 || status === 410) return { kind: 'gone', status };
  if (status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(error.headers['retry-after']);
    return retryAfterMs === undefined ? { kind: 'retry', status } : { kind: 'retry', status, retryAfterMs };
  }
  return { kind: 'refused', status };
}

/** `Retry-After` is seconds or an HTTP date (RFC 9110 §10.2.3). */
function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  const ms = /^\d+$/.test(text.trim()) ? Number(text.trim()) * 1000 : Date.parse(text) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : undefined;
}
