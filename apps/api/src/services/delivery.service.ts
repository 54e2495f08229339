/**
 * Routes envelopes once they are durably stored (a multi-recipient one once for all its devices): to the device's WebSocket when it is connected to this instance,
 * over the bus to the instance that holds it (presence, in Redis) when it is connected elsewhere, and otherwise to
 * a coalesced Web Push wake-up. Also keeps presence current as devices connect and leave, closes a device's older
 * connection on another instance, and disconnects removed devices wherever they are connected.
 *
 * Live paths are an optimisation over durable state: every envelope stays in the database until acknowledged, and a
 * device (re)connecting anywhere drains its queue first. So a lost bus message or a dead instance costs latency,
 * never an envelope. Per device, envelopes are handed on in acceptance order. Nothing here touches the database.
 */
import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { CloseCode, type Envelope } from '@cove/protocol';

import { BusRepository } from '../repositories/bus.repository.js';
import { DeliveryMetricsRepository } from '../repositories/delivery-metrics.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { MetricsRepository } from '../repositories/metrics.repository.js';
import { PresenceRepository } from '../repositories/presence.repository.js';
import { WebSocketRepository } from '../repositories/websocket.repository.js';
import type { DeviceRef } from '../jobs.js';
import { envelopeFrame } from './envelope.mapper.js';
import { PushService } from './push.service.js';

export type DeliveryTarget = { accountId: string; deviceId: number; guid: string; envelope: Envelope };

/** A device of a multi-recipient send and the guid of its envelope. */
export type SharedDeliveryDevice = { accountId: string; deviceId: number; guid: string };

/**
 * One multi-recipient envelope (everything but the guid) for many devices: carried once per instance on the bus,
 * not once per device. `online`: nothing was stored, so devices connected nowhere are not woken.
 */
export type SharedDelivery = { envelope: Omit<Envelope, 'guid'>; devices: SharedDeliveryDevice[]; online: boolean };

/** Bus messages between instances. */
type BusMessage =
  | { kind: 'envelopes'; targets: DeliveryTarget[] }
  | { kind: 'shared'; envelope: Omit<Envelope, 'guid'>; devices: SharedDeliveryDevice[]; online: boolean }
  | { kind: 'close'; accountId: string; deviceId: number; code: number; reason: string }
  | { kind: 'provisioning'; address: string; body: string };

/** Hands a provisioning body to the channel waiting at `address` on this instance. */
export type ProvisioningHandler = (address: string, body: string) => void;

@Injectable()
export class DeliveryService implements OnModuleInit, OnModuleDestroy {
  /** Publishing is chained so routed envelopes leave in acceptance order even though presence lookups overlap. */
  private routing: Promise<void> = Promise.resolve();
  private provisioning: ProvisioningHandler = () => undefined;

  constructor(
    private readonly sockets: WebSocketRepository,
    private readonly metrics: MetricsRepository,
    private readonly deliveryMetrics: DeliveryMetricsRepository,
    private readonly presence: PresenceRepository,
    private readonly bus: BusRepository,
    private readonly push: PushService,
    private readonly logger: LoggingRepository,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.presence.start();
    await this.bus.start(
      (message) => this.receive(message as BusMessage),
      () => this.resynchronise(),
    );
  }

  async onModuleDestroy(): Promise<void> {
    await this.routing;
    await this.bus.close();
    await this.presence.close();
  }

  /** Called after the envelopes are committed, in acceptance order. */
  deliver(targets: DeliveryTarget[]): void {
    const elsewhere: DeliveryTarget[] = [];
    let delivered = 0;
    for (const target of targets) {
      if (this.deliverLocally(target)) delivered++;
      else elsewhere.push(target);
    }
    this.countLive(delivered);
    if (elsewhere.length) {
      this.routeElsewhere(
        elsewhere,
        (instance, list) => this.bus.publish(instance, { kind: 'envelopes', targets: list } satisfies BusMessage),
        true,
      );
    }
  }

