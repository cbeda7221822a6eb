/**
 * The one outbound HTTP client (STYLE.md 10; issue 13, "One outbound HTTP path").
 * Everything the controller calls goes through it: feeds and TAXII (the streaming
 * openExchange), identity providers, forges and notifications (the fetch-compatible
 * createOutboundFetch). Both enforce the SSRF guard with pinned resolution, https
 * unless loopback or allow-listed, no credentials across origins, bounded bodies,
 * and errors that never hold a response body.
 */
export {
  HTTP_ERROR_CODES,
  HttpError,
  answerCode,
  answerCodeSuffix,
  isHttpError,
  redactUrl,
  UrlError,
} from './errors.js';
export type {
  HttpErrorCode,
  HttpErrorCodeInfo,
  HttpErrorOptions,
  UrlErrorOptions,
} from './errors.js';
export {
  checkAddress,
  checkTarget,
  describeRefusal,
  plainHttpPermitted,
  validateSsrfPolicy,
} from './ssrf.js';
export type {
  CheckedTarget,
  Refusal,
  RefusalReason,
  ResolvedAddress,
  Resolver,
  SsrfPolicy,
} from './ssrf.js';
export {
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_REQUEST_TIMEOUT_MS,
  createOutboundFetch,
  defaultOutboundFetch,
} from './fetch.js';
export type { OutboundFetch, OutboundFetchOptions, OutboundInit } from './fetch.js';
export {
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_MAX_REDIRECTS,
  Deadline,
  checkCaPem,
  checkCredentialHeaders,
  defaultCaCertificates,
  extraCaCertificates,
  describeStatus,
  openExchange,
  statusIsTransient,
  classOfAnswer,
} from './transport.js';
export type { Exchange, FetchLimits, TransportOptions } from './transport.js';
export { parseConfiguredUrl, parseHttpUrl } from './configured-url.js';
export type { ConfiguredUrlErrors } from './configured-url.js';
export { checkGitRemote, gitRemoteUrl, type GitRemotePin } from './git-remote.js';
export {
  bypassesProxy,
  parseNoProxy,
  parseProxyUrl,
  proxyFor,
  proxySettingsFromEnv,
} from './proxy.js';
export type { NoProxyEntry, ProxyEndpoint, ProxyEnvironment, ProxySettings } from './proxy.js';
export {
  MAX_RETRIES,
  attemptsNote,
  backoffDelay,
  isRedirect,
  networkMessage,
  parseRetryAfter,
  readBodyStart,
  retrySettings,
  withRetry,
} from './retry.js';
export type {
  AttemptResult,
  BackoffPolicy,
  GiveUpReason,
  RetryOptions,
  RetryPolicy,
  RetrySettings,
} from './retry.js';
export { fetchOnce } from './fetch-once.js';
export type { FetchOnceOptions, FetchOutcome } from './fetch-once.js';
