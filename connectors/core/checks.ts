/** The checks every renderer makes before its own: action type, params, scope. */
import { checkParams } from './params.js';
import { checkSelector } from './selectors.js';
import type { Renderer } from './types.js';
import type { ActionRequest } from '../../crds/index.js';

const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function checkRequest(
  renderer: Pick<Renderer, 'id' | 'supports' | 'params'>,
  request: ActionRequest,
): string[] {
  const problems: string[] = [];
  // The name becomes part of object names, label values and comments in rendered files.
  if (request.name.length > 253 || !OBJECT_NAME.test(request.name))
    problems.push(`name is not a valid object name: "${request.name}"`);
  if (
    request.policy !== undefined &&
    (request.policy.length > 253 || !OBJECT_NAME.test(request.policy))
  )
    problems.push(`policy is not a valid object name: "${request.policy}"`);
  if (!renderer.supports.includes(request.type)) {
    problems.push(
      `type ${request.type} is not enforced by ${renderer.id} (it enforces ${renderer.supports.join(', ')})`,
    );
  }
  problems.push(...checkParams(request.params ?? {}, renderer.params, request.type));
  problems.push(...checkSelector(request.scope.namespaceSelector, 'scope.namespaceSelector'));
  problems.push(...checkSelector(request.scope.workloadSelector, 'scope.workloadSelector'));
  request.scope.namespaces.forEach((namespace, i) => {
    if (namespace.length > 63 || !NAMESPACE_NAME.test(namespace))
      problems.push(`scope.namespaces[${i}] is not a namespace name: "${namespace}"`);
  });
  return problems;
}

/** The namespace a namespaced param names, or a problem; shared by the DNS connectors. */
export function checkNamespaceParam(value: unknown, path: string): string[] {
  return typeof value === 'string' && (value.length > 63 || !NAMESPACE_NAME.test(value))
    ? [`${path} is not a namespace name: "${value}"`]
    : [];
}
