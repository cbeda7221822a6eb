export * from './common.js';
export { threatFeed, FEED_FORMATS, MIN_REFRESH_INTERVAL } from './threatfeed.js';
export { exposurePolicy, POLICY_MODES, ACTION_TYPES } from './exposurepolicy.js';
export {
  preemptiveAction,
  ACTION_PHASES,
  TERMINAL_PHASES,
  ENDED_PHASES,
  LAYERS,
} from './preemptiveaction.js';
export { threatException, EXCEPTION_PHASES, BROAD_LIMITS } from './threatexception.js';
import { threatFeed } from './threatfeed.js';
import { exposurePolicy } from './exposurepolicy.js';
import { preemptiveAction } from './preemptiveaction.js';
import { threatException } from './threatexception.js';
import type { KindDefinition } from './common.js';

/** Every kind Forestall serves, in a stable order. */
export const KINDS: readonly KindDefinition[] = [
  threatFeed,
  exposurePolicy,
  preemptiveAction,
  threatException,
];
