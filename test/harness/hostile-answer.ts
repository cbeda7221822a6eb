/**
 * For the outbound-client tests of every caller (identity, notifications, forges): a
 * real HTTP server on 127.0.0.1 that answers every request with one fixed status and
 * a non-JSON body holding MARKER, the way a proxy error page or a cloud metadata
 * document would; and a resolver that maps made-up names to a public address, so a
 * test can show plain http to a non-loopback host is refused without any traffic
 * leaving loopback (the refusal comes before any connection).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createOutboundFetch, type Resolver } from '../../lib/http/index.js';

export const MARKER = 'MARKER-ami-0abc-AccessKeyId-ASIA';

export interface HostileAnswer {
  /** http://127.0.0.1:<port> */
  origin: string;
  requests: number;
  close(): Promise<void>;
}

export async function startHostileAnswer(
  status: number,
  body = `<html><pre>${MARKER} instance-id i-0123</pre></html>`,
): Promise<HostileAnswer> {
  const state = { requests: 0 };
  const server = createServer((req, res) => {
    state.requests += 1;
    req.resume();
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'text/html' });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    get requests() {
      return state.requests;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Every name resolves to 93.184.216.34, a public address no test ever connects to. */
export const publicResolver: Resolver = async () => [{ address: '93.184.216.34', family: 4 }];

/** Runs `use` against startHostileAnswer(status, body), and closes the server whatever happens. */
export async function withHostileAnswer<T>(
  status: number,
  use: (server: HostileAnswer) => Promise<T>,
  body?: string,
): Promise<T> {
  const server = await startHostileAnswer(status, body);
  try {
    return await use(server);
  } finally {
    await server.close();
  }
}

/** The outbound client (lib/http) with every name public (publicResolver), so plain http to a name is refused before any connection. */
export function publicFetch(): typeof globalThis.fetch {
  return createOutboundFetch({ ssrf: { resolve: publicResolver } }) as typeof globalThis.fetch;
}
