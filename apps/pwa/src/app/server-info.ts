/**
 * Reads the server's public description (`GET /v1/info`): its name, how people register (open, by invite, or by single sign-on and its provider's name), and
 * the Web Push (VAPID) public key. Null when the server cannot be reached.
 */
import type { HttpTransport } from '@cove/client';
import type { ServerInfo } from './model.js';

export async function fetchServerInfo(http: HttpTransport, serverUrl: string): Promise<ServerInfo | null> {
  try {
    const response = await http.request({ method: 'GET', url: `${serverUrl}/v1/info`, headers: {} });
    if (response.status !== 200) return null;
    const body = JSON.parse(response.body) as Partial<ServerInfo> & { sso?: { name?: unknown } };
    const registration = body.registration === 'invite' || body.registration === 'sso' ? body.registration : 'open';
    return {
      name: typeof body.name === 'string' ? body.name : 'Cove',
      registration,
      ssoName: registration === 'sso' && typeof body.sso?.name === 'string' ? body.sso.name : null,
      vapidPublicKey: typeof body.vapidPublicKey === 'string' ? body.vapidPublicKey : null,
    };
  } catch {
    return null;
  }
}
