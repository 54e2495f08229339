/** HTTP routes of envelopes: send, list, acknowledge. Rules and group commit live in the message service. */
import { Body, Controller, Delete, Get, HttpCode, Param, Put, Query } from '@nestjs/common';
import {
  AccountId,
  ENVELOPE_PAGE_SIZE,
  Guid,
  SendMessagesRequest,
  type EnvelopeListResponse,
  type ErrorCode,
} from '@cove/protocol';
import { z } from 'zod';

import { CurrentDevice } from '../middleware/auth.guard.js';
import { ZodPipe } from '../middleware/zod.pipe.js';
import { ApiError } from '../services/api-error.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { MessageService } from '../services/message.service.js';

const Limit = z.coerce.number().int().min(1).max(ENVELOPE_PAGE_SIZE).optional();

@Controller('v1/messages')
export class MessageController {
  constructor(private readonly messages: MessageService) {}

  @Put(':accountId')
  @HttpCode(200)
  async send(
    @CurrentDevice() device: AuthenticatedDevice,
    @Param('accountId', new ZodPipe(AccountId)) accountId: string,
    @Body(new ZodPipe(SendMessagesRequest)) body: SendMessagesRequest,
  ): Promise<Record<string, unknown>> {
    const result = await this.messages.send(device, accountId, body);
    if (result.status !== 200) {
      const { error, message, ...extra } = result.body as { error: ErrorCode; message: string };
      throw new ApiError(result.status, error, message, extra);
    }
    return result.body;
  }

  @Get()
  list(
    @CurrentDevice() device: AuthenticatedDevice,
    @Query('limit', new ZodPipe(Limit)) limit: number | undefined,
  ): Promise<EnvelopeListResponse> {
    return this.messages.list(device, limit);
  }

  @Delete(':guid')
  @HttpCode(204)
  async ack(
    @CurrentDevice() device: AuthenticatedDevice,
    @Param('guid', new ZodPipe(Guid)) guid: string,
  ): Promise<void> {
    if (!(await this.messages.ack(device, guid))) {
      throw new ApiError(404, 'not_found', 'no such envelope for this device');
    }
  }
}
