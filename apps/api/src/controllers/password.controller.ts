/** HTTP routes of password login (OPAQUE) and the account backup; the protocol and rules live in the password service. */
import { Body, Controller, Delete, Get, HttpCode, Post, Put, Req } from '@nestjs/common';
import {
  PasswordBackupRequest,
  PasswordLoginFinishRequest,
  PasswordLoginStartRequest,
  PasswordRegistrationFinishRequest,
  PasswordRegistrationStartRequest,
  type PasswordLoginFinishResponse,
  type PasswordLoginStartResponse,
  type PasswordRegistrationStartResponse,
  type PasswordStatusResponse,
} from '@cove/protocol';
import type { Request } from 'express';

import { CurrentDevice, Public } from '../middleware/auth.guard.js';
import { ZodPipe } from '../middleware/zod.pipe.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { PasswordService } from '../services/password.service.js';

@Controller('v1/accounts/password')
export class PasswordController {
  constructor(private readonly passwords: PasswordService) {}

  @Get()
  status(@CurrentDevice() device: AuthenticatedDevice): Promise<PasswordStatusResponse> {
    return this.passwords.status(device);
  }

  @Post('registration/start')
  @HttpCode(200)
  registrationStart(
    @CurrentDevice() device: AuthenticatedDevice,
    @Body(new ZodPipe(PasswordRegistrationStartRequest)) body: PasswordRegistrationStartRequest,
  ): PasswordRegistrationStartResponse {
    return this.passwords.registrationStart(device, body);
  }

  @Post('registration/finish')
  @HttpCode(204)
  registrationFinish(
    @CurrentDevice() device: AuthenticatedDevice,
    @Body(new ZodPipe(PasswordRegistrationFinishRequest)) body: PasswordRegistrationFinishRequest,
  ): Promise<void> {
    return this.passwords.registrationFinish(device, body);
  }

  @Put('backup')
  @HttpCode(204)
  putBackup(
    @CurrentDevice() device: AuthenticatedDevice,
    @Body(new ZodPipe(PasswordBackupRequest)) body: PasswordBackupRequest,
  ): Promise<void> {
    return this.passwords.putBackup(device, body);
  }

  @Delete()
  @HttpCode(204)
  remove(@CurrentDevice() device: AuthenticatedDevice): Promise<void> {
    return this.passwords.remove(device);
  }

  @Post('login/start')
  @Public()
  @HttpCode(200)
  loginStart(
    @Body(new ZodPipe(PasswordLoginStartRequest)) body: PasswordLoginStartRequest,
    @Req() request: Request,
  ): Promise<PasswordLoginStartResponse> {
    return this.passwords.loginStart(body, request.ip);
  }

  @Post('login/finish')
  @Public()
  @HttpCode(200)
  loginFinish(
    @Body(new ZodPipe(PasswordLoginFinishRequest)) body: PasswordLoginFinishRequest,
  ): Promise<PasswordLoginFinishResponse> {
    return this.passwords.loginFinish(body);
  }
}
