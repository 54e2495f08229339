/**
 * Creates and starts the HTTP + WebSocket server from an environment: security headers on every response, the
 * client address under `TRUST_PROXY` as `req.ip`, JSON body parsing with size limits and JSON errors, access logs
 * and metrics per route pattern, the raw `ws` adapter, and the PWA (when built) served at `/` with an SPA fallback
 * on the same origin as the API; over HTTPS when `TLS_CERT`/`TLS_KEY` are set (reloaded on `SIGHUP`). Metrics are
 * served by their own listener (a repository), not here. Used by
 * `workers/api.ts` and by the tests.
 */
import 'reflect-metadata';

import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Agent, Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ErrorCode, MAX_HTTP_BODY_BYTES } from '@cove/protocol';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { DestinationStream } from 'pino';

import { AppModule } from './app.module.js';
import { contentSecurityPolicies, securityHeaders } from './middleware/security-headers.js';
import { ConfigRepository } from './repositories/config.repository.js';
import { LoggingRepository } from './repositories/logging.repository.js';
import { MetricsListenerRepository } from './repositories/metrics-listener.repository.js';
import { MetricsRepository } from './repositories/metrics.repository.js';
import { readTlsFiles } from './repositories/tls.repository.js';
import { RawWsAdapter } from './repositories/websocket.repository.js';
import { ClientAddressResolver } from './utils/client-address.js';

/** Idle HTTP keep-alive, longer than any client's or balancer's own (see where it is set). */
const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export type RunningApp = {
  app: NestExpressApplication;
  /** `http://host:port`, or `https://` with `TLS_CERT` */
  url: string;
  port: number;
  /** `http://host:port/metrics` of the separate metrics listener; null with `METRICS_PORT=off`. */
  metricsUrl: string | null;
  close(): Promise<void>;
};

export type CreateAppOptions = {
  env?: Record<string, string | undefined>;
  /** Receives every log line (tests). */
  logDestination?: DestinationStream;
  /** HTTPS agent for Web Push requests (tests: one trusting a local push service's certificate). */
  pushAgent?: Agent;
  /**
   * In-memory PGlite only (`PGLITE_DIR=memory`): a data directory image (`PGlite.dumpDataDir`) to start from instead
   * of an empty cluster. Tests pass one with every migration applied; migrations still run (finding none pending).
   */
  pgliteImage?: Blob;
};

/**
 * Paths the API owns; everything else may be the PWA. `/metrics` stays listed although the public port no longer
 * serves it, so that it answers 404 rather than the app's index.html.
 */
const API_PREFIXES = ['/v1/', '/healthz', '/readyz', '/metrics'];

