/**
 * The one error type services throw for a refusal the client should see: an HTTP status, a stable code from
 * `@cove/protocol` and optional extra fields (e.g. `missingDevices`). The exception filter renders it as
 * `{ error, message, ...extra }`; the WebSocket service renders the same body in a `result` frame.
 */
import { HttpException } from '@nestjs/common';
import type { ErrorCode } from '@cove/protocol';

export class ApiError extends HttpException {
  constructor(
    status: number,
    readonly code: ErrorCode,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super({ error: code, message, ...extra }, status);
  }

  get body(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...this.extra };
  }
}
