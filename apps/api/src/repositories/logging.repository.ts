/**
 * Structured logging (pino) for the whole server, also installed as Nest's logger. Log lines carry ids, routes
 * (patterns, never concrete URLs that could hold a username), status codes and durations only: never envelope
 * content, keys, credentials, tickets or push endpoints. Call sites pass plain objects of such fields. Tests may
 * attach a sink to capture every line.
 */
import type { LoggerService } from '@nestjs/common';
import { pino, type Logger, type DestinationStream } from 'pino';

import type { ConfigRepository } from './config.repository.js';

/** Field names that must never be logged even by mistake; pino replaces their values. */
const REDACT = [
  'content',
  'secret',
  'ticket',
  'credential',
  'authorization',
  'headers.authorization',
  'req.headers.authorization',
  'accessKey',
  'unidentifiedAccessKey',
  'headers["unidentified-access-key"]',
  'req.headers["unidentified-access-key"]',
  'identityKey',
  'publicKey',
  'signature',
  'endpoint',
  'username',
];

export type LogFields = Record<string, string | number | boolean | null | undefined>;

export class LoggingRepository implements LoggerService {
  readonly logger: Logger;

  constructor(config: ConfigRepository, destination?: DestinationStream) {
    const options = {
      level: config.config.logLevel,
      base: { service: 'cove-api' },
      redact: { paths: REDACT, censor: '[redacted]' },
    };
    this.logger = destination ? pino(options, destination) : pino(options);
  }

  info(message: string, fields: LogFields = {}): void {
    this.logger.info(fields, message);
  }

  warn(message: string, fields: LogFields = {}): void {
    this.logger.warn(fields, message);
  }

  error(message: unknown, fields?: unknown): void {
    this.logger.error(typeof fields === 'object' && fields !== null ? fields : {}, String(message));
  }

  debug(message: string, fields: LogFields = {}): void {
    this.logger.debug(fields, message);
  }

  /** Nest's LoggerService: framework messages (module init, routes) are logged at debug, errors as errors. */
  log(message: unknown, context?: unknown): void {
    this.logger.debug({ context: typeof context === 'string' ? context : undefined }, String(message));
  }

  verbose(message: unknown): void {
    this.logger.trace(String(message));
  }

  fatal(message: unknown): void {
    this.logger.fatal(String(message));
  }
}
