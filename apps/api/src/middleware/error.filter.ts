/**
 * Renders every error as `{ error, message }` with a stable code and no stack trace: refusals from services as
 * they are (with `Retry-After` when they carry `retryAfter`), framework errors (unknown route, bad method) by
 * status, an unreachable database as `503 unavailable` (with `Retry-After`), anything else as `500 internal_error`
 * after logging its kind (not its data).
 */
import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { ErrorCode } from '@cove/protocol';

import { isDatabaseUnavailable } from '../repositories/database.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { ApiError } from '../services/api-error.js';

type Response = {
  status(code: number): Response;
  json(body: unknown): void;
  setHeader(name: string, value: string): void;
  headersSent: boolean;
};

/** A database restart takes seconds: ask clients to come back soon, not to hammer it. */
const UNAVAILABLE_RETRY_AFTER_S = 2;

const BY_STATUS: Record<number, ErrorCode> = {
  400: ErrorCode.InvalidRequest,
  401: ErrorCode.Unauthorized,
  403: ErrorCode.Forbidden,
  404: ErrorCode.NotFound,
  405: ErrorCode.InvalidRequest,
  413: ErrorCode.PayloadTooLarge,
  429: ErrorCode.RateLimited,
  503: ErrorCode.Unavailable,
};

@Catch()
export class ErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: LoggingRepository) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') return;
    const response = host.switchToHttp().getResponse<Response>();
    if (response.headersSent) return;
    if (exception instanceof ApiError) {
      /** A refusal that says when to come back (`retryAfter`, seconds) says it in the standard header too. */
      if (typeof exception.extra.retryAfter === 'number') {
        response.setHeader('Retry-After', String(exception.extra.retryAfter));
      }
      response.status(exception.getStatus()).json(exception.body);
      return;
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const error = BY_STATUS[status] ?? (status < 500 ? ErrorCode.InvalidRequest : ErrorCode.Internal);
      response.status(status).json({ error, message: status === 404 ? 'no such route' : exception.message });
      return;
    }
    if (isDatabaseUnavailable(exception)) {
      /** Down, restarting or unreachable: nothing is wrong with the request; the client retries. */
      this.logger.warn('database unavailable', {
        kind: exception instanceof Error ? exception.name : typeof exception,
      });
      response.setHeader('Retry-After', String(UNAVAILABLE_RETRY_AFTER_S));
      response.status(503).json({ error: ErrorCode.Unavailable, message: 'the database is unavailable; retry later' });
      return;
    }
    // The message may quote input (e.g. a driver error citing a value), so only the type and call sites are logged.
    const stack = exception instanceof Error ? (exception.stack ?? '').split('\n').slice(1, 8).join('|') : '';
    this.logger.error('unhandled error', {
      kind: exception instanceof Error ? exception.name : typeof exception,
      stack,
    });
    response.status(500).json({ error: ErrorCode.Internal, message: 'internal error' });
  }
}
