/**
 * Commands of the local admin socket (`npm run admin -w apps/api -- <command>`): `owner-invite` (a single-use owner
 * invite code, refused once an owner exists) and `ping`. Anything else, malformed JSON included, is answered with an
 * error and changes nothing. Serving starts with the module and stops with it; `ADMIN_SOCKET=off` serves none.
 */
import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';

import { AdminSocketRepository } from '../repositories/admin-socket.repository.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { ApiError } from './api-error.js';
import { OrganizationService } from './organization.service.js';

export type AdminAnswer = { ok: true; [key: string]: unknown } | { ok: false; error: string; message: string };

@Injectable()
export class AdminSocketService implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    private readonly socket: AdminSocketRepository,
    private readonly config: ConfigRepository,
    private readonly organization: OrganizationService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const path = this.config.config.adminSocket;
    if (path) await this.socket.listen(path, (line) => this.handle(line));
  }

  onModuleDestroy(): Promise<void> {
    return this.socket.close();
  }

  /** Answers one request line. */
  async handle(line: string): Promise<AdminAnswer> {
    let request: unknown;
    try {
      request = JSON.parse(line);
    } catch {
      return { ok: false, error: 'malformed_json', message: 'a request is one line of JSON' };
    }
    const command =
      typeof request === 'object' && request !== null && 'command' in request ? request.command : undefined;
    try {
      switch (command) {
        case 'ping':
          return { ok: true };
        case 'owner-invite':
          return { ok: true, code: await this.organization.createOwnerInvite() };
        default:
          return { ok: false, error: 'unknown_command', message: 'commands: owner-invite, ping' };
      }
    } catch (error) {
      if (error instanceof ApiError) return { ok: false, error: error.code, message: error.message };
      return { ok: false, error: 'internal_error', message: 'the command failed' };
    }
  }
}
