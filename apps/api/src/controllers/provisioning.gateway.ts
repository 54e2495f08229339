/** `/v1/provisioning`: hands each upgraded socket, with its client address, to the provisioning service. */
import type { IncomingMessage } from 'node:http';

import { WebSocketGateway, type OnGatewayConnection } from '@nestjs/websockets';

import { WebSocketClientAddress } from '../middleware/client-address.js';
import { ProvisioningService } from '../services/provisioning.service.js';

/** The new device sends nothing: any frame closes the channel, so the smallest payload limit will do. */
const MAX_PROVISIONING_CLIENT_FRAME_BYTES = 1024;

@WebSocketGateway({
  path: '/v1/provisioning',
  maxPayload: MAX_PROVISIONING_CLIENT_FRAME_BYTES,
  perMessageDeflate: false,
})
export class ProvisioningGatewayController implements OnGatewayConnection {
  constructor(
    private readonly provisioning: ProvisioningService,
    private readonly addresses: WebSocketClientAddress,
  ) {}

  handleConnection(client: unknown, request: IncomingMessage): void {
    void this.provisioning.open(client, this.addresses.of(request));
  }
}
