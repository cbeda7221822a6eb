import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';

function listenOnLoopback(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/**
 * Returns `count` distinct loopback ports that were free a moment ago.
 *
 * The kernel picks them (bind to port 0), and all the sockets stay open until
 * every port is chosen, so the ports differ from each other. Another process can
 * still take a port between close and the caller's bind; that window is accepted
 * here, as in controller-runtime's envtest, because the binaries cannot be handed
 * an already-open socket.
 */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => listenOnLoopback()));
  const ports = servers.map((server) => (server.address() as AddressInfo).port);
  await Promise.all(servers.map(close));
  return ports;
}
