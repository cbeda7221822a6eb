/**
 * The codes of errors a connector raises itself (errors from the cluster keep the class
 * the ClusterAccess implementation gave them). The error type is the kernel's
 * (lib/errors.ts): a request the connector cannot carry is terminal (retrying the same
 * request cannot help), and so is a kind the API server does not serve until someone
 * installs its CRD.
 */
import { ForestallError, type ErrorCodeTable } from '../../lib/errors.js';

export const CONNECTOR_ERROR_CODES = {
  FST_CONNECTOR_INVALID_REQUEST: {
    class: 'terminal',
    summary:
      "The action request fails the connector's validation (params, values, size); the message names the field.",
  },
  FST_CONNECTOR_KIND_NOT_SERVED: {
    class: 'terminal',
    summary:
      'The API server does not serve a kind the connector writes: its CustomResourceDefinition is not installed.',
  },
  FST_CONNECTOR_UNKNOWN: {
    class: 'terminal',
    summary: 'No connector is registered under the requested id.',
  },
  FST_IDENTITY_AUTH: {
    class: 'terminal',
    summary:
      'The identity provider refused the credentials (401 or 403): a wrong token or client secret, or a service account without the needed role.',
  },
  FST_IDENTITY_REJECTED: {
    class: 'terminal',
    summary:
      'The identity provider refused the request (4xx other than 401, 403, 429), sent a success that is not JSON, or the outbound client refused the URL; the message has the status and at most a structured error code, never the answer.',
  },
  FST_IDENTITY_UNAVAILABLE: {
    class: 'transient',
    summary: 'The identity provider did not answer, or answered 5xx, after retries.',
  },
  FST_IDENTITY_RATE_LIMITED: {
    class: 'transient',
    summary:
      'The identity provider rate-limited the requests (429) after retries; retried at the time it gave.',
  },
  FST_IDENTITY_CREDENTIALS: {
    class: 'terminal',
    summary: 'The Secret with the identity provider credentials is missing, or lacks a key.',
  },
} as const satisfies ErrorCodeTable;

export type ConnectorErrorCode = keyof typeof CONNECTOR_ERROR_CODES;

export class ConnectorError extends ForestallError<ConnectorErrorCode> {
  /**
   * @param options.retryAfterMs for FST_IDENTITY_RATE_LIMITED: when the provider said
   *   to come back, in ms from now.
   * @param options.secrets literal values to remove from the message (a token).
   */
  constructor(
    code: ConnectorErrorCode,
    message: string,
    options: { retryAfterMs?: number; secrets?: Iterable<string> } = {},
  ) {
    super(code, message, { ...options, errorClass: CONNECTOR_ERROR_CODES[code].class });
    this.name = 'ConnectorError';
  }
}
