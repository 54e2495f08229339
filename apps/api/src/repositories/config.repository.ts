/**
 * The server's configuration, read from the environment once and validated with zod at start: a bad value stops
 * the server with a clear message instead of surfacing later. Every variable is documented in the root README.
 * This module reads no files and opens no connections.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { MAX_DEVICES_PER_ACCOUNT, PROVISIONING_CHANNEL_TTL_MS } from '@cove/protocol';
import { z } from 'zod';
import { SENDER_CERTIFICATE_LIFETIME_MS } from '@cove/protocol';

import { RATE_LIMITS, type RateLimitWindow } from '../rate-limits.js';
import { parseTrustProxy, type TrustProxy } from '../utils/client-address.js';

/** Repository root, so that relative defaults do not depend on the working directory of `npm start -w`. */
export const REPOSITORY_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');

const flag = z.enum(['on', 'off', 'true', 'false', '1', '0']).transform((v) => v === 'on' || v === 'true' || v === '1');

/** `500ms`, `30s`, `15m`, `12h`, `30d`, or a bare number of seconds; parsed to milliseconds. */
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const duration = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)?$/, 'must be a duration such as 500ms, 30s, 15m, 12h or 30d')
  .transform((v) => {
    const [, n = '0', unit = 's'] = /^(\d+)(ms|s|m|h|d)?$/.exec(v) ?? [];
    return Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS];
  })
  .refine((ms) => ms > 0, 'must be positive');

/** `65536`, `64KiB`, `256MiB` or `1GiB` (a bare number is bytes); parsed to bytes. */
const UNIT_BYTES = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 } as const;
const size = z
  .string()
  .regex(/^\d+(B|KiB|MiB|GiB)?$/, 'must be a size such as 65536, 64KiB, 256MiB or 1GiB')
  .transform((v) => {
    const [, n = '0', unit = 'B'] = /^(\d+)(B|KiB|MiB|GiB)?$/.exec(v) ?? [];
    return Number(n) * UNIT_BYTES[unit as keyof typeof UNIT_BYTES];
  })
  .refine((bytes) => bytes > 0 && Number.isSafeInteger(bytes), 'must be positive');

/** `600/1m`: at most 600 per minute (the window takes the units of a duration); parsed to `{ limit, ttl }`. */
const rate = z
  .string()
  .regex(/^\d+\/\d+(ms|s|m|h|d)?$/, 'must be a rate such as 600/1m (a count per duration)')
  .transform((v) => {
    const [count = '0', window = '0'] = v.split('/');
    const [, n = '0', unit = 's'] = /^(\d+)(ms|s|m|h|d)?$/.exec(window) ?? [];
    return { limit: Number(count), ttl: Number(n) * UNIT_MS[unit as keyof typeof UNIT_MS] };
  })
  .refine((r) => r.limit > 0 && r.ttl >= 1000, 'needs a positive count and a window of at least 1s');
/**
 * Push services answer on HTTPS's port: an endpoint on any other port of an allowed host (`:6379`, `:22`) could
 * only be a way to make the server talk to something that is not the push service.
 */
const HTTPS_PORT = 443;

/** A host suffix a push endpoint may use, and the one port it may use there (443 unless the entry names another). */
export type PushHost = { host: string; port: number };

/** The browser push services: Chrome/Edge (FCM), Firefox (Mozilla autopush), Windows (WNS), Safari (Apple). */
export const DEFAULT_PUSH_ALLOWED_HOSTS = [
  'fcm.googleapis.com',
  'android.googleapis.com',
  'push.services.mozilla.com',
  'notify.windows.com',
  'push.apple.com',
];

