/**
 * The feeds' view of the one outbound client (lib/http): the same transport, with
 * every failure reported as the FeedError of the matching FST_FEED_* code, whether
 * it happens before the answer or in the middle of the body.
 */
import { parseHttpUrl } from '../../lib/http/configured-url.js';
import * as transport from '../../lib/http/transport.js';
import type { Exchange, TransportOptions } from '../../lib/http/transport.js';
import { feedErrorFrom } from './errors.js';

export {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_REDIRECTS,
  Deadline,
  classOfAnswer,
  describeStatus,
} from '../../lib/http/transport.js';
export type { Exchange, FetchLimits, TransportOptions } from '../../lib/http/transport.js';

function mapped<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return fn(...args);
    } catch (err) {
      throw feedErrorFrom(err);
    }
  };
}

export const parseFeedUrl = mapped((raw: string): URL => parseHttpUrl(raw, 'Feed URL'));
export const checkCredentialHeaders = mapped(transport.checkCredentialHeaders);
export const checkCaPem = mapped(transport.checkCaPem);

export async function openExchange(start: URL, options: TransportOptions): Promise<Exchange> {
  let exchange: Exchange;
  try {
    exchange = await transport.openExchange(start, options);
  } catch (err) {
    throw feedErrorFrom(err);
  }
  const rawBody = exchange.rawBody.bind(exchange);
  return {
    ...exchange,
    async *rawBody(): AsyncGenerator<Uint8Array> {
      try {
        yield* rawBody();
      } catch (err) {
        throw feedErrorFrom(err);
      }
    },
  };
}
