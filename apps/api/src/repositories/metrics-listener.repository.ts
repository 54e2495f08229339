/**
 * The Prometheus listener: `GET /metrics` on its own address (`METRICS_HOST`, default loopback, and `METRICS_PORT`),
 * apart from the public port, because live counts of connections, envelopes and pushes describe the traffic of
 * users. With `METRICS_TOKEN` set, a scrape must carry `Authorization: Bearer <token>` (compared as SHA-256 digests
 * in constant time). It starts with the application and stops with it. It serves nothing but the metrics text and
 * knows nothing about what the metrics mean (`metrics.repository.ts`).
 */
import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { ConfigRepository } from './config.repository.js';
import { LoggingRepository } from './logging.repository.js';
import { MetricsRepository } from './metrics.repository.js';

/** A scrape that has not sent its request line and headers within this time is cut off (Prometheus sends at once). */
const HEADERS_TIMEOUT_MS = 10_000;

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

@Injectable()
export class MetricsListenerRepository implements OnApplicationBootstrap, OnApplicationShutdown {
  private server: Server | undefined;
  private readonly tokenDigest: Buffer | undefined;

  constructor(
    private readonly config: ConfigRepository,
    private readonly metrics: MetricsRepository,
    private readonly logger: LoggingRepository,
  ) {
    const token = config.config.metrics?.token;
    this.tokenDigest = token === undefined ? undefined : digest(token);
  }

  /** `http://host:port/metrics` once listening; null when the listener is off. */
  get url(): string | null {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) return null;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${address.port}/metrics`;
  }

  async onApplicationBootstrap(): Promise<void> {
    const settings = this.config.config.metrics;
    if (!settings) return;
    const server = createServer((req, res) => {
      void this.handle(req, res);
    });
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = HEADERS_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(settings.port, settings.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => undefined);
    this.server = server;
    this.logger.info('metrics listening', { port: (server.address() as AddressInfo).port });
  }

  async onApplicationShutdown(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') return this.reply(res, 404, 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return this.reply(res, 405, 'method not allowed\n');
    }
    if (!this.authorized(req.headers.authorization)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="cove-metrics"');
      return this.reply(res, 401, 'unauthorized\n');
    }
    try {
      const { contentType, body } = await this.metrics.render();
      res.setHeader('Content-Type', contentType);
      this.reply(res, 200, req.method === 'HEAD' ? '' : body);
    } catch (error) {
      this.logger.error('metrics failed', { type: error instanceof Error ? error.name : typeof error });
      this.reply(res, 500, 'metrics unavailable\n');
    }
  }

  private authorized(header: string | undefined): boolean {
    if (!this.tokenDigest) return true;
    const presented = /^Bearer ([\x21-\x7e]+)$/.exec(header ?? '')?.[1] ?? '';
    return timingSafeEqual(digest(presented), this.tokenDigest);
  }

  private reply(res: ServerResponse, status: number, body: string): void {
    res.statusCode = status;
    if (!res.hasHeader('Content-Type')) res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.end(body);
  }
}
