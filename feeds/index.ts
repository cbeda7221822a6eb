/**
 * Feed ingestion: sources, parsing, normalisation, aggregation. Pure engine code
 * shared by the controller and the offline CLI; it never imports controller/ and
 * never touches Kubernetes.
 */
export * from './indicator.js';
export * from '../lib/ip.js';
export { normalise, refang, type NormaliseResult } from './normalise.js';
export * from '../lib/cidr-aggregate.js';
export { PARSERS, parserFor, parseMispFeed, type MispFileReader } from './parsers/index.js';
export { readIpLines, parseLines, Ipv4Scores } from './parsers/lines.js';
export * from './sources/index.js';
export { clusterRangesOf } from './cluster-ranges.js';
export {
  fetchFeed,
  sourceErrorForStatus,
  type FetchOutcome,
  type FetchPolicy,
  type SourceDocument,
  type SourceReaders,
} from './sync.js';
export {
  ingest,
  ingestSpecOf,
  ingestItems,
  summariseIpLines,
  compileConfidence,
  ConfidenceExpressionError,
  mergeIndicator,
  countAggregatedCidrs,
  recordBoundsProblem,
  DEFAULT_INGEST_CAPS,
  type IngestOptions,
  type IngestResult,
  type IngestCaps,
  type CappedTags,
} from './ingest.js';
export { FeedCapError, type FeedCap } from './caps.js';
export {
  DEFAULT_SANDBOX,
  IngestSandbox,
  type SandboxJob,
  type SandboxLimits,
  type SandboxOutcome,
} from './sandbox.js';
export { collectBytes } from './parsers/body.js';
export { DEFAULT_MAX_MISP_EVENTS } from './parsers/misp.js';
export {
  Guardrails,
  defaultGuardrailConfig,
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_WARNINGLISTS,
  type DomainScope,
  type GuardrailConfig,
  type GuardrailOptions,
  type NamedDomains,
  type NamedRanges,
} from './guardrails.js';
export { credentialSecretRefs, infrastructureHosts, type NamedSecret } from './infrastructure.js';
export type { FeedFormat } from './parsers/index.js';
