import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A loopback HTTP proxy in front of a real server (Gitea) that injects faults on
 * demand: an HTTP status with headers (503, 429 with Retry-After), or a dropped
 * connection. Without a fault every request reaches the real server unchanged, so
 * the tests still talk to the real forge; the proxy only decides when it is
 * unreachable or unhappy.
 */
export type Fault =
  { status: number; headers?: Record<string, string>; body?: string } | { drop: true };

export interface FaultProxy {
  /** http://127.0.0.1:<port>, standing for the target's origin. */
  url: string;
  /** Requests seen, and how many of them got a fault. */
  readonly counts: { requests: number; faulted: number };
  /** Sets the fault for the requests that follow; undefined heals. */
  fail(fault: Fault | undefined): void;
  stop(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let fault: Fault | undefined;
  const counts = { requests: 0, faulted: 0 };
  const sockets = new Set<Socket>();

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    counts.requests++;
    if (fault) {
      counts.faulted++;
      if ('drop' in fault) {
        req.socket.destroy();
        return;
      }
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      res.end(fault.body ?? JSON.stringify({ message: `injected ${fault.status}` }));
      return;
    }
    const forward = request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    fail: (f) => {
      fault = f;
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
