/**
 * HTTP routes of envelopes: send (1:1 and multi-recipient, identified or sealed: without credentials and with
 * `Unidentified-Access-Key`), list, acknowledge. Rules and group commit live in the message service.
 */
import { Body, Controller, Delete, Get, HttpCode, Param, Put, Query } from '@nestjs/common';
import {
  AccountId,
  ENVELOPE_PAGE_SIZE,
  ErrorCode,
  Guid,
  SendMessagesRequest,
  SendMultiRouteRequest,
  type EnvelopeListResponse,
  type SendMessagesResponse,
  type SendMultiResponse,
} from '@cove/protocol';
import { z } from 'zod';

import { AllowUnidentified, CurrentDevice, OptionalDevice, UnidentifiedAccess } from '../middleware/auth.guard.js';
import { ZodPipe } from '../middleware/zod.pipe.js';
import { ApiError } from '../services/api-error.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { MessageService, type UnidentifiedSender } from '../services/message.service.js';

const Limit = z.coerce.number().int().min(1).max(ENVELOPE_PAGE_SIZE).optional();

@Controller('v1/messages')
export class MessageController {
  constructor(private readonly messages: MessageService) {}

  /** Declared before `:accountId`, which would otherwise take `multi` for an account id. */
  @Put('multi')
  @HttpCode(200)
  @AllowUnidentified()
  sendMulti(
    @OptionalDevice() device: AuthenticatedDevice | undefined,
    @UnidentifiedAccess() unidentified: UnidentifiedSender | undefined,
    @Body(new ZodPipe(SendMultiRouteRequest)) body: SendMultiRouteRequest,
  ): Promise<SendMultiResponse> {
    if (device) {
      if (body.type === 'unidentified-sender') {
        throw new ApiError(400, ErrorCode.InvalidRequest, 'sealed (unidentified-sender) sends go without credentials');
      }
      return this.messages.sendMulti(device, body);
    }
    if (body.type !== 'unidentified-sender' || !unidentified) {
      throw new ApiError(400, ErrorCode.InvalidRequest, 'a send without credentials is a sealed message only');
    }
    return this.messages.sendSealedMulti(unidentified, body);
  }

  @Put(':accountId')
  @HttpCode(200)
  @AllowUnidentified()
  send(
    @OptionalDevice() device: AuthenticatedDevice | undefined,
    @UnidentifiedAccess() unidentified: UnidentifiedSender | undefined,
    @Param('accountId', new ZodPipe(AccountId)) accountId: string,
    @Body(new ZodPipe(SendMessagesRequest)) body: SendMessagesRequest,
  ): Promise<SendMessagesResponse> {
    if (device) return this.messages.send(device, accountId, body);
    if (!unidentified) throw new ApiError(400, ErrorCode.InvalidRequest, 'no credentials');
    return this.messages.sendUnidentified(unidentified, accountId, body);
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
