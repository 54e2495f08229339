/**
 * The client core's socket factory over the browser `WebSocket`. `http(s)` URLs are mapped to `ws(s)`. It does not
 * reconnect (the core decides when to) and never logs frames.
 */
import type { ClientSocket, SocketFactory } from '@cove/client';

function toWebSocketUrl(url: string): string {
  const resolved = new URL(url, globalThis.location.href);
  if (resolved.protocol === 'http:') resolved.protocol = 'ws:';
  else if (resolved.protocol === 'https:') resolved.protocol = 'wss:';
  return resolved.toString();
}

export class BrowserSocketFactory implements SocketFactory {
  connect(url: string): ClientSocket {
    const ws = new WebSocket(toWebSocketUrl(url));
    const socket: ClientSocket = {
      onOpen: () => undefined,
      onMessage: () => undefined,
      onClose: () => undefined,
      onError: () => undefined,
      send: (text) => ws.send(text),
      close: (code, reason) => ws.close(code ?? 1000, reason),
    };
    ws.addEventListener('open', () => socket.onOpen());
    ws.addEventListener('message', (event: MessageEvent) => {
      if (typeof event.data === 'string') socket.onMessage(event.data);
    });
    ws.addEventListener('close', (event: CloseEvent) => socket.onClose(event.code, event.reason));
    ws.addEventListener('error', () => socket.onError(new Error('WebSocket error')));
    return socket;
  }
}
