/**
 * The one CEL environment, shared by the policy engine (spec.match, spec.autoApprove)
 * and feed ingestion (a ThreatFeed's confidence expression): compile once, evaluate per
 * indicator, record or action. It imports only lib/, so feeds/ and policies/ can both
 * use it without importing each other. README.md in this folder lists the variables, helpers and limits.
 */
export { compileCel, evaluateBool, type CelProgram } from './compile.js';
export { CelCache } from './cache.js';
export { CelCompileError, type CelCompileReason } from './errors.js';
export { celEnvironment, celVariables, type CelKind } from './environment.js';
export {
  actionActivation,
  indicatorActivation,
  workloadActivation,
  ActionView,
  BlastRadiusView,
  IndicatorView,
  CelWorkload,
  CelExposurePath,
  EMPTY_WORKLOAD,
  INDICATOR_FIELDS,
  WORKLOAD_FIELDS,
  EXPOSURE_PATH_FIELDS,
  ACTION_FIELDS,
  BLAST_RADIUS_FIELDS,
  type ActionFacts,
  type BlastRadiusFacts,
  type ExposurePathFacts,
  type IndicatorFacts,
  type WorkloadFacts,
} from './activation.js';
export { CelCidr, CelIp, parseCelIp, parseCidrKeepingAddress } from './net.js';
export { CelUrl } from './url.js';
export { regexProblem, MAX_REGEX_LENGTH } from './regex.js';
export {
  ASSUMED_INPUT_BOUNDS,
  CEL_PARSE_LIMITS,
  MAX_ESTIMATED_COST,
  MAX_SOURCE_LENGTH,
} from './limits.js';
