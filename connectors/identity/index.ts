/**
 * Identity connectors (ADR 0004), the public surface of connectors/identity/: the shared
 * types, the HTTP client, the one Connector class, and one provider per folder.
 */
export * from './types.js';
export { createIdentityHttp, type IdentityHttpOptions } from './http.js';
export {
  IdentityConnector,
  SHARED_IDENTITY_PARAMS,
  identityParams,
  validateIdentityRequest,
  type IdentityConnectorOptions,
} from './connector.js';
export { scimProvider } from './scim/index.js';
export { keycloakProvider } from './keycloak/index.js';
export { oktaProvider } from './okta/index.js';
export { entraProvider } from './entra/index.js';
export { identityChangeManifest } from './describe.js';
