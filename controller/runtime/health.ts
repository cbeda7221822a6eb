import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export type Check = () => true | string;

/**
 * Serves /healthz and /readyz (200 or 503 with the failing check's message) and
 * /metrics (Prometheus text format) on one listener. The chart points probes at
 * /healthz and /readyz and the metrics Service at the same or another port.
 */
export function serve(
  bind: string,
  routes: { checks?: { healthz: Check; readyz: Check }; registry?: Registry },
): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (routes.checks && (path === '/healthz' || path === '/readyz')) {
      const result = routes.checks[path.slice(1) as 'healthz' | 'readyz']();
      res.writeHead(result === true ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(result === true ? 'ok' : result);
      return;
    }
    if (routes.registry && path === '/metrics') {
      routes.registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': routes.registry!.contentType });
          res.end(text);
        },
        (err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        },
      );
      return;
    }
    res.writeHead(404);
    res.end('not found');
  });
  const { host, port } = parseBind(bind);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

/** ":8080", "0.0.0.0:8080", "127.0.0.1:0" or "[::1]:8080". */
export function parseBind(bind: string): { host?: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(bind);
  if (!m)
    throw new Error(`invalid bind address ${JSON.stringify(bind)}; expected host:port or :port`);
  const host = m[1] ?? m[2];
  return { host: host ? host : undefined, port: Number(m[3]) };
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}
