/**
 * Live delivery, called once envelopes are durably stored: hands each envelope to its device's WebSocket on this
 * instance (if connected), and disconnects removed devices. Envelopes of a device not connected here simply wait
 * in the database until it connects (or, with push, until it is woken). This is the seam for cross-instance
 * delivery: routing through a bus replaces the direct local calls, not the callers.
 */
import { Injectable } from '@nestjs/common';
import { CloseCode, type Envelope } from '@cove/protocol';

import { MetricsRepository } from '../repositories/metrics.repository.js';
import { WebSocketRepository } from '../repositories/websocket.repository.js';

export type DeliveryTarget = { accountId: string; deviceId: number; guid: string; envelope: Envelope };

@Injectable()
export class DeliveryService {
  constructor(
    private readonly sockets: WebSocketRepository,
    private readonly metrics: MetricsRepository,
  ) {}

  /** Called after the envelopes are committed, in acceptance order. */
  deliver(targets: DeliveryTarget[]): void {
    let delivered = 0;
    for (const target of targets) {
      const connection = this.sockets.get(target.accountId, target.deviceId);
      if (!connection) continue;
      if (connection.deliver(target.guid, JSON.stringify({ type: 'envelope', envelope: target.envelope }))) delivered++;
    }
    if (delivered) this.metrics.envelopesDelivered.inc({ path: 'live' }, delivered);
  }

  /** Closes the connection of a device that was removed. */
  disconnectDevice(accountId: string, deviceId: number): void {
    this.sockets.get(accountId, deviceId)?.close(CloseCode.DeviceRemoved, 'device removed');
  }
}
