/** `/v1/websocket`: hands each upgraded socket to the WebSocket service, which speaks the protocol. */
import { WebSocketGateway, type OnGatewayConnection } from '@nestjs/websockets';
import { MAX_WEBSOCKET_FRAME_BYTES } from '@cove/protocol';

import { WebSocketService } from '../services/websocket.service.js';

@WebSocketGateway({ path: '/v1/websocket', maxPayload: MAX_WEBSOCKET_FRAME_BYTES, perMessageDeflate: false })
export class WebSocketGatewayController implements OnGatewayConnection {
  constructor(private readonly websocket: WebSocketService) {}

  handleConnection(client: unknown): void {
    this.websocket.accept(client);
  }
}
