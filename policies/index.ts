/**
 * The policy engine's public surface: CEL, matching, scope, blast radius and the
 * approval decision, with no Kubernetes I/O. The controller and `forestall plan` both
 * call evaluatePolicy, so they agree on every action.
 */
export * from './types.js';
export * from './engine.js';
export * from './inventory.js';
export * from './selector.js';
export * from './cel/index.js';
