import { describe, expect, it } from 'vitest';
import { MARKER, publicFetch, withHostileAnswer } from '../../test/harness/hostile-answer.js';
import { loopbackFetch as loopback } from '../../test/harness/outbound.js';
import { ForgeError } from './errors.js';
import { GiteaForge } from './gitea.js';
import { GitHubForge } from './github.js';
import { parseRepoUrl } from './repo-url.js';
import type { Forge } from './types.js';
import { rejectionOf } from '../../test/harness/rejection.js';

// Both forge clients over the one outbound client (lib/http), against a real server on
// 127.0.0.1 that answers like a proxy error page or a metadata endpoint would.

const TOKEN = 'forge-token-0123456789abcdef';

function clients(origin: string, fetch: typeof globalThis.fetch): Forge[] {
  const repo = parseRepoUrl(`${origin}/o/p.git`);
  return [
    new GiteaForge({ repo, token: TOKEN, apiUrl: `${origin}/api/v1`, fetch, retries: 0 }),
    new GitHubForge({
      repo,
      token: TOKEN,
      baseUrl: `${origin}/api/v3`,
      fetch,
      retries: 0,
      throttle: false,
    }),
  ];
}

const failure = (promise: Promise<unknown>) => rejectionOf(promise, ForgeError);

describe('forge clients over the outbound client', () => {
  it.each([[404], [422], [403]])(
    'GIVEN a non-JSON answer %s holding a marker THEN the marker is in no error message',
    (status) =>
      withHostileAnswer(status, async (server) => {
        for (const forge of clients(server.origin, loopback)) {
          const err = await failure(forge.getPullRequest(3));
          expect(err.message).toContain(`HTTP ${status}`);
          expect(err.message).not.toContain(MARKER);
          expect(JSON.stringify(err)).not.toContain(MARKER);
        }
      }),
  );

  it('GIVEN plain http to a forge host that is not loopback THEN FST_FORGE_INVALID_CONFIG before any connection', async () => {
    const fetch = publicFetch();
    for (const forge of clients('http://git.example.test', fetch)) {
      const started = performance.now();
      const err = await failure(forge.getPullRequest(3));
      expect(err.code).toBe('FST_FORGE_INVALID_CONFIG');
      expect(err.message).toContain('FST_HTTP_INSECURE');
      // Not retried: octokit's retry plugin would wait 1 s before a second try.
      expect(performance.now() - started).toBeLessThan(900);
    }
  });

  it('GIVEN no fetch THEN the default client has no SSRF exceptions: a loopback forge is refused', async () => {
    await withHostileAnswer(
      200,
      async (server) => {
        const repo = parseRepoUrl(`${server.origin}/o/p.git`);
        const err = await failure(
          new GiteaForge({
            repo,
            token: TOKEN,
            apiUrl: `${server.origin}/api/v1`,
            retries: 0,
          }).getPullRequest(1),
        );
        expect(err.code).toBe('FST_FORGE_INVALID_CONFIG');
        expect(err.message).toContain('FST_HTTP_SSRF_BLOCKED');
        expect(server.requests).toBe(0);
      },
      '{}',
    );
  });
});
