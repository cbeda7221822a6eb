import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface ProbeOptions {
  /** PEM bundle that must have signed the server's certificate. */
  ca?: string | Buffer;
  /** Bearer token sent in the Authorization header. */
  token?: string;
  /**
   * Accepts any server certificate. Only for the controller-manager's health
   * endpoint, whose serving certificate is generated in memory and never written.
   */
  insecureSkipTlsVerify?: boolean;
  timeoutMs?: number;
}

export interface ProbeResponse {
  status: number;
  body: string;
}

/** One GET with a hard timeout, for readiness polling; it never retries. */
export function httpGet(url: string, options: ProbeOptions = {}): Promise<ProbeResponse> {
  const target = new URL(url);
  const headers: Record<string, string> = {};
  if (options.token !== undefined) {
    headers['Authorization'] = `Bearer ${options.token}`;
  }
  const timeout = options.timeoutMs ?? 2_000;
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    };
    const req =
      target.protocol === 'https:'
        ? httpsRequest(
            target,
            {
              method: 'GET',
              headers,
              timeout,
              ...(options.ca !== undefined ? { ca: options.ca } : {}),
              rejectUnauthorized: options.insecureSkipTlsVerify !== true,
              // A fresh connection per probe: a pooled socket to a server that was
              // just restarted would fail for reasons unrelated to readiness.
              agent: false,
            },
            onResponse,
          )
        : httpRequest(target, { method: 'GET', headers, timeout, agent: false }, onResponse);
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out after ${timeout} ms`)));
    req.on('error', reject);
    req.end();
  });
}
