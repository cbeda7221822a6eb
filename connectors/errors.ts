/**
 * Errors a connector raises itself (errors from the cluster keep the class the
 * ClusterAccess implementation gave them). connectors/ cannot import the controller's
 * ForestallError, so these carry the same two facts, a stable code and a class, for the
 * controller to map: a request the connector cannot carry is terminal (retrying the same
 * request cannot help), and so is a kind the API server does not serve until someone
 * installs its CRD.
 */
export const CONNECTOR_ERROR_CODES = {
  FST_CONNECTOR_INVALID_REQUEST: { class: 'terminal', summary: 'The action request fails the connector\'s validation (params, values, size); the message names the field.' },
  FST_CONNECTOR_KIND_NOT_SERVED: { class: 'terminal', summary: 'The API server does not serve a kind the connector writes: its CustomResourceDefinition is not installed.' },
  FST_CONNECTOR_UNKNOWN: { class: 'terminal', summary: 'No connector is registered under the requested id.' },
} as const satisfies Record<string, { class: 'terminal' | 'transient'; summary: string }>;

export type ConnectorErrorCode = keyof typeof CONNECTOR_ERROR_CODES;

export class ConnectorError extends Error {
  readonly errorClass: 'terminal' | 'transient';

  constructor(readonly code: ConnectorErrorCode, message: string) {
    super(message);
    this.name = 'ConnectorError';
    this.errorClass = CONNECTOR_ERROR_CODES[code].class;
  }
}
