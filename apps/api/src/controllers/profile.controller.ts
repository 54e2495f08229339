/** HTTP routes of encrypted profiles (docs/profiles.md); checks and rules live in the pipe and the profile service. */
import { Body, Controller, Get, HttpCode, Param, Put } from '@nestjs/common';
import { AccountId, ProfileVersion, SetProfileRequest, type ProfileResponse } from '@cove/protocol';

import { CurrentDevice } from '../middleware/auth.guard.js';
import { ZodPipe } from '../middleware/zod.pipe.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { ProfileService } from '../services/profile.service.js';
import { RateLimit } from './rate-limits.js';

@Controller('v1/profile')
export class ProfileController {
  constructor(private readonly profiles: ProfileService) {}

  @Put()
  @HttpCode(204)
  @RateLimit('profileWrite')
  set(
    @CurrentDevice() device: AuthenticatedDevice,
    @Body(new ZodPipe(SetProfileRequest)) body: SetProfileRequest,
  ): Promise<void> {
    return this.profiles.set(device, body);
  }

  @Get(':accountId/:version')
  @RateLimit('profileFetch')
  get(
    @Param('accountId', new ZodPipe(AccountId)) accountId: string,
    @Param('version', new ZodPipe(ProfileVersion)) version: string,
  ): Promise<ProfileResponse> {
    return this.profiles.get(accountId, version);
  }
}
