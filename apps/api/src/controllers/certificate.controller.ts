/** `GET /v1/certificate/delivery`: the caller's sender certificate for sealed sender; the rules are the certificate service's. */
import { Controller, Get } from '@nestjs/common';
import type { SenderCertificateResponse } from '@cove/protocol';

import { CurrentDevice } from '../middleware/auth.guard.js';
import type { AuthenticatedDevice } from '../services/auth.service.js';
import { CertificateService } from '../services/certificate.service.js';

@Controller('v1/certificate')
export class CertificateController {
  constructor(private readonly certificates: CertificateService) {}

  @Get('delivery')
  delivery(@CurrentDevice() device: AuthenticatedDevice): Promise<SenderCertificateResponse> {
    return this.certificates.senderCertificate(device);
  }
}
