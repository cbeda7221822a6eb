/**
 * The outbound allow-list the tests' own clients and the in-process controller use:
 * the tests' servers all listen on loopback, which the SSRF guard refuses unless it
 * is allowed (as --outbound-allow does in a cluster). One place, so no test opens more.
 */
import { createOutboundFetch } from '../../lib/http/index.js';

export const LOOPBACK_ALLOW: readonly string[] = ['127.0.0.1/32', '::1/128'];

/** The outbound client with only the loopback exception, typed for the clients that take `fetch`. */
export const loopbackFetch = createOutboundFetch({
  ssrf: { allow: LOOPBACK_ALLOW },
}) as typeof globalThis.fetch;
