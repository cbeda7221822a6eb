/** The public surface of crds/: the generated types, the shared domain types, the kind catalogue and offline validation. */
export * from './generated/types.js';
export * from './domain.js';
export {
  KINDS,
  FEED_FORMATS,
  MIN_REFRESH_INTERVAL,
  POLICY_MODES,
  ACTION_TYPES,
  ACTION_PHASES,
  TERMINAL_PHASES,
  ENDED_PHASES,
  LAYERS,
  EXCEPTION_PHASES,
  BROAD_LIMITS,
  CATEGORY,
} from './schema/index.js';
export {
  validateObject,
  withSchemaDefaults,
  formatIssues,
  type ValidationIssue,
  type ValidationResult,
  type ForestallObject,
} from './validate.js';
export { parseDuration } from './duration.js';
