/**
 * Validation of bodies and parameters with the zod schemas of `@cove/protocol`: a mismatch is
 * `400 invalid_request` naming the first bad field, a too-large string or array is `413 payload_too_large`.
 */
import type { PipeTransform } from '@nestjs/common';
import { ErrorCode } from '@cove/protocol';
import type { z } from 'zod';

import { ApiError } from '../services/api-error.js';

export class ZodPipe<T extends z.ZodType> implements PipeTransform<unknown, z.infer<T>> {
  constructor(private readonly schema: T) {}

  transform(value: unknown): z.infer<T> {
    const parsed = this.schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'body';
    if (parsed.error.issues.some((i) => i.code === 'too_big')) {
      throw new ApiError(413, ErrorCode.PayloadTooLarge, `${where}: too large`);
    }
    throw new ApiError(400, ErrorCode.InvalidRequest, `${where}: ${issue?.message ?? 'invalid'}`);
  }
}
