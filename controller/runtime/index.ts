/** The controller runtime: no domain code lives here (STYLE.md). */
export { realClock, FakeClock, type Clock, type Timer } from './clock.js';
export { WorkQueue, type QueueObserver } from './queue.js';
export { ExponentialRateLimiter, type RateLimiter } from './rate-limiter.js';
export { Informer, objectKey, type InformerOptions } from './informer.js';
export {
  Controller,
  type Reconciler,
  type Request,
  type Result,
  type ControllerOptions,
} from './controller.js';
export { Manager, type ManagerOptions, type Runnable } from './manager.js';
export { createManager, type ManagerWiring } from './wiring.js';
export {
  managedBy,
  ControllerBuilder,
  type ControllerDefaults,
  type ControllerSink,
} from './builder.js';
export { LeaderElector, type LeaderElectionOptions } from './leader-election.js';
export { KubeClient, ApiError, FIELD_MANAGER, type ListResult } from './client.js';
export { KubeEventRecorder, noEvents, type EventRecorder, type EventType } from './events.js';
export { Metrics } from './metrics.js';
export {
  setCondition,
  findCondition,
  isTrue,
  rfc3339,
  type Condition,
  type ConditionInput,
} from './conditions.js';
export {
  FINALIZER,
  hasFinalizer,
  isDeleting,
  withFinalizer,
  withoutFinalizer,
} from './finalizers.js';
export {
  ForestallError,
  ControllerError,
  codeOf,
  ERROR_CODES,
  classify,
  terminal,
  redact,
  fromKube,
  statusOf,
  messageOf,
  type ErrorCode,
  type ErrorClass,
} from './errors.js';
export { createLogger, type Logger } from './logger.js';
export { serve, parseBind, boundPort } from './health.js';