/** `HSTS=on`: one year, the max-age browsers' preload lists ask for and long enough to outlast any absence. */
const HSTS_DEFAULT_MAX_AGE_S = 365 * 24 * 3600;

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  DATA_DIR: z.string().min(1).default('./data'),
  /** The local admin socket: a path, `off`, or unset for `DATA_DIR/admin.sock` (Unix sockets: at most 107 bytes). */
  ADMIN_SOCKET: z.string().min(1).max(107).optional(),
  REGISTRATION: z.enum(['open', 'invite', 'sso']).default('open'),
  /**
   * The organization directory (members search members by username prefix). Unset: on when membership is closed
   * (`REGISTRATION=invite` or `sso`: the people who can search are the organization's), off on an open server (anyone
   * who registers could list everyone).
   */
  ORG_DIRECTORY: z.enum(['on', 'off']).optional(),
  /** Single sign-on (`REGISTRATION=sso`): the OpenID Connect provider and this server's client registration there. */
  OIDC_ISSUER: z.string().url().optional(),
  OIDC_CLIENT_ID: z.string().min(1).optional(),
  OIDC_CLIENT_SECRET: z.string().min(1).optional(),
  /** The sign-in button's label ("Sign in with Acme"); default: the issuer's host name. */
  OIDC_NAME: z.string().min(1).max(64).optional(),
  /** Comma-separated e-mail domains allowed in (the `email` claim, verified); empty: any. */
  OIDC_ALLOWED_DOMAINS: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((d) => d.trim().toLowerCase())
        .filter(Boolean),
    ),
  /** A group a person must be in (listed in the `OIDC_GROUPS_CLAIM` claim); unset: none required. */
  OIDC_REQUIRED_GROUP: z.string().min(1).optional(),
  OIDC_GROUPS_CLAIM: z.string().min(1).default('groups'),
  /** The claim the Cove username is taken from. */
  OIDC_USERNAME_CLAIM: z.string().min(1).default('preferred_username'),
  OIDC_SCOPES: z.string().min(1).default('openid email profile'),
  /**
   * The address people reach this server at (`https://chat.example.org`): the identity provider sends them back to
   * `PUBLIC_URL/v1/sso/callback`, which must be registered with it. Required with `REGISTRATION=sso`.
   */
  PUBLIC_URL: z
    .string()
    .url()
    .optional()
    .transform((v) => v?.replace(/\/+$/, '')),
  INVITE_CODES: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
    ),
  RATE_LIMITS: flag.default(true),
  /** Sends per sender device (HTTP and WebSocket); the default and its reason are in `rate-limits.ts`. */
  RATE_LIMIT_SENDS: rate.default(RATE_LIMITS.send),
  /** Sends per (sender device, recipient account). */
  RATE_LIMIT_SENDS_PER_RECIPIENT: rate.default(RATE_LIMITS.sendToRecipient),
  /** Recipient devices of multi-recipient sends per sender device (the fan-out one device may cause). */
  RATE_LIMIT_SEND_DEVICES: rate.default(RATE_LIMITS.sendDevices),
  /** Sealed (unidentified) sends per recipient account, from every address together. */
  RATE_LIMIT_SEALED_SENDS_PER_RECIPIENT: rate.default(RATE_LIMITS.sealedToRecipient),
  /**
   * First lockout after repeated failed authentication from one address or against one account (limits in
   * `AUTH_THROTTLE`); each repeat within a day doubles it, up to an hour. A minute stops a flood without locking a
   * confused client out for long.
   */
  AUTH_LOCKOUT: duration.default(60_000),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  SERVER_NAME: z.string().min(1).max(64).default('Cove'),
  /**
   * Sealed sender's trust root (base64 of a 32-byte Curve25519 private key), shared by every instance; unset = generated
   * on first start and kept in `DATA_DIR/sealed-sender-trust-root.json` (mode 0600).
   */
  SEALED_SENDER_TRUST_ROOT_PRIVATE_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, 'must be base64 of 32 bytes')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /**
   * OPAQUE password login's server setup (the string `@serenity-kit/opaque` makes: its OPRF seed and long-term key
   * pair), shared by every instance; unset = generated on first start and kept in `DATA_DIR/opaque-server-setup.json`
   * (mode 0600). Changing it makes every stored password record unusable (users set their password again).
   */
  OPAQUE_SERVER_SETUP: z
    .string()
    .regex(/^[A-Za-z0-9_-]{100,400}$/, 'must be an OPAQUE server setup (base64url, from `npx @serenity-kit/opaque`)')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /** How long a password login may take between its start and its finish. */
  PASSWORD_LOGIN_TTL: duration.default(60_000),
  /** Key id of the server certificate (its key is derived from the trust root and the id): change it to rotate. */
  SEALED_SENDER_SERVER_KEY_ID: z.coerce.number().int().min(1).max(0xffff_ffff).default(1),
  /** Lifetime of the sender certificates the server signs. */
  SEALED_SENDER_CERTIFICATE_LIFETIME: duration.default(SENDER_CERTIFICATE_LIFETIME_MS),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: z
    .string()
    .default('off')
    .transform((v, ctx) => {
      try {
        return parseTrustProxy(v);
      } catch (error) {
        ctx.addIssue({ code: 'custom', input: v, message: error instanceof Error ? error.message : String(error) });
        return z.NEVER;
      }
    }),
  PWA_DIR: z.string().min(1).default('apps/pwa/dist'),
  /** Embedded database location override (tests): `memory` keeps PGlite in memory. */
  PGLITE_DIR: z.string().min(1).optional(),
  /** PGlite waits for the disk on every commit (as PostgreSQL does); `off` trades that for speed. */
  PGLITE_FSYNC: flag.default(true),
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/)
    .default('cove'),
  INSTANCE_ID: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{1,64}$/)
    .optional(),
  WORKERS_IN_API: flag.default(true),
  VAPID_PUBLIC_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{87}$/, 'must be a base64url P-256 public key')
    .optional(),
  VAPID_PRIVATE_KEY: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/, 'must be a base64url P-256 private key')
    .optional(),
  VAPID_SUBJECT: z
    .string()
    .regex(/^(mailto:[^\s@]+@[^\s@]+|https:\/\/\S+)$/, 'must be a mailto: or https: URL')
    .default('mailto:postmaster@localhost'),
  PUSH_ALLOWED_HOSTS: z
    .string()
    .default(DEFAULT_PUSH_ALLOWED_HOSTS.join(','))
    .transform((v, ctx) => {
      const entries: PushHost[] = [];
      for (const raw of v.split(',')) {
        const text = raw.trim().toLowerCase().replace(/^\./, '');
        if (!text) continue;
        const match = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9.-]+))(?::(\d{1,5}))?$/.exec(text);
        const port = match?.[3] === undefined ? HTTPS_PORT : Number(match[3]);
        const host = match?.[1] ?? match?.[2];
        if (!host || port < 1 || port > 65535) {
          ctx.addIssue({ code: 'custom', input: v, message: `"${raw.trim()}" is not a host or host:port` });
          return z.NEVER;
        }
        entries.push({ host, port });
      }
      return entries;
    }),
  PUSH_TIMEOUT: duration.default(10_000),
  PUSH_RETRY_DELAY: duration.default(2_000),
  PUSH_RENOTIFY_AFTER: duration.default(15 * 60_000),
  PUSH_SWEEP_INTERVAL: duration.default(60_000),
  ENVELOPE_TTL: duration.default(30 * 86_400_000),
  RETENTION_INTERVAL: duration.default(3_600_000),
  IDLE_DEVICE_AFTER: duration.default(90 * 86_400_000),
  PRESENCE_TTL: duration.default(15_000),
  /** WebSocket heartbeat round: a connection answering no ping for a whole round is dropped. */
  WS_HEARTBEAT_INTERVAL: duration.default(30_000),
  /**
   * How often each instance checks that the device of every live socket still exists. Removal closes sockets over the
   * bus at once; the bus is at most once, so this bounds how long a missed close can last.
   */
  WS_DEVICE_CHECK_INTERVAL: duration.default(60_000),
  /**
   * Undelivered envelopes one device may have waiting: a device offline for the whole `ENVELOPE_TTL` (30 days) with a
   * few hundred envelopes a day (messages and receipts) stays below it; a flood stops here, not at the disk's end.
   */
  /** Devices per account: at most the wire bound (send bodies are sized for it), lower for a stricter server. */
  MAX_DEVICES: z.coerce.number().int().min(1).max(MAX_DEVICES_PER_ACCOUNT).default(MAX_DEVICES_PER_ACCOUNT),
  PROVISIONING_TTL: duration.default(PROVISIONING_CHANNEL_TTL_MS),
  MAX_QUEUED_ENVELOPES: z.coerce.number().int().min(1).max(10_000_000).default(10_000),
  /**
   * Bytes of content one device may have waiting: 4,096 maximum-size envelopes (ordinary ones are far smaller, so the
   * count binds first); with 6 devices, at most 1.5 GiB per account however a sender behaves.
   */
  MAX_QUEUED_BYTES: size.default(256 * 1024 ** 2),
  /** `off`, `on` (one year), or a max-age duration such as `180d`. */
  HSTS: z
    .string()
    .default('off')
    .transform((v, ctx) => {
      if (['off', 'false', '0'].includes(v)) return null;
      if (['on', 'true', '1'].includes(v)) return HSTS_DEFAULT_MAX_AGE_S;
      const parsed = duration.safeParse(v);
      if (parsed.success && parsed.data >= 1_000) return Math.floor(parsed.data / 1_000);
      ctx.addIssue({ code: 'custom', input: v, message: 'must be off, on, or a max-age such as 180d' });
      return z.NEVER;
    }),
  /** Absolute http(s) URL or a path; nothing that could end the CSP directive or start another. */
  /** PEM files of the certificate (chain) and its private key: the server then speaks HTTPS and WSS itself. */
  TLS_CERT: z
    .string()
    .optional()
    .transform((v) => v || undefined),
  TLS_KEY: z
    .string()
    .optional()
    .transform((v) => v || undefined),
  CSP_REPORT_URI: z
    .string()
    .regex(
      /^(https?:\/\/[^\s;,'"]+|\/[^\s;,'"]*)$/,
      'must be an http(s) URL or a path, without spaces, commas or semicolons',
    )
    .optional()
    .or(z.literal('').transform(() => undefined)),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** 9464: where OpenTelemetry's Prometheus exporter listens by default, so scrape configs expecting app metrics there work. */
  METRICS_PORT: z
    .string()
    .default('9464')
    .transform((v, ctx) => {
      if (v === 'off') return null;
      if (/^\d{1,5}$/.test(v) && Number(v) <= 65535) return Number(v);
      ctx.addIssue({ code: 'custom', input: v, message: 'must be a port number (0 picks a free one) or off' });
      return z.NEVER;
    }),
  METRICS_TOKEN: z
    .string()
    .regex(/^[\x21-\x7e]{16,256}$/, 'must be 16 to 256 printable characters without spaces')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  /** Where finished attachments live: `disk` (under DATA_DIR, the default) or `s3` (the S3_* variables). */
  ATTACHMENT_STORE: z.enum(['disk', 's3']).default('disk'),
  /** Largest attachment: 100 MiB holds a long video; the client pads to a bucket below it. */
  ATTACHMENT_MAX_BYTES: size.default(100 * 1024 ** 2),
  /** Bytes one account may hold (finished and in progress): ten maximum-size files live for the whole TTL. */
  ATTACHMENT_QUOTA_BYTES: size.default(1024 ** 3),
  /** Attachments are deleted this long after their upload finished, like envelopes (`ENVELOPE_TTL`). */
  ATTACHMENT_TTL: duration.default(30 * 86_400_000),
  /** An upload unfinished this long after it was created is abandoned: its bytes and quota are released. */
  ATTACHMENT_ABANDON_AFTER: duration.default(86_400_000),
  /** New uploads per device; the default and its reason are in `controllers/rate-limits.ts`. */
  RATE_LIMIT_ATTACHMENTS: rate.default(RATE_LIMITS.attachmentUpload),
  S3_ENDPOINT: z
    .string()
    .regex(/^https?:\/\/\S+$/, 'must be an http(s) URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be an S3 bucket name')
    .optional(),
  S3_REGION: z.string().min(1).max(64).default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  /** Path-style URLs (`endpoint/bucket/key`): needed by MinIO, Garage and most self-hosted stores. */
  S3_FORCE_PATH_STYLE: flag.default(true),
});

