/**
 * A man in the middle for end-to-end tests: forwards HTTP and WebSocket traffic on 127.0.0.1 to the real server,
 * and, when told to, answers prekey-bundle requests for one account with another account's keys (keeping the
 * victim's registration ids) — what a malicious or compromised server could do, and what safety numbers catch.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';

export type TamperProxy = {
  url: string;
  /** When set, `GET /v1/keys/<victim>/...` is answered with `<impostor>`'s keys. */
  substitute: { victim: string; impostor: string } | null;
  close(): Promise<void>;
};

export async function startTamperProxy(targetUrl: string): Promise<TamperProxy> {
  const target = new URL(targetUrl);
  const forward = async (
    method: string,
    path: string,
    headers: http.IncomingHttpHeaders,
    body: Buffer,
  ): Promise<{ status: number; type: string; body: string }> => {
    const outgoing: Record<string, string> = {};
    for (const [key, value] of Object.entries(headers)) {
      if (typeof value === 'string' && !['host', 'connection', 'content-length'].includes(key)) outgoing[key] = value;
    }
    const response = await fetch(new URL(path, target), {
      method,
      headers: outgoing,
      ...(method === 'GET' || method === 'HEAD' ? {} : { body: new Uint8Array(body) }),
    });
    return {
      status: response.status,
      type: response.headers.get('content-type') ?? 'application/json',
      body: await response.text(),
    };
  };
  const proxy: TamperProxy = { url: '', substitute: null, close: () => Promise.resolve() };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      void (async () => {
        const path = req.url ?? '/';
        const sub = proxy.substitute;
        let answer = await forward(req.method ?? 'GET', path, req.headers, Buffer.concat(chunks));
        if (sub && req.method === 'GET' && path.startsWith(`/v1/keys/${sub.victim}/`) && answer.status === 200) {
          const fake = await forward('GET', path.replace(sub.victim, sub.impostor), req.headers, Buffer.alloc(0));
          const real = JSON.parse(answer.body) as { devices: { deviceId: number; registrationId: number }[] };
          const forged = JSON.parse(fake.body) as { devices: { deviceId: number; registrationId: number }[] };
          forged.devices.forEach((d, i) => (d.registrationId = real.devices[i]?.registrationId ?? d.registrationId));
          answer = { ...fake, body: JSON.stringify(forged) };
        }
        res.writeHead(answer.status, { 'content-type': answer.type });
        res.end(answer.body);
      })().catch(() => {
        res.writeHead(502);
        res.end();
      });
    });
  });
  server.on('upgrade', (req, socket, head) => {
    const upstream = net.connect(Number(target.port), target.hostname, () => {
      const lines = [`${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    const destroy = (): void => {
      socket.destroy();
      upstream.destroy();
    };
    upstream.on('error', destroy);
    socket.on('error', destroy);
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return proxy;
}
