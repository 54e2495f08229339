/**
 * HTTP routes of the organization (`/v1/org/...`): the organization key, role certificates, invites, members,
 * disabling, the directory and the audit log. Who may call what is the organization service's rule, not this file's.
 */
import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import {
  AccountId,
  AuditAfterQuery,
  CreateInviteRequest,
  DirectoryQuery,
  InviteId,
  RoleCertificateRequest,
  SetOrganizationKeyRequest,
  type AuditListResponse,
  type CreateInviteResponse,
  type DirectoryResponse,
  type InviteListResponse,
  type MemberListResponse,
  type RoleCertificateListResponse,
  type RoleCertificateResponse,
} from '@cove/protocol';

import { CurrentDevice } from '../middleware/auth.guard.js';
import { ZodPipe } from '../middleware/zod.pipe.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { OrganizationService } from '../services/organization.service.js';
import { RateLimit } from './rate-limits.js';

@Controller('v1/org')
export class OrganizationController {
  constructor(private readonly organization: OrganizationService) {}

  @Put('key')
  @HttpCode(204)
  setKey(
    @CurrentDevice() device: AuthenticatedDevice,
    @Body(new ZodPipe(SetOrganizationKeyRequest)) body: SetOrganizationKeyRequest,
  ): Promise<void> {
    return this.organization.setOrganizationKey(device, body.publicKey);
  }

  @Put('certificates')
  @HttpCode(204)
  putCertificate(
    @CurrentDevice() device: AuthenticatedDevice,
    @Body(new ZodPipe(RoleCertificateRequest)) body: RoleCertificateRequest,
  ): Promise<void> {
    return this.organization.putCertificate(device, body.certificate, body.signature);
  }

  @Get('certificates')
  certificates(): Promise<RoleCertificateListResponse> {
    return this.organization.certificates();
  }

  @Get('certificates/:accountId')
  certificate(@Param('accountId', new ZodPipe(AccountId)) accountId: string): Promise<RoleCertificateResponse> {
    return this.organization.certificate(accountId);
  }

  @Post('invites')
  @HttpCode(201)
  createInvite(
    @CurrentDevice() device: AuthenticatedDevice,
    @Body(new ZodPipe(CreateInviteRequest)) body: CreateInviteRequest,
  ): Promise<CreateInviteResponse> {
    return this.organization.createInvite(device, body);
  }

  @Get('invites')
  invites(@CurrentDevice() device: AuthenticatedDevice): Promise<InviteListResponse> {
    return this.organization.invites(device);
  }

  @Delete('invites/:inviteId')
  @HttpCode(204)
  revokeInvite(
    @CurrentDevice() device: AuthenticatedDevice,
    @Param('inviteId', new ZodPipe(InviteId)) inviteId: string,
  ): Promise<void> {
    return this.organization.revokeInvite(device, inviteId);
  }

  /** Any member (authenticated); `ORG_DIRECTORY=off` answers 404 `directory_disabled`. */
  @Get('directory')
  @RateLimit('directory')
  directory(@Query('q', new ZodPipe(DirectoryQuery)) q: string): Promise<DirectoryResponse> {
    return this.organization.directory(q);
  }

  @Get('members')
  members(@CurrentDevice() device: AuthenticatedDevice): Promise<MemberListResponse> {
    return this.organization.members(device);
  }

  @Post('members/:accountId/disable')
  @HttpCode(204)
  disable(
    @CurrentDevice() device: AuthenticatedDevice,
    @Param('accountId', new ZodPipe(AccountId)) accountId: string,
  ): Promise<void> {
    return this.organization.disable(device, accountId);
  }

  @Post('members/:accountId/enable')
  @HttpCode(204)
  enable(
    @CurrentDevice() device: AuthenticatedDevice,
    @Param('accountId', new ZodPipe(AccountId)) accountId: string,
  ): Promise<void> {
    return this.organization.enable(device, accountId);
  }

  @Get('audit')
  audit(
    @CurrentDevice() device: AuthenticatedDevice,
    @Query('after', new ZodPipe(AuditAfterQuery)) after: number | undefined,
  ): Promise<AuditListResponse> {
    return this.organization.auditLog(device, after ?? 0);
  }
}