  /** Envelopes written to sockets of this instance. */
  private countLive(delivered: number): void {
    if (!delivered) return;
    this.metrics.envelopesDelivered.inc({ path: 'live' }, delivered);
    this.deliveryMetrics.routed.inc({ route: 'local' }, delivered);
  }

  /**
   * Called after a multi-recipient send is committed (or, `online`, checked): each device's frame is the shared
   * envelope with its own guid, written to its socket here, sent over the bus (once per instance, with the device
   * list) to where it is connected, or — unless `online` — left to a push wake-up.
   */
  deliverShared(shared: SharedDelivery): void {
    const frame = sharedFrame(shared.envelope);
    const elsewhere: SharedDeliveryDevice[] = [];
    let delivered = 0;
    for (const device of shared.devices) {
      if (this.sockets.get(device.accountId, device.deviceId)?.deliver(device.guid, frame(device.guid))) delivered++;
      else elsewhere.push(device);
    }
    this.countLive(delivered);
    if (!elsewhere.length) return;
    this.routeElsewhere(
      elsewhere,
      (instance, devices) =>
        this.bus.publish(instance, {
          kind: 'shared',
          envelope: shared.envelope,
          devices,
          online: shared.online,
        } satisfies BusMessage),
      !shared.online,
    );
  }

  private deliverLocally(target: DeliveryTarget): boolean {
    const connection = this.sockets.get(target.accountId, target.deviceId);
    if (!connection) return false;
    return connection.deliver(target.guid, envelopeFrame(target.envelope));
  }

  /**
   * Devices not connected here, routed once presence answers (in acceptance order, on the routing chain): to the
   * instance holding each over the bus (`publish`, once per instance with its devices), or, with `wakeOffline`, woken
   * by one push per device connected nowhere.
   */
  private routeElsewhere<T extends DeviceRef>(
    devices: T[],
    publish: (instance: string, list: T[]) => void,
    wakeOffline: boolean,
  ): void {
    const key = (d: DeviceRef): string => `${d.accountId}.${d.deviceId}`;
    const lookup = this.presence.lookup([...new Set(devices.map(key))]);
    this.routing = this.routing.then(async () => {
      let owners: Map<string, string | null>;
      try {
        owners = await lookup;
      } catch {
        /** Presence unreachable: wake every device; one connected elsewhere simply ignores the push. */
        owners = new Map();
      }
      const remote = new Map<string, T[]>();
      const offline = new Map<string, DeviceRef>();
      for (const device of devices) {
        const owner = owners.get(key(device)) ?? null;
        if (owner && owner !== this.bus.instanceId) {
          const list = remote.get(owner);
          if (list) list.push(device);
          else remote.set(owner, [device]);
        } else offline.set(key(device), { accountId: device.accountId, deviceId: device.deviceId });
      }
      for (const [instance, list] of remote) {
        publish(instance, list);
        this.deliveryMetrics.routed.inc({ route: 'remote' }, list.length);
      }
      if (offline.size && wakeOffline) this.wake([...offline.values()]);
    });
  }

  private wake(devices: DeviceRef[]): void {
    this.deliveryMetrics.routed.inc({ route: 'offline' }, devices.length);
    this.push.wake(devices).catch(() => {
      /** The periodic push sweep finds devices whose wake-up could not be queued. */
      this.logger.warn('could not queue push wake-ups', { devices: devices.length });
    });
  }

