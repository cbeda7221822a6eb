import { readFileSync } from 'node:fs';
import type { ActionRequest } from '../../crds/index.js';

// What every network connector's unit test feeds its renderer: real feed content
// (shared/feeds) and one EgressDeny request, so the connectors are tested on the same data.

const feeds = new URL('../../../shared/feeds/', import.meta.url);

/** The addresses of the IPsum snapshot, in file order. */
export const ipsumAddresses = (): string[] =>
  readFileSync(new URL('ipsum/ipsum-2026-08-22.txt', feeds), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.split('\t')[0]!);

/** MISP's public resolver IPv6 addresses. */
export const publicDnsV6 = (): string[] =>
  (
    JSON.parse(readFileSync(new URL('warninglists/public-dns-v6.json', feeds), 'utf8')) as {
      list: string[];
    }
  ).list;

/** An EgressDeny request for an IPv4 address, an IPv4 range and an IPv6 range, in `namespaces`. */
export const egressRequest =
  (namespaces: string[]) =>
  (over: Partial<ActionRequest> = {}): ActionRequest => ({
    name: 'block-ipsum-7f3a',
    policy: 'block-ipsum',
    type: 'EgressDeny',
    values: ['203.0.113.9', '198.51.100.0/24', '2001:db8::/32'],
    scope: { namespaces },
    params: {},
    ...over,
  });