/** Addresses only this machine can reach: metrics there need no token. */
const LOOPBACK_HOSTS = /^(localhost|127(\.\d{1,3}){3}|::1|\[::1\])$/i;

export type Env = z.input<typeof EnvSchema>;

export type AppConfig = {
  port: number;
  host: string;
  database:
    { kind: 'postgres'; url: string; poolSize: number } | { kind: 'pglite'; dir: string | null; fsync: boolean };
  dataDir: string;
  /** Path of the local admin socket; null: none is served. */
  adminSocket: string | null;
  registration: 'open' | 'invite' | 'sso';
  /** Members may search members by username prefix (`ORG_DIRECTORY`; see its default there). */
  directory: boolean;
  inviteCodes: string[];
  /** Single sign-on with OpenID Connect; null unless `REGISTRATION=sso`. */
  sso: SsoConfig | null;
  rateLimits: boolean;
  /** The configured send limits (HTTP and WebSocket alike). */
  sendRateLimits: {
    send: RateLimitWindow;
    sendToRecipient: RateLimitWindow;
    sendDevices: RateLimitWindow;
    sealedToRecipient: RateLimitWindow;
  };
  authLockoutMs: number;
  redisUrl: string | undefined;
  serverName: string;
  /** Sealed sender: the configured trust root private key (32 bytes; undefined = generated under `dataDir`). */
  sealedSender: { trustRootPrivateKey: Uint8Array | undefined; serverKeyId: number; certificateLifetimeMs: number };
  /** Password login: the configured OPAQUE server setup (undefined = generated under `dataDir`), and its login TTL. */
  password: { opaqueServerSetup: string | undefined; loginTtlMs: number };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How far `X-Forwarded-For` is believed (see `utils/client-address.ts`). */
  trustProxy: TrustProxy;
  pwaDir: string;
  version: string;
  heartbeatIntervalMs: number;
  /** `WS_DEVICE_CHECK_INTERVAL`: the revocation sweep over live sockets. */
  deviceCheckIntervalMs: number;
  /** Per-device queue caps, checked in the statement that stores a send. */
  maxQueuedEnvelopes: number;
  /** `MAX_DEVICES`: devices one account may have, the primary included. */
  maxDevices: number;
  /** `PROVISIONING_TTL`: how long a provisioning channel waits for its message. */
  provisioningTtlMs: number;
  maxQueuedBytes: number;
  /** `Strict-Transport-Security` max-age in seconds; null when `HSTS=off`. */
  hstsMaxAgeSeconds: number | null;
  /** CSP `report-uri`; null when unset. */
  cspReportUri: string | null;
  /** `TLS_CERT` / `TLS_KEY` (absolute paths): serve HTTPS and WSS; null = plain HTTP (a proxy terminates TLS). */
  tls: { certPath: string; keyPath: string } | null;
  /** The Prometheus listener, apart from the public port; null when `METRICS_PORT=off`. */
  metrics: { host: string; port: number; token: string | undefined } | null;
  delivery: DeliveryConfig;
  attachments: AttachmentConfig;
};

