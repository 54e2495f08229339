/** HTTP routes of devices: list, provisioning codes, linking, removal. Rules live in the device service. */
import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import {
  DeviceId,
  LinkDeviceRequest,
  type DeviceListResponse,
  type LinkDeviceResponse,
  type ProvisioningCodeResponse,
} from '@cove/protocol';
import { z } from 'zod';

import { CurrentDevice, Public } from '../middleware/auth.guard.js';
import { ZodPipe } from '../middleware/zod.pipe.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { DeviceService } from '../services/device.service.js';
import { RateLimit } from './rate-limits.js';

@Controller('v1/devices')
export class DeviceController {
  constructor(private readonly devices: DeviceService) {}

  @Get()
  list(@CurrentDevice() device: AuthenticatedDevice): Promise<DeviceListResponse> {
    return this.devices.list(device);
  }

  @Post('provisioning-code')
  provisioningCode(@CurrentDevice() device: AuthenticatedDevice): Promise<ProvisioningCodeResponse> {
    return this.devices.provisioningCode(device);
  }

  @Post()
  @Public()
  @RateLimit('link')
  link(@Body(new ZodPipe(LinkDeviceRequest)) body: LinkDeviceRequest): Promise<LinkDeviceResponse> {
    return this.devices.link(body);
  }

  @Delete(':deviceId')
  @HttpCode(204)
  remove(
    @CurrentDevice() device: AuthenticatedDevice,
    @Param('deviceId', new ZodPipe(z.coerce.number().pipe(DeviceId))) deviceId: number,
  ): Promise<void> {
    return this.devices.remove(device, deviceId);
  }
}