  private receive(message: BusMessage): void {
    switch (message.kind) {
      case 'envelopes': {
        const offline = new Map<string, DeviceRef>();
        let delivered = 0;
        for (const target of message.targets) {
          if (this.deliverLocally(target)) delivered++;
          else offline.set(`${target.accountId}.${target.deviceId}`, target);
        }
        if (delivered) this.metrics.envelopesDelivered.inc({ path: 'live' }, delivered);
        if (offline.size) {
          this.wake([...offline.values()].map(({ accountId, deviceId }) => ({ accountId, deviceId })));
        }
        return;
      }
      case 'shared': {
        const frame = sharedFrame(message.envelope);
        const offline: DeviceRef[] = [];
        let delivered = 0;
        for (const d of message.devices) {
          if (this.sockets.get(d.accountId, d.deviceId)?.deliver(d.guid, frame(d.guid))) delivered++;
          else offline.push({ accountId: d.accountId, deviceId: d.deviceId });
        }
        if (delivered) this.metrics.envelopesDelivered.inc({ path: 'live' }, delivered);
        if (offline.length && !message.online) this.wake(offline);
        return;
      }
      case 'close':
        this.sockets.get(message.accountId, message.deviceId)?.close(message.code, message.reason);
        return;
      case 'provisioning':
        this.provisioning(message.address, message.body);
        return;
    }
  }

  /**
   * The bus reconnected: envelopes published meanwhile were lost to this instance's sockets. They are still stored,
   * so the connected devices reconnect (to any instance) and drain their queues.
   */
  private resynchronise(): void {
    this.deliveryMetrics.busGaps.inc();
    this.logger.warn('bus reconnected; asking connected devices to resynchronise', { connections: this.sockets.size });
    this.sockets.closeAll(CloseCode.GoingAway, 'reconnect to resynchronise');
  }

  /** A device authenticated on this instance: record presence, close its connection on another instance. */
  async connected(device: DeviceRef): Promise<void> {
    const key = `${device.accountId}.${device.deviceId}`;
    try {
      const previous = await this.presence.add(key);
      if (previous) {
        this.bus.publish(previous, {
          kind: 'close',
          accountId: device.accountId,
          deviceId: device.deviceId,
          code: CloseCode.Replaced,
          reason: 'replaced by a newer connection',
        } satisfies BusMessage);
      }
      this.seen(device);
    } catch {
      this.logger.warn('could not record presence', { accountId: device.accountId, deviceId: device.deviceId });
    }
  }

  /** A connection closed: forget presence unless the device has a newer connection here. */
  disconnected(device: DeviceRef): void {
    if (this.sockets.get(device.accountId, device.deviceId)) return;
    this.presence.remove(`${device.accountId}.${device.deviceId}`).catch(() => undefined);
  }

  /** The device fetched its queue over HTTP (e.g. a service worker woken by a push). */
  seen(device: DeviceRef): void {
    this.push.seen(device).catch(() => undefined);
  }

  /** Closes the connection of a device that was removed, on whichever instance holds it. */
  disconnectDevice(
    accountId: string,
    deviceId: number,
    code: CloseCode = CloseCode.DeviceRemoved,
    reason = 'device removed',
  ): void {
    const message: BusMessage = { kind: 'close', accountId, deviceId, code, reason };
    this.sockets.get(accountId, deviceId)?.close(message.code, message.reason);
    this.bus.broadcast(message);
  }

  /** Who receives provisioning bodies relayed to this instance (the provisioning service). */
  onProvisioning(handler: ProvisioningHandler): void {
    this.provisioning = handler;
  }

  /** Relays a provisioning body to the instance holding its channel (this one included). */
  relayProvisioning(instanceId: string, address: string, body: string): void {
    if (instanceId === this.bus.instanceId) this.provisioning(address, body);
    else this.bus.publish(instanceId, { kind: 'provisioning', address, body } satisfies BusMessage);
  }
}

/**
 * The `envelope` frame of a shared envelope for one guid, the same JSON as `toEnvelope`'s object (guid first): the
 * large part (the content) is serialized once for all devices.
 */
function sharedFrame(envelope: Omit<Envelope, 'guid'>): (guid: string) => string {
  const rest = JSON.stringify(envelope).slice(1);
  return (guid) => `{"type":"envelope","envelope":{"guid":${JSON.stringify(guid)},${rest}}`;
}
