/** HTTP routes of Web Push subscriptions: store or remove the calling device's subscription. Rules live in the push service. */
import { Body, Controller, Delete, HttpCode, Put } from '@nestjs/common';
import { PushSubscriptionRequest } from '@cove/protocol';

import { CurrentDevice } from '../middleware/auth.guard.js';
import { ZodPipe } from '../middleware/zod.pipe.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { PushService } from '../services/push.service.js';

@Controller('v1/push/subscription')
export class PushController {
  constructor(private readonly push: PushService) {}

  /** The body is the browser's `PushSubscription.toJSON()`; replaces any earlier subscription of the device. */
  @Put()
  @HttpCode(204)
  async subscribe(
    @CurrentDevice() device: AuthenticatedDevice,
    @Body(new ZodPipe(PushSubscriptionRequest)) body: PushSubscriptionRequest,
  ): Promise<void> {
    await this.push.subscribe(device, body);
  }

  /** Idempotent: removing a subscription that does not exist also answers 204. */
  @Delete()
  @HttpCode(204)
  async unsubscribe(@CurrentDevice() device: AuthenticatedDevice): Promise<void> {
    await this.push.unsubscribe(device);
  }
}
