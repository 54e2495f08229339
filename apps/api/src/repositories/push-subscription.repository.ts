/**
 * Web Push subscriptions in the database, one per device, and each device's wake state (when its last wake-up
 * left, and whether it was urgent). Removing a device removes its subscription (foreign key cascade). Which
 * endpoints are acceptable and when to push are the push service's rules, not this module's.
 */
import { Injectable } from '@nestjs/common';

import { DatabaseRepository, isMissingDevice } from './database.repository.js';

export type PushSubscriptionRecord = {
  accountId: string;
  deviceId: number;
  endpoint: string;
  p256dh: string;
  auth: string;
  wokenAt: Date | null;
  wokenUrgent: boolean;
};

@Injectable()
export class PushSubscriptionRepository {
  constructor(private readonly db: DatabaseRepository) {}

  /**
   * Stores or replaces the device's subscription (a new subscription has not been woken); false when the device no
   * longer exists (removed after authenticating).
   */
  async upsert(accountId: string, deviceId: number, endpoint: string, p256dh: string, auth: string): Promise<boolean> {
    try {
      await this.db.prisma.pushSubscription.upsert({
        where: { accountId_deviceId: { accountId, deviceId } },
        create: { accountId, deviceId, endpoint, p256dh, auth },
        update: { endpoint, p256dh, auth, wokenAt: null, wokenUrgent: false },
      });
      return true;
    } catch (error) {
      if (isMissingDevice(error)) return false;
      throw error;
    }
  }

  async get(accountId: string, deviceId: number): Promise<PushSubscriptionRecord | null> {
    return this.db.prisma.pushSubscription.findUnique({
      where: { accountId_deviceId: { accountId, deviceId } },
      select: {
        accountId: true,
        deviceId: true,
        endpoint: true,
        p256dh: true,
        auth: true,
        wokenAt: true,
        wokenUrgent: true,
      },
    });
  }

  /** Returns whether there was one. */
  async remove(accountId: string, deviceId: number): Promise<boolean> {
    const { count } = await this.db.prisma.pushSubscription.deleteMany({ where: { accountId, deviceId } });
    return count > 0;
  }

  /** Removes the subscription only if it still has `endpoint` (the device may have subscribed anew meanwhile). */
  async removeEndpoint(accountId: string, deviceId: number, endpoint: string): Promise<boolean> {
    const { count } = await this.db.prisma.pushSubscription.deleteMany({ where: { accountId, deviceId, endpoint } });
    return count > 0;
  }

  async markWoken(accountId: string, deviceId: number, at: Date, urgent: boolean): Promise<void> {
    await this.db.sql.query(
      `UPDATE push_subscriptions SET woken_at = $3::timestamptz, woken_urgent = $4::boolean
       WHERE account_id = $1::uuid AND device_id = $2::smallint`,
      [accountId, deviceId, at.toISOString(), urgent],
    );
  }

  /** The device showed up (connected or fetched): the next envelope may wake it again. */
  async clearWoken(accountId: string, deviceId: number): Promise<void> {
    await this.db.sql.query(
      `UPDATE push_subscriptions SET woken_at = NULL, woken_urgent = false
       WHERE account_id = $1::uuid AND device_id = $2::smallint AND woken_at IS NOT NULL`,
      [accountId, deviceId],
    );
  }

  async count(): Promise<number> {
    return this.db.prisma.pushSubscription.count();
  }
}
