/** HTTP routes of prekeys: upload, status, bundles (which consume one-time keys). Rules live in the prekey service. */
import { Body, Controller, Get, HttpCode, Param, Put } from '@nestjs/common';
import {
  AccountId,
  DeviceId,
  UploadKeysRequest,
  type KeyStatusResponse,
  type PreKeyBundleResponse,
} from '@cove/protocol';
import { z } from 'zod';

import { CurrentDevice } from '../middleware/auth.guard.js';
import { ZodPipe } from '../middleware/zod.pipe.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { PreKeyService } from '../services/prekey.service.js';
import { RateLimit } from './rate-limits.js';

export const DeviceSelector = z.union([z.literal('*').transform(() => null), z.coerce.number().pipe(DeviceId)]);

@Controller('v1/keys')
export class KeysController {
  constructor(private readonly preKeys: PreKeyService) {}

  @Put()
  @HttpCode(204)
  upload(
    @CurrentDevice() device: AuthenticatedDevice,
    @Body(new ZodPipe(UploadKeysRequest)) body: UploadKeysRequest,
  ): Promise<void> {
    return this.preKeys.upload(device, body);
  }

  @Get('status')
  status(@CurrentDevice() device: AuthenticatedDevice): Promise<KeyStatusResponse> {
    return this.preKeys.status(device);
  }

  @Get(':accountId/:deviceId')
  @RateLimit('preKeyBundle')
  bundles(
    @Param('accountId', new ZodPipe(AccountId)) accountId: string,
    @Param('deviceId', new ZodPipe(DeviceSelector)) deviceId: number | null,
  ): Promise<PreKeyBundleResponse> {
    return this.preKeys.bundles(accountId, deviceId);
  }
}
