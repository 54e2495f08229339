/**
 * Sockets a test plays the server's side of: each `connect` records a socket whose sent frames and close the test
 * reads, and whose open, message and close handlers the test calls. No network, no timers.
 */
import type { ClientSocket, SocketFactory } from '../../src/platform.js';

/** The server's side of each socket the messenger opens: the test plays its frames and closes. */
export type ScriptedSocket = ClientSocket & { sent: string[]; closed: boolean };

export const scriptedSockets = (): SocketFactory & { opened: ScriptedSocket[] } => {
  const opened: ScriptedSocket[] = [];
  return {
    opened,
    connect: () => {
      const socket: ScriptedSocket = {
        sent: [],
        closed: false,
        onOpen: () => undefined,
        onMessage: () => undefined,
        onClose: () => undefined,
        onError: () => undefined,
        send(text) {
          this.sent.push(text);
        },
        close() {
          this.closed = true;
        },
      };
      opened.push(socket);
      return socket;
    },
  };
};
