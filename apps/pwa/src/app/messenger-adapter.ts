/**
 * Adapts the messenger core's facade to the app's MessengerPort, and reads the server's public info.
 */
import type { BrowserPlatform } from '../platform/browser-platform.js';
import type { MessengerPort, RegistrationError } from './messenger-port.js';
import type { ServerInfo } from './model.js';

export async function fetchServerInfo(platform: BrowserPlatform, serverUrl: string): Promise<ServerInfo | null> {
  try {
    const response = await platform.http.request({ method: 'GET', url: `${serverUrl}/v1/info`, headers: {} });
    if (response.status !== 200) return null;
    const body = JSON.parse(response.body) as Partial<ServerInfo>;
    return {
      name: typeof body.name === 'string' ? body.name : 'Cove',
      registration: body.registration === 'invite' ? 'invite' : 'open',
      vapidPublicKey: typeof body.vapidPublicKey === 'string' ? body.vapidPublicKey : null,
    };
  } catch {
    return null;
  }
}

export function loadMessenger(_platform: BrowserPlatform, _serverUrl: string): Promise<MessengerPort | null> {
  return Promise.resolve(null);
}

export function registerMessenger(
  _platform: BrowserPlatform,
  _serverUrl: string,
  _username: string,
  _inviteCode: string | null,
): Promise<MessengerPort | RegistrationError> {
  return Promise.resolve('other');
}
