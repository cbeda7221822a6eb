/**
 * The policy engine's public surface: CEL, matching, scope, blast radius and the
 * approval decision, with no Kubernetes I/O. The controller and `forestall plan` both
 * call evaluatePolicy, so they agree on every action. The inventory (namespaces,
 * workloads, their exposure and current vulnerabilities) is read from plain objects by
 * inventoryFromObjects and exposureFromObjects.
 */
export * from './types.js';
export * from './engine.js';
export * from './inventory.js';
export {
  GATEWAY_GROUP,
  INVENTORY_KINDS,
  ROUTE_KINDS,
  type InventoryKind,
} from './inventory-kinds.js';
export * from './workloads.js';
export {
  exposureFromObjects,
  INTERNET_FACING_ANNOTATION,
  INTERNAL_LOAD_BALANCER_ANNOTATIONS,
} from './exposure.js';
export { TRIVY_LABELS } from './vulnerability-reports.js';
export { parseImageRef, sameImage, formatImageRef, type ImageRef } from './image-ref.js';
export { isolateActionName, remediation } from './isolate.js';
export { AROUND_PARAM, AROUND_VALUES } from './around.js';
export * from './selector.js';
export {
  compileException,
  exceptionApplies,
  exceptsIndicator,
  coversScope,
  type CompiledException,
  type ExceptionVerdict,
  type ExceptionUse,
} from './exceptions.js';
export * from './source-confidence.js';
export { earliestTime, publishedAt } from './provenance.js';
