import { FeedError } from './sources/errors.js';

/** The per-sync caps of feeds/ingest.ts and the MISP reader; the reconciler names the cap in Degraded. */
export type FeedCap = 'records' | 'indicators' | 'mispEvents';

/** A sync that passed one of its caps (FST_FEED_CAP_EXCEEDED); `limit` is the cap. */
export class FeedCapError extends FeedError {
  constructor(
    readonly cap: FeedCap,
    readonly limit: number,
    message: string,
  ) {
    super('FST_FEED_CAP_EXCEEDED', message);
  }
}
