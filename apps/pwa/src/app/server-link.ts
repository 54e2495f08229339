/**
 * What the user is told about the link to the server, from the browser's connectivity and the messenger core's
 * connection states: "Offline" (the browser has no network), "Connecting…" (an attempt is under way and none has
 * failed since the last success), "Server unreachable" (at least one attempt failed since the last success; it
 * stays until the server answers again, so a retry loop does not flicker between the two), "Signed out" (the server
 * refused this device: replaced or unauthorized; `removed` when the primary removed it, which the app shell turns into
 * the "This device was removed" screen), or nothing when online. Pure: no timers, no browser APIs;
 * the app shell feeds it and shares the leader tab's view with the other tabs.
 */
import type { ConnectionState } from '@cove/client';

import type { ConnectionStatus, ServerLink } from './model.js';

/**
 * The state to fold for what the core reported: a linked device (not the primary) whose credential the server refuses
 * was removed. It hears `4004` when removed while connected, but `401` when it was removed while closed, and then
 * shows the same "This device was removed" screen. The primary cannot be removed, so its refusal stays "signed out".
 */
export function effectiveState(state: ConnectionState, linkedDevice: boolean): ConnectionState {
  return state === 'unauthorized' && linkedDevice ? 'removed' : state;
}

/** Folds the core's successive connection states into a ServerLink. */
export class ServerLinkTracker {
  private failedSinceOnline = false;
  private link: ServerLink = 'unknown';

  get current(): ServerLink {
    return this.link;
  }

  /** Returns the new link after the core reported `state`. */
  next(state: ConnectionState): ServerLink {
    switch (state) {
      case 'online':
        this.failedSinceOnline = false;
        this.link = 'online';
        break;
      case 'connecting':
        this.link = this.failedSinceOnline ? 'unreachable' : 'connecting';
        break;
      case 'offline':
        this.failedSinceOnline = true;
        this.link = 'unreachable';
        break;
      case 'unauthorized':
      case 'replaced':
        this.link = 'signed-out';
        break;
      case 'removed':
        this.link = 'removed';
        break;
      case 'stopped':
        this.failedSinceOnline = false;
        this.link = 'unknown';
        break;
    }
    return this.link;
  }
}

/** The indicator for a browser that is (or is not) online and the shared server link. */
export function connectionStatus(browserOnline: boolean, link: ServerLink): ConnectionStatus {
  if (link === 'signed-out' || link === 'removed') return 'signed-out';
  if (!browserOnline) return 'offline';
  if (link === 'connecting' || link === 'unreachable') return link;
  return null;
}
