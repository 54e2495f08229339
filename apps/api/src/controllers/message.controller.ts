/** HTTP routes of envelopes: send (1:1 and multi-recipient), list, acknowledge. Rules and group commit live in the message service. */
import { Body, Controller, Delete, Get, HttpCode, Param, Put, Query } from '@nestjs/common';
import {
  AccountId,
  ENVELOPE_PAGE_SIZE,
  Guid,
  SendMessagesRequest,
  SendMultiRequest,
  type EnvelopeListResponse,
  type SendMessagesResponse,
  type SendMultiResponse,
} from '@cove/protocol';
import { z } from 'zod';

import { CurrentDevice } from '../middleware/auth.guard.js';
import { ZodPipe } from '../middleware/zod.pipe.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { MessageService } from '../services/message.service.js';

const Limit = z.coerce.number().int().min(1).max(ENVELOPE_PAGE_SIZE).optional();

@Controller('v1/messages')
export class MessageController {
  constructor(private readonly messages: MessageService) {}

  /** Declared before `:accountId`, which would otherwise take `multi` for an account id. */
  @Put('multi')
  @HttpCode(200)
  sendMulti(
    @CurrentDevice() device: AuthenticatedDevice,
    @Body(new ZodPipe(SendMultiRequest)) body: SendMultiRequest,
  ): Promise<SendMultiResponse> {
    return this.messages.sendMulti(device, body);
  }

  @Put(':accountId')
  @HttpCode(200)
  send(
    @CurrentDevice() device: AuthenticatedDevice,
    @Param('accountId', new ZodPipe(AccountId)) accountId: string,
    @Body(new ZodPipe(SendMessagesRequest)) body: SendMessagesRequest,
  ): Promise<SendMessagesResponse> {
    return this.messages.send(device, accountId, body);
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
  ack(@CurrentDevice() device: AuthenticatedDevice, @Param('guid', new ZodPipe(Guid)) guid: string): Promise<void> {
    return this.messages.acknowledge(device, guid);
  }
}
