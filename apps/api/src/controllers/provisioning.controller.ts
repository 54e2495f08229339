/** `PUT /v1/provisioning/{address}`: an authenticated device relays one opaque body to a waiting provisioning channel. */
import { Body, Controller, HttpCode, Param, Put } from '@nestjs/common';
import { ProvisioningAddress, ProvisioningSendRequest } from '@cove/protocol';

import { ZodPipe } from '../middleware/zod.pipe.js';
import { ProvisioningService } from '../services/provisioning.service.js';
import { RateLimit } from './rate-limits.js';

@Controller('v1/provisioning')
export class ProvisioningController {
  constructor(private readonly provisioning: ProvisioningService) {}

  @Put(':address')
  @HttpCode(204)
  @RateLimit('provisioning')
  send(
    @Param('address', new ZodPipe(ProvisioningAddress)) address: string,
    @Body(new ZodPipe(ProvisioningSendRequest)) body: ProvisioningSendRequest,
  ): Promise<void> {
    return this.provisioning.send(address, body.body);
  }
}
