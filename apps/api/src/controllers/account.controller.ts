/** HTTP routes of accounts and usernames; validation and rules live in the pipe and the account service. */
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put } from '@nestjs/common';
import {
  AccountAttributesRequest,
  CreateAccountRequest,
  SetUsernameRequest,
  Username,
  type AccountAttributesResponse,
  type CreateAccountResponse,
  type UsernameLookupResponse,
  type UsernameResponse,
} from '@cove/protocol';

import { CurrentDevice, Public } from '../middleware/auth.guard.js';
import { ZodPipe } from '../middleware/zod.pipe.js';
import { AccountDeletionService } from '../services/account-deletion.service.js';
import { AccountService } from '../services/account.service.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { RateLimit } from './rate-limits.js';

@Controller('v1/accounts')
export class AccountController {
  constructor(
    private readonly accounts: AccountService,
    private readonly deletion: AccountDeletionService,
  ) {}

  @Post()
  @Public()
  @RateLimit('registration')
  create(@Body(new ZodPipe(CreateAccountRequest)) body: CreateAccountRequest): Promise<CreateAccountResponse> {
    return this.accounts.create(body);
  }

  @Get('attributes')
  getAttributes(@CurrentDevice() device: AuthenticatedDevice): Promise<AccountAttributesResponse> {
    return this.accounts.attributes(device);
  }

  @Put('attributes')
  @HttpCode(204)
  setAttributes(
    @CurrentDevice() device: AuthenticatedDevice,
    @Body(new ZodPipe(AccountAttributesRequest)) body: AccountAttributesRequest,
  ): Promise<void> {
    return this.accounts.setAttributes(device, body);
  }

  @Put('username')
  setUsername(
    @CurrentDevice() device: AuthenticatedDevice,
    @Body(new ZodPipe(SetUsernameRequest)) body: SetUsernameRequest,
  ): Promise<UsernameResponse> {
    return this.accounts.setUsername(device, body.username);
  }

  @Delete('username')
  @HttpCode(204)
  deleteUsername(@CurrentDevice() device: AuthenticatedDevice): Promise<void> {
    return this.accounts.deleteUsername(device);
  }

  /** Deletes the caller's account and everything the server holds for it (primary device only). */
  @Delete('me')
  @HttpCode(204)
  deleteAccount(@CurrentDevice() device: AuthenticatedDevice): Promise<void> {
    return this.deletion.deleteAccount(device);
  }

  @Get('username/:username')
  @RateLimit('usernameLookup')
  lookup(@Param('username', new ZodPipe(Username)) username: string): Promise<UsernameLookupResponse> {
    return this.accounts.lookup(username);
  }
}
