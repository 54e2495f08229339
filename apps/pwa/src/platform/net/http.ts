/**
 * The client core's HTTP transport over `fetch`, for pages and the service worker alike. Relative URLs resolve
 * against the origin the app was served from. It rejects only when no response arrived (offline, timeout); HTTP
 * errors are returned as responses for the core to interpret. It does not retry.
 */
import type { HttpRequest, HttpResponse, HttpTransport } from '@cove/client';

/** Give up on a request after this long: a stalled mobile connection should fail over to the retry logic. */
const REQUEST_TIMEOUT_MS = 20_000;

export class FetchTransport implements HttpTransport {
  async request(request: HttpRequest): Promise<HttpResponse> {
    const response = await fetch(request.url, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      cache: 'no-store',
      credentials: 'omit',
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name] = value;
    });
    return { status: response.status, headers, body: await response.text() };
  }
}