export async function createApp(options: CreateAppOptions = {}): Promise<RunningApp> {
  const config = ConfigRepository.fromEnv(options.env ?? process.env);
  const tlsPaths = config.config.tls;
  const tls = tlsPaths ? await readTlsFiles(tlsPaths) : null;
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot({
      config,
      ...(options.logDestination ? { logDestination: options.logDestination } : {}),
      ...(options.pushAgent ? { pushAgent: options.pushAgent } : {}),
      ...(options.pgliteImage ? { pgliteImage: options.pgliteImage } : {}),
    }),
    {
      bodyParser: false,
      logger: false,
      abortOnError: false,
      ...(tls ? { httpsOptions: { cert: tls.cert, key: tls.key } } : {}),
    },
  );
  const logger = app.get(LoggingRepository);
  const metrics = app.get(MetricsRepository);
  app.useLogger(logger);
  const addresses = new ClientAddressResolver(config.config.trustProxy);
  app.set('trust proxy', (address: string, hop: number) => addresses.trusts(address, hop));
  app.disable('x-powered-by');
  app.use(
    securityHeaders({ hstsMaxAgeSeconds: config.config.hstsMaxAgeSeconds, cspReportUri: config.config.cspReportUri }),
  );

  /**
   * `req.ip` is the client address under `TRUST_PROXY`, resolved once here (Express would read the same header
   * with its own parser; this keeps one rule and one spelling for every limit keyed by address).
   */
  app.use((req: Request, _res: Response, next: NextFunction) => {
    const ip = addresses.resolve(req.socket.remoteAddress, req.headers['x-forwarded-for']);
    Object.defineProperty(req, 'ip', { value: ip, enumerable: true, configurable: true });
    next();
  });

  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      metrics.httpDuration.observe({ method: req.method, route }, seconds);
      logger.info('http', {
        method: req.method,
        route,
        status: res.statusCode,
        ms: Math.round(seconds * 1e4) / 10,
      });
    });
    next();
  });
  app.use(express.json({ limit: MAX_HTTP_BODY_BYTES, strict: true }));
  app.use((error: { type?: string; status?: number }, _req: Request, res: Response, next: NextFunction) => {
    if (error.type === 'entity.too.large') {
      res
        .status(413)
        .json({ error: ErrorCode.PayloadTooLarge, message: `body larger than ${MAX_HTTP_BODY_BYTES} bytes` });
    } else if (error.type === 'entity.parse.failed') {
      res.status(400).json({ error: ErrorCode.MalformedJson, message: 'body is not valid JSON' });
    } else if (error.status && error.status < 500) {
      res.status(error.status).json({ error: ErrorCode.InvalidRequest, message: 'unreadable body' });
    } else {
      next(error);
    }
  });
  servePwa(app, config.config.pwaDir, contentSecurityPolicies(config.config.cspReportUri).app);
  app.useWebSocketAdapter(new RawWsAdapter(app));

  const httpServer: Server = app.getHttpServer();
  /**
   * Idle keep-alive connections stay open longer than clients and load balancers keep theirs (undici: 4 s, common
   * balancers: 60 s), so the server is never the side that closes a connection a client is just reusing, which the
   * client would see as "other side closed" on a request the server never read.
   */
  httpServer.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  httpServer.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1_000;
  await app.listen(config.config.port, config.config.host);
  const address = httpServer.address() as AddressInfo;
  const host = config.config.host === '0.0.0.0' ? '127.0.0.1' : config.config.host;
  logger.info('listening', {
    port: address.port,
    database: config.config.database.kind,
    tls: tls ? `until ${tls.notAfter.toISOString()}` : false,
  });
  /** A renewed certificate (certbot, acme.sh…) is taken on `SIGHUP` for new connections; a bad pair keeps the old. */
  const reloadTls = (): void => {
    if (!tlsPaths) return;
    readTlsFiles(tlsPaths).then(
      (next) => {
        (httpServer as unknown as HttpsServer).setSecureContext({ cert: next.cert, key: next.key });
        logger.info('tls reloaded', { notAfter: next.notAfter.toISOString() });
      },
      (error: unknown) =>
        logger.error('tls reload refused', { reason: error instanceof Error ? error.message : String(error) }),
    );
  };
  if (tlsPaths) process.on('SIGHUP', reloadTls);
  return {
    app,
    url: `${tls ? 'https' : 'http'}://${host}:${address.port}`,
    port: address.port,
    metricsUrl: app.get(MetricsListenerRepository).url,
    close: async () => {
      process.off('SIGHUP', reloadTls);
      await app.close();
    },
  };
}

/**
 * A file under `assets/` whose name carries Vite's content hash (`index-C2BDkbqw.js`): its content never changes
 * under that name, so browsers may keep it for a year without asking again.
 */
const HASHED_ASSET = /[\\/]assets[\\/][^\\/]+-[A-Za-z0-9_-]{8}\.[a-z0-9]+$/i;
/** A year, the longest max-age browsers honour; `immutable` spares even the revalidation a reload would do. */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Everything else (index.html, sw.js, the manifest, icons): cached, but revalidated before each use. */
const REVALIDATE = 'no-cache';

/** Documents and scripts, which run under the app's policy (a worker's policy is that of its script). */
const APP_CODE = /\.(html|js|mjs)$/i;

/**
 * Serves the built PWA, if present: hashed assets cacheable for a year, everything else (index.html, the service
 * worker, the manifest, icons) revalidated on every use so a new build takes effect at once, and index.html for
 * client-side routes. Pages and scripts get the app's Content-Security-Policy.
 */
function servePwa(app: NestExpressApplication, dir: string, appPolicy: string): void {
  const index = join(dir, 'index.html');
  if (!existsSync(index)) return;
  const assets = express.static(dir, {
    index: false,
    cacheControl: false,
    setHeaders: (res, path) => {
      res.setHeader('Cache-Control', HASHED_ASSET.test(path) ? IMMUTABLE : REVALIDATE);
      if (APP_CODE.test(path)) res.setHeader('Content-Security-Policy', appPolicy);
      if (path.endsWith('sw.js')) res.setHeader('Service-Worker-Allowed', '/');
    },
  });
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (API_PREFIXES.some((p) => req.path === p.replace(/\/$/, '') || req.path.startsWith(p))) return next();
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    assets(req, res, () => {
      if (!req.accepts('html')) return next();
      res.setHeader('Cache-Control', REVALIDATE);
      res.setHeader('Content-Security-Policy', appPolicy);
      res.sendFile(index, { cacheControl: false });
    });
  });
}
