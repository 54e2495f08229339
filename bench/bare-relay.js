/**
 * Baseline for bench/delivery.bench.js: a bare `ws` relay with the same frames and the same authentication step
 * as the Cove server, but no validation, no database and no acknowledgement semantics. It shows the ceiling of
 * moving these frames through Node and `ws` on this machine. Run by the benchmark, not on its own.
 */
import { WebSocketServer } from 'ws';

const port = Number(process.env.PORT ?? 0);
const sockets = new Map();
const server = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false });

server.on('connection', (ws) => {
  let id;
  ws.on('message', (data) => {
    const frame = JSON.parse(data.toString());
    if (frame.type === 'auth') {
      id = `${frame.accountId}.${frame.deviceId}`;
      sockets.set(id, ws);
      ws.send(JSON.stringify({ type: 'ready', accountId: frame.accountId, deviceId: frame.deviceId }));
      ws.send('{"type":"queue-empty"}');
    } else if (frame.type === 'send') {
      const m = frame.message.messages[0];
      const target = sockets.get(`${frame.destination}.${m.destinationDeviceId}`);
      const envelope = {
        guid: `${id}-${frame.id}`,
        type: m.type,
        sourceAccountId: id,
        sourceDeviceId: 1,
        timestamp: frame.message.timestamp,
        serverTimestamp: Date.now(),
        content: m.content,
      };
      target?.send(JSON.stringify({ type: 'envelope', envelope }));
      ws.send(JSON.stringify({ type: 'result', id: frame.id, status: 200, body: { serverTimestamp: Date.now() } }));
    }
  });
  ws.on('close', () => {
    if (id && sockets.get(id) === ws) sockets.delete(id);
  });
});

server.on('listening', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
