/**
 * HTTP routes of attachments: tus resumable uploads under `/v1/attachments/tus` (POST creates, HEAD reads the
 * offset, PATCH appends, DELETE removes the caller's own upload) and the download `GET /v1/attachments/:id` with
 * `Range` support. Every route needs device credentials (the global guard); creation has its own rate limit. The
 * handlers write the response themselves (streams); the rules live in the attachment service.
 */
import { Controller, Delete, Get, Head, HttpCode, Param, Patch, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';

import { CurrentDevice } from '../middleware/auth.guard.js';
import { AttachmentService } from '../services/attachment.service.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { RateLimit } from './rate-limits.js';

@Controller('v1/attachments')
export class AttachmentController {
  constructor(private readonly attachments: AttachmentService) {}

  /** tus creation: `Upload-Length` required; answers `201` with a relative `Location`. */
  @Post('tus')
  @HttpCode(201)
  @RateLimit('attachmentUpload')
  async create(@CurrentDevice() device: AuthenticatedDevice, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.attachments.create(device, req, res);
  }

  /** tus offset of the caller's upload (`Upload-Offset`, `Upload-Length`). */
  @Head('tus/:id')
  @HttpCode(200)
  async offset(
    @CurrentDevice() device: AuthenticatedDevice,
    @Param('id') id: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.attachments.resume(device, id, req, res);
  }

  /** tus append at `Upload-Offset` (`application/offset+octet-stream`); answers `204` with the new offset. */
  @Patch('tus/:id')
  @HttpCode(204)
  async append(
    @CurrentDevice() device: AuthenticatedDevice,
    @Param('id') id: string,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.attachments.resume(device, id, req, res);
  }

  /** Deletes the caller's upload, finished or not, and frees its quota. */
  @Delete('tus/:id')
  @HttpCode(204)
  async remove(
    @CurrentDevice() device: AuthenticatedDevice,
    @Param('id') id: string,
    @Res() res: Response,
  ): Promise<void> {
    await this.attachments.remove(device, id);
    res.status(204).end();
  }

  /** The finished attachment's bytes (`200`), or one range of them (`206`, `416`). */
  @Get(':id')
  @HttpCode(200)
  async download(@Param('id') id: string, @Req() req: Request, @Res() res: Response): Promise<void> {
    await this.attachments.download(id, req.headers.range, res);
  }
}
