/**
 * Closes the sockets of removed devices that the removal itself could not reach. Removing a device closes its socket
 * here and publishes a close to every instance, but the bus is at most once (a Redis hiccup loses the message), so
 * every `WS_DEVICE_CHECK_INTERVAL` each instance checks, in one query, that the device of every live socket still
 * exists, and closes the others with `4004 device removed`. Sends from such a socket are already refused by the
 * statement that would store them (it requires the sending device); this bounds how long the socket itself lives.
 * It decides nothing about who may remove a device and touches no socket it did not find revoked.
 */
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { CloseCode } from '@cove/protocol';

import { ConfigRepository } from '../repositories/config.repository.js';
import { DeviceRepository } from '../repositories/device.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { WebSocketRepository } from '../repositories/websocket.repository.js';

@Injectable()
export class RevocationService implements OnModuleInit, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly sockets: WebSocketRepository,
    private readonly devices: DeviceRepository,
    private readonly config: ConfigRepository,
    private readonly metrics: MetricsRepository,
    private readonly logger: LoggingRepository,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.sweep().catch(() => undefined), this.config.config.deviceCheckIntervalMs);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Checks every live socket of this instance once; closes those whose device is gone. Returns how many it closed.
   * One sweep at a time; a database error leaves every socket as it is until the next round.
   */
  sweep(): Promise<number> {
    this.running ??= this.check().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async check(): Promise<number> {
    const connections = this.sockets.authenticated().filter((c) => c.open);
    if (!connections.length) return 0;
    let existing: Set<string>;
    try {
      existing = await this.devices.existing(
        connections.map((c) => ({ accountId: c.accountId, deviceId: c.deviceId })),
      );
    } catch {
      this.logger.warn('could not check the devices of live sockets', { connections: connections.length });
      return 0;
    }
    let closed = 0;
    for (const connection of connections) {
      if (existing.has(connection.key) || !connection.open) continue;
      this.metrics.webSocketClosed.inc({ reason: 'device_removed' });
      connection.close(CloseCode.DeviceRemoved, 'device removed');
      closed++;
    }
    if (closed) this.logger.info('closed sockets of removed devices', { closed });
    return closed;
  }
}
