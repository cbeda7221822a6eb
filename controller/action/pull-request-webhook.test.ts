import { createHmac } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { actionBranchName, removalBranchName } from '../../delivery/index.js';
import { Registry } from 'prom-client';
import { ActionMetrics } from './metrics.js';
import {
  MAX_BODY_BYTES,
  PullRequestWebhook,
  verifySignature,
  WEBHOOK_PATH,
} from './pull-request-webhook.js';

const SECRET = 'shared-hook-secret';
const sign = (body: string, secret = SECRET) =>
  createHmac('sha256', secret).update(body).digest('hex');
const queued: string[] = [];
const metrics = new ActionMetrics(new Registry());
const hook = new PullRequestWebhook({
  bind: '127.0.0.1:0',
  secret: SECRET,
  log: pino({ level: 'silent' }),
  metrics,
  actions: () => ['c2-egressdeny', 'kev-isolate-shop-web'],
  enqueue: (a) => queued.push(a),
});
let url: string;

beforeAll(async () => {
  await hook.start();
  url = `http://127.0.0.1:${hook.port}${WEBHOOK_PATH}`;
});
afterAll(() => hook.stop());

async function post(
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  return { status: res.status, text: await res.text() };
}

describe('pull-request webhook', () => {
  it('GIVEN a signed Gitea pull_request event on a Forestall branch THEN the action is queued', async () => {
    const body = JSON.stringify({
      action: 'closed',
      pull_request: { number: 7, merged: true, head: { ref: actionBranchName('c2-egressdeny') } },
    });
    expect(
      await post(body, { 'x-gitea-event': 'pull_request', 'x-gitea-signature': sign(body) }),
    ).toEqual({ status: 202, text: 'queued c2-egressdeny' });
    expect(queued).toEqual(['c2-egressdeny']);
  });

  it('GIVEN a GitHub event for a removal branch, signed with X-Hub-Signature-256 THEN that action is queued', async () => {
    const body = JSON.stringify({
      pull_request: { head: { ref: removalBranchName('kev-isolate-shop-web') } },
    });
    expect(
      (
        await post(body, {
          'x-github-event': 'pull_request',
          'x-hub-signature-256': `sha256=${sign(body)}`,
        })
      ).status,
    ).toBe(202);
    expect(queued.at(-1)).toBe('kev-isolate-shop-web');
  });

  it('GIVEN a wrong or missing signature THEN 401 and nothing is queued', async () => {
    const body = JSON.stringify({
      pull_request: { head: { ref: actionBranchName('c2-egressdeny') } },
    });
    const before = queued.length;
    expect(
      (
        await post(body, {
          'x-gitea-event': 'pull_request',
          'x-gitea-signature': sign(body, 'other'),
        })
      ).status,
    ).toBe(401);
    expect((await post(body, { 'x-gitea-event': 'pull_request' })).status).toBe(401);
    expect(
      (await post(`${body} `, { 'x-gitea-event': 'pull_request', 'x-gitea-signature': sign(body) }))
        .status,
    ).toBe(401);
    expect(queued.length).toBe(before);
  });

  it('GIVEN other events, other branches, bad JSON and wrong routes THEN nothing is queued and each answer says why', async () => {
    const before = queued.length;
    const push = JSON.stringify({ ref: 'refs/heads/main' });
    expect(await post(push, { 'x-gitea-event': 'push', 'x-gitea-signature': sign(push) })).toEqual({
      status: 202,
      text: 'ignored event push',
    });
    const other = JSON.stringify({ pull_request: { head: { ref: 'feature/x' } } });
    expect(
      await post(other, { 'x-gitea-event': 'pull_request', 'x-gitea-signature': sign(other) }),
    ).toEqual({ status: 202, text: 'not a Forestall branch' });
    const unknown = JSON.stringify({
      pull_request: { head: { ref: actionBranchName('gone-action') } },
    });
    expect(
      (await post(unknown, { 'x-gitea-event': 'pull_request', 'x-gitea-signature': sign(unknown) }))
        .text,
    ).toBe('not a Forestall branch');
    expect(
      (await post('{', { 'x-gitea-event': 'pull_request', 'x-gitea-signature': sign('{') })).status,
    ).toBe(400);
    expect((await fetch(url)).status).toBe(405);
    expect((await fetch(url.replace(WEBHOOK_PATH, '/other'), { method: 'POST' })).status).toBe(404);
    expect(queued.length).toBe(before);
    const counts = Object.fromEntries(
      (await metrics.gitWebhookRequests.get()).values.map((v) => [v.labels['result'], v.value]),
    );
    expect(counts).toEqual({ queued: 2, unauthorized: 3, ignored: 3, invalid: 1 });
  });

  it('GIVEN signature headers of the wrong shape THEN verification fails without throwing', () => {
    const body = Buffer.from('{}');
    expect(verifySignature(SECRET, body, { 'x-hub-signature-256': 'sha1=abc' })).toBe(false);
    expect(verifySignature(SECRET, body, { 'x-gitea-signature': 'zz'.repeat(32) })).toBe(false);
    expect(verifySignature(SECRET, body, { 'x-gitea-signature': sign('{}') })).toBe(true);
  });
});

describe('pull-request webhook body cap', () => {
  it('GIVEN a signed event padded to just over 1 MiB, declared or streamed without a length THEN 413 and nothing is queued', async () => {
    expect(MAX_BODY_BYTES).toBe(1024 * 1024);
    const event = (pad: number) =>
      JSON.stringify({
        pad: 'x'.repeat(pad),
        pull_request: { head: { ref: actionBranchName('c2-egressdeny') } },
      });
    const overhead = event(0).length;
    const over = event(MAX_BODY_BYTES + 1 - overhead);
    expect(over.length).toBe(MAX_BODY_BYTES + 1);
    const own: string[] = [];
    const capped = new PullRequestWebhook({
      bind: '127.0.0.1:0',
      secret: SECRET,
      log: pino({ level: 'silent' }),
      actions: () => ['c2-egressdeny'],
      enqueue: (a) => own.push(a),
    });
    await capped.start();
    const url = `http://127.0.0.1:${capped.port}${WEBHOOK_PATH}`;
    const post = async (body: string, headers: Record<string, string>) => {
      const res = await fetch(url, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers },
      });
      return { status: res.status, text: await res.text() };
    };
    onTestFinished(() => capped.stop());
    expect(
      await post(over, { 'x-gitea-event': 'pull_request', 'x-gitea-signature': sign(over) }),
    ).toEqual({ status: 413, text: `body over ${MAX_BODY_BYTES} bytes` });
    const bytes = new TextEncoder().encode(over);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 64 * 1024)
          controller.enqueue(bytes.slice(i, i + 64 * 1024));
        controller.close();
      },
    });
    const chunked = await fetch(url, {
      method: 'POST',
      body: stream,
      duplex: 'half',
      headers: { 'x-gitea-event': 'pull_request', 'x-gitea-signature': sign(over) },
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect(own).toEqual([]);
    // At the cap exactly, the same event is read, verified and queued.
    const at = event(MAX_BODY_BYTES - overhead);
    expect(
      (await post(at, { 'x-gitea-event': 'pull_request', 'x-gitea-signature': sign(at) })).status,
    ).toBe(202);
    expect(own).toEqual(['c2-egressdeny']);
  });
});