/** Single sign-on with OpenID Connect (`REGISTRATION=sso`). */
export type SsoConfig = {
  issuer: string;
  clientId: string;
  clientSecret: string;
  name: string;
  allowedDomains: string[];
  requiredGroup: string | null;
  groupsClaim: string;
  usernameClaim: string;
  scopes: string;
  /** `PUBLIC_URL/v1/sso/callback` */
  redirectUri: string;
  publicUrl: string;
};

/** Attachment storage and its limits (sizes in bytes, durations in milliseconds). */
export type AttachmentConfig = {
  store: 'disk' | 's3';
  maxBytes: number;
  quotaBytes: number;
  ttlMs: number;
  abandonAfterMs: number;
  uploadRateLimit: RateLimitWindow;
  /** Set when `store` is `s3`; credentials fall back to the AWS SDK's own chain (environment, instance role). */
  s3: {
    endpoint: string | undefined;
    bucket: string;
    region: string;
    credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
    forcePathStyle: boolean;
  } | null;
};

/** Push, cross-instance delivery and retention (durations in milliseconds). */
export type DeliveryConfig = {
  redisPrefix: string;
  instanceId: string | undefined;
  workersInApi: boolean;
  vapid: { subject: string; keys: { publicKey: string; privateKey: string } | undefined };
  pushAllowedHosts: PushHost[];
  pushTimeoutMs: number;
  pushRetryDelayMs: number;
  pushRenotifyAfterMs: number;
  pushSweepIntervalMs: number;
  envelopeTtlMs: number;
  retentionIntervalMs: number;
  idleDeviceAfterMs: number;
  presenceTtlMs: number;
};

