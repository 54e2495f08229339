/**
 * Asking the browser for persistent storage and notification permission, shared by the welcome steps and the
 * settings: the answer goes into the app state, and a granted notification permission (re)subscribes to push. Both
 * must be called from a tap; neither asks on its own.
 */
import type { NotificationPermission } from '../app-platform.js';
import type { AppSession } from '../app-session.js';
import type { PermissionRequests } from '../model.js';

export class PermissionRequestsModel implements PermissionRequests {
  constructor(
    private readonly session: AppSession,
    private readonly refreshPush: () => Promise<void>,
  ) {}

  async requestPersistence(): Promise<boolean> {
    const persisted = await this.session.platform.capabilities.requestPersistence();
    this.session.store.set({ persisted });
    return persisted;
  }

  async enableNotifications(): Promise<NotificationPermission> {
    const notifications = await this.session.platform.capabilities.requestNotificationPermission();
    this.session.store.set({ notifications });
    if (notifications === 'granted') void this.refreshPush();
    return notifications;
  }
}
