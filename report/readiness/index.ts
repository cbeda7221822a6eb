/** The public surface of report/readiness/: scoring and the three renderings. */
export {
  assessReadiness,
  EARLY_TACTICS,
  LEVELS,
  READINESS_LAYERS,
  TIME_TO_ENFORCE_P90_BOUND_SECONDS,
  type LayerState,
  type LevelAssessment,
  type LevelNumber,
  type Readiness,
  type ReadinessLayer,
} from './score.js';
export { readinessHtml, readinessJson, readinessText } from './render.js';