/** Thrown when the environment is invalid; the message names each bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function parseConfig(env: Record<string, string | undefined>): AppConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  if (e.REGISTRATION === 'sso') {
    const missing = (['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'PUBLIC_URL'] as const).filter(
      (k) => !e[k],
    );
    if (missing.length) {
      throw new ConfigError(`invalid configuration: REGISTRATION=sso needs ${missing.join(', ')}`);
    }
  }
  if (Boolean(e.TLS_CERT) !== Boolean(e.TLS_KEY)) {
    throw new ConfigError('invalid configuration: set both TLS_CERT and TLS_KEY, or neither');
  }
  if (Boolean(e.VAPID_PUBLIC_KEY) !== Boolean(e.VAPID_PRIVATE_KEY)) {
    throw new ConfigError('invalid configuration: set both VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY, or neither');
  }
  if (!e.WORKERS_IN_API && !e.REDIS_URL) {
    throw new ConfigError(
      'invalid configuration: WORKERS_IN_API=false needs REDIS_URL (a separate worker shares Redis)',
    );
  }
  if (e.METRICS_PORT !== null && !e.METRICS_TOKEN && !LOOPBACK_HOSTS.test(e.METRICS_HOST)) {
    throw new ConfigError(
      'invalid configuration: METRICS_TOKEN is required when METRICS_HOST is not a loopback address (metrics show live traffic)',
    );
  }
  if (e.METRICS_PORT !== null && e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT) {
    throw new ConfigError('invalid configuration: METRICS_PORT must differ from PORT (metrics are never public)');
  }
  if (e.ATTACHMENT_STORE === 's3' && !e.S3_BUCKET) {
    throw new ConfigError('invalid configuration: ATTACHMENT_STORE=s3 needs S3_BUCKET');
  }
  if (Boolean(e.S3_ACCESS_KEY_ID) !== Boolean(e.S3_SECRET_ACCESS_KEY)) {
    throw new ConfigError('invalid configuration: set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither');
  }
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(REPOSITORY_ROOT, p));
  const dataDir = abs(e.DATA_DIR);
  return {
    port: e.PORT,
    host: e.HOST,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE }
      : {
          kind: 'pglite',
          dir: e.PGLITE_DIR === 'memory' ? null : abs(e.PGLITE_DIR ?? `${dataDir}/pglite`),
          fsync: e.PGLITE_FSYNC,
        },
    dataDir,
    adminSocket: e.ADMIN_SOCKET === 'off' ? null : abs(e.ADMIN_SOCKET ?? `${dataDir}/admin.sock`),
    registration: e.REGISTRATION,
    directory: e.ORG_DIRECTORY === undefined ? e.REGISTRATION !== 'open' : e.ORG_DIRECTORY === 'on',
    inviteCodes: e.INVITE_CODES,
    sso:
      e.REGISTRATION === 'sso' && e.OIDC_ISSUER && e.OIDC_CLIENT_ID && e.OIDC_CLIENT_SECRET && e.PUBLIC_URL
        ? {
            issuer: e.OIDC_ISSUER,
            clientId: e.OIDC_CLIENT_ID,
            clientSecret: e.OIDC_CLIENT_SECRET,
            name: e.OIDC_NAME ?? new URL(e.OIDC_ISSUER).hostname,
            allowedDomains: e.OIDC_ALLOWED_DOMAINS,
            requiredGroup: e.OIDC_REQUIRED_GROUP ?? null,
            groupsClaim: e.OIDC_GROUPS_CLAIM,
            usernameClaim: e.OIDC_USERNAME_CLAIM,
            scopes: e.OIDC_SCOPES,
            redirectUri: `${e.PUBLIC_URL}/v1/sso/callback`,
            publicUrl: e.PUBLIC_URL,
          }
        : null,
    rateLimits: e.RATE_LIMITS,
    sendRateLimits: {
      send: e.RATE_LIMIT_SENDS,
      sendToRecipient: e.RATE_LIMIT_SENDS_PER_RECIPIENT,
      sendDevices: e.RATE_LIMIT_SEND_DEVICES,
      sealedToRecipient: e.RATE_LIMIT_SEALED_SENDS_PER_RECIPIENT,
    },
    authLockoutMs: e.AUTH_LOCKOUT,
    redisUrl: e.REDIS_URL,
    serverName: e.SERVER_NAME,
    sealedSender: {
      trustRootPrivateKey: e.SEALED_SENDER_TRUST_ROOT_PRIVATE_KEY
        ? new Uint8Array(Buffer.from(e.SEALED_SENDER_TRUST_ROOT_PRIVATE_KEY, 'base64'))
        : undefined,
      serverKeyId: e.SEALED_SENDER_SERVER_KEY_ID,
      certificateLifetimeMs: e.SEALED_SENDER_CERTIFICATE_LIFETIME,
    },
    password: { opaqueServerSetup: e.OPAQUE_SERVER_SETUP, loginTtlMs: e.PASSWORD_LOGIN_TTL },
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    pwaDir: abs(e.PWA_DIR),
    version: '0.1.0',
    heartbeatIntervalMs: e.WS_HEARTBEAT_INTERVAL,
    deviceCheckIntervalMs: e.WS_DEVICE_CHECK_INTERVAL,
    maxQueuedEnvelopes: e.MAX_QUEUED_ENVELOPES,
    maxDevices: e.MAX_DEVICES,
    provisioningTtlMs: e.PROVISIONING_TTL,
    maxQueuedBytes: e.MAX_QUEUED_BYTES,
    hstsMaxAgeSeconds: e.HSTS,
    cspReportUri: e.CSP_REPORT_URI ?? null,
    tls: e.TLS_CERT && e.TLS_KEY ? { certPath: resolve(e.TLS_CERT), keyPath: resolve(e.TLS_KEY) } : null,
    metrics: e.METRICS_PORT === null ? null : { host: e.METRICS_HOST, port: e.METRICS_PORT, token: e.METRICS_TOKEN },
    delivery: {
      redisPrefix: e.REDIS_PREFIX,
      instanceId: e.INSTANCE_ID,
      workersInApi: e.WORKERS_IN_API,
      vapid: {
        subject: e.VAPID_SUBJECT,
        keys:
          e.VAPID_PUBLIC_KEY && e.VAPID_PRIVATE_KEY
            ? { publicKey: e.VAPID_PUBLIC_KEY, privateKey: e.VAPID_PRIVATE_KEY }
            : undefined,
      },
      pushAllowedHosts: e.PUSH_ALLOWED_HOSTS,
      pushTimeoutMs: e.PUSH_TIMEOUT,
      pushRetryDelayMs: e.PUSH_RETRY_DELAY,
      pushRenotifyAfterMs: e.PUSH_RENOTIFY_AFTER,
      pushSweepIntervalMs: e.PUSH_SWEEP_INTERVAL,
      envelopeTtlMs: e.ENVELOPE_TTL,
      retentionIntervalMs: e.RETENTION_INTERVAL,
      idleDeviceAfterMs: e.IDLE_DEVICE_AFTER,
      presenceTtlMs: e.PRESENCE_TTL,
    },
    attachments: {
      store: e.ATTACHMENT_STORE,
      maxBytes: e.ATTACHMENT_MAX_BYTES,
      quotaBytes: e.ATTACHMENT_QUOTA_BYTES,
      ttlMs: e.ATTACHMENT_TTL,
      abandonAfterMs: e.ATTACHMENT_ABANDON_AFTER,
      uploadRateLimit: e.RATE_LIMIT_ATTACHMENTS,
      s3:
        e.ATTACHMENT_STORE === 's3' && e.S3_BUCKET
          ? {
              endpoint: e.S3_ENDPOINT,
              bucket: e.S3_BUCKET,
              region: e.S3_REGION,
              credentials:
                e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY
                  ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY }
                  : undefined,
              forcePathStyle: e.S3_FORCE_PATH_STYLE,
            }
          : null,
    },
  };
}

/** Injectable holder of the validated configuration. */
export class ConfigRepository {
  constructor(readonly config: AppConfig) {}

  static fromEnv(env: Record<string, string | undefined> = process.env): ConfigRepository {
    return new ConfigRepository(parseConfig(env));
  }
}
