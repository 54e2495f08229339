/** `/v1/websocket`: hands each upgraded socket, with its client address, to the WebSocket service. */
import type { IncomingMessage } from 'node:http';

import { WebSocketGateway, type OnGatewayConnection } from '@nestjs/websockets';
import { MAX_WEBSOCKET_FRAME_BYTES } from '@cove/protocol';

import { WebSocketClientAddress } from '../middleware/client-address.js';
import { WebSocketService } from '../services/websocket.service.js';

@WebSocketGateway({ path: '/v1/websocket', maxPayload: MAX_WEBSOCKET_FRAME_BYTES, perMessageDeflate: false })
export class WebSocketGatewayController implements OnGatewayConnection {
  constructor(
    private readonly websocket: WebSocketService,
    private readonly addresses: WebSocketClientAddress,
  ) {}

  handleConnection(client: unknown, request: IncomingMessage): void {
    this.websocket.accept(client, this.addresses.of(request));
  }
}
