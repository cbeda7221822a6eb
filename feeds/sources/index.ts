/**
 * Feed sources: fetching feed content over HTTP(S) and TAXII 2.1, behind the SSRF
 * guard, with size and time limits. Engine code shared by the controller and the
 * offline CLI: no controller/ imports and no process.env; every setting is passed in.
 */
export { FEED_ERROR_CODES, FeedError, feedErrorFrom, isFeedError } from './errors.js';
export type { FeedErrorCode, FeedErrorOptions } from './errors.js';
// The SSRF guard lives in lib/http; its policy types are re-exported for the feeds' callers.
export type { Resolver, SsrfPolicy } from '../../lib/http/ssrf.js';
export { fetchHttp } from './http.js';
export type { HttpFetchOptions, HttpFetchResult } from './http.js';
export { DEFAULT_PAGE_SIZE, TAXII_MEDIA_TYPE, discoverTaxii, fetchTaxii } from './taxii.js';
export type {
  TaxiiAuth,
  TaxiiDiscovery,
  TaxiiDiscoveryOptions,
  TaxiiFetchOptions,
  TaxiiFetchResult,
  TaxiiSyncStats,
} from './taxii.js';
export { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_REDIRECTS } from './outbound.js';
