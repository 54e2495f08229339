/**
 * The client core's `BinaryHttpTransport` over `fetch`: attachment uploads (tus POST/HEAD/PATCH/DELETE) and ranged
 * downloads, bodies as bytes both ways. The core bounds every body to one piece of a few MiB, so a body is held in
 * memory whole. It rejects only when no response arrived (offline, timeout); HTTP errors are returned for the core
 * to interpret. It does not retry and reports no progress itself (the core reports it per piece).
 */
import type { BinaryHttpRequest, BinaryHttpResponse, BinaryHttpTransport } from '@cove/client';

/**
 * Give up on one request after this long: a 4 MiB piece over a slow mobile uplink (~0.5 Mbit/s) takes about a minute;
 * past two, the connection is as good as gone and the core resumes from the server's offset.
 */
const BINARY_REQUEST_TIMEOUT_MS = 120_000;

export class FetchBinaryTransport implements BinaryHttpTransport {
  async request(request: BinaryHttpRequest): Promise<BinaryHttpResponse> {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      ...(request.body ? { body: request.body } : {}),
      cache: 'no-store',
      credentials: 'omit',
      signal: AbortSignal.timeout(BINARY_REQUEST_TIMEOUT_MS),
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    const body = request.method === 'HEAD' ? new Uint8Array(0) : new Uint8Array(await response.arrayBuffer());
    return { status: response.status, headers, body };
  }
}
