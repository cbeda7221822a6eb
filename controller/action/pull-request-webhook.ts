import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { actionBranchName, removalBranchName } from '../../delivery/index.js';
import { boundPort, parseBind } from '../runtime/health.js';
import type { Logger } from '../runtime/logger.js';
import type { Runnable } from '../runtime/manager.js';
import type { ActionMetrics } from './metrics.js';

/**
 * The optional webhook endpoint for pull-request events (POST /webhooks/git), so a
 * merge or a close is seen at once instead of at the next poll.
 *
 * GitHub and Gitea sign the raw body with the hook's secret, HMAC-SHA256 in hex:
 * `X-Hub-Signature-256: sha256=<hex>` (both send it) or `X-Gitea-Signature: <hex>`.
 * A request without a valid signature is refused (401). A valid one is only a hint:
 * the head branch names the action (forestall/<action> or forestall-removal/<action>),
 * which is queued (at once, and again a few seconds later, since a forge can send the
 * event before its API shows the change); the reconcile then asks the forge itself, so
 * nothing in the payload is trusted. Events about other branches, and other event types, are answered 202
 * and ignored. The polling stays, so a lost delivery only costs time.
 *
 * It runs with the controllers (only on the leader); a standby has no listener.
 */
/**
 * The largest body read, 1 MiB. A pull_request event is a few tens of KiB (GitHub and
 * Gitea send the pull request, the repository and the sender); the cap keeps anyone who
 * can reach the port from making the leader buffer large bodies before the signature
 * check. A declared Content-Length over it is refused without reading.
 */
export const MAX_BODY_BYTES = 1024 * 1024;
export const WEBHOOK_PATH = '/webhooks/git';

export interface PullRequestWebhookOptions {
  /** host:port; ":9443", or "127.0.0.1:0" in tests. */
  bind: string;
  /** The hook's shared secret. */
  secret: string;
  /** The actions that exist now, to match branches against. */
  actions: () => readonly string[];
  /** Queues one action for reconciling. */
  enqueue: (action: string) => void;
  log: Logger;
  metrics?: Pick<ActionMetrics, 'gitWebhookRequests'>;
}

export class PullRequestWebhook implements Runnable {
  readonly name = 'pull-request-webhook';
  private server?: Server;

  constructor(private readonly opts: PullRequestWebhookOptions) {
    if (!opts.secret) throw new Error('the pull-request webhook needs a secret');
  }

  /** The port it listens on (after start). */
  get port(): number {
    return this.server ? boundPort(this.server) : 0;
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.opts.log.warn({ err }, 'Webhook request failed');
        if (!res.headersSent) reply(res, 500, 'internal error');
      });
    });
    const { host, port } = parseBind(this.opts.bind);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    this.server = server;
    this.opts.log.info({ port: this.port, path: WEBHOOK_PATH }, 'Pull-request webhook listening');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  synced(): boolean {
    return this.server !== undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if ((req.url ?? '').split('?')[0] !== WEBHOOK_PATH) return reply(res, 404, 'not found');
    if (req.method !== 'POST') return reply(res, 405, 'POST only');
    const answer = (
      result: 'queued' | 'ignored' | 'unauthorized' | 'invalid',
      status: number,
      text: string,
    ) => {
      this.opts.metrics?.gitWebhookRequests.inc({ result });
      reply(res, status, text);
    };
    const tooLarge = () => {
      // The rest of the body is never read: the connection closes after the answer.
      res.setHeader('connection', 'close');
      return answer('invalid', 413, `body over ${MAX_BODY_BYTES} bytes`);
    };
    if (Number(header(req.headers, 'content-length') ?? 0) > MAX_BODY_BYTES) return tooLarge();
    const body = await readBody(req);
    if (body === undefined) return tooLarge();
    if (!verifySignature(this.opts.secret, body, req.headers))
      return answer('unauthorized', 401, 'missing or invalid signature');
    const event =
      header(req.headers, 'x-github-event') ??
      header(req.headers, 'x-gitea-event') ??
      header(req.headers, 'x-gogs-event');
    if (event !== 'pull_request')
      return answer('ignored', 202, `ignored event ${event ?? '(none)'}`);
    let ref: unknown;
    try {
      ref = (JSON.parse(body.toString('utf8')) as { pull_request?: { head?: { ref?: unknown } } })
        .pull_request?.head?.ref;
    } catch {
      return answer('invalid', 400, 'body is not JSON');
    }
    const action = typeof ref === 'string' ? this.actionFor(ref) : undefined;
    if (!action) return answer('ignored', 202, 'not a Forestall branch');
    this.opts.log.debug({ action, ref }, 'Pull-request event; reconciling the action');
    this.opts.enqueue(action);
    return answer('queued', 202, `queued ${action}`);
  }

  private actionFor(ref: string): string | undefined {
    if (!ref.startsWith('forestall')) return undefined;
    return this.opts
      .actions()
      .find((name) => actionBranchName(name) === ref || removalBranchName(name) === ref);
  }
}

/** X-Hub-Signature-256 (sha256=<hex>) or X-Gitea-Signature (<hex>), compared in constant time. */
export function verifySignature(
  secret: string,
  body: Buffer,
  headers: IncomingMessage['headers'],
): boolean {
  const expected = createHmac('sha256', secret).update(body).digest();
  const given =
    header(headers, 'x-hub-signature-256')?.replace(/^sha256=/, '') ??
    header(headers, 'x-gitea-signature');
  if (!given || !/^[0-9a-f]{64}$/i.test(given)) return false;
  return timingSafeEqual(expected, Buffer.from(given, 'hex'));
}

function header(headers: IncomingMessage['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

async function readBody(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain' });
  res.end(text);
}
