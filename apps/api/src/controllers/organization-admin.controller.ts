/**
 * HTTP routes of the admin console beyond organization.controller.ts: removing a member's device, the retention
 * overrides and the server status (`/v1/org/...`). Who may call them is the service's rule, not this file's.
 */
import { Body, Controller, Delete, Get, HttpCode, Param, Put } from '@nestjs/common';
import {
  AccountId,
  DeviceId,
  RetentionRequest,
  type RetentionResponse,
  type ServerStatusResponse,
} from '@cove/protocol';
import { z } from 'zod';

import { CurrentDevice } from '../middleware/auth.guard.js';
import { ZodPipe } from '../middleware/zod.pipe.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { OrganizationAdminService } from '../services/organization-admin.service.js';

@Controller('v1/org')
export class OrganizationAdminController {
  constructor(private readonly admin: OrganizationAdminService) {}

  @Delete('members/:accountId/devices/:deviceId')
  @HttpCode(204)
  removeDevice(
    @CurrentDevice() device: AuthenticatedDevice,
    @Param('accountId', new ZodPipe(AccountId)) accountId: string,
    @Param('deviceId', new ZodPipe(z.coerce.number().pipe(DeviceId))) deviceId: number,
  ): Promise<void> {
    return this.admin.removeDevice(device, accountId, deviceId);
  }

  @Get('retention')
  retention(@CurrentDevice() device: AuthenticatedDevice): Promise<RetentionResponse> {
    return this.admin.retentionSettings(device);
  }

  @Put('retention')
  setRetention(
    @CurrentDevice() device: AuthenticatedDevice,
    @Body(new ZodPipe(RetentionRequest)) body: RetentionRequest,
  ): Promise<RetentionResponse> {
    return this.admin.setRetention(device, body);
  }

  @Get('status')
  status(@CurrentDevice() device: AuthenticatedDevice): Promise<ServerStatusResponse> {
    return this.admin.status(device);
  }
}
