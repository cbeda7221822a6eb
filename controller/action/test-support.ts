import type { ExposurePolicy } from '../../crds/index.js';

/** The live ExposurePolicy `deny` of the action tests. */
export const livePolicy = {
  apiVersion: 'forestall.io/v1alpha1',
  kind: 'ExposurePolicy',
  metadata: { name: 'deny', uid: 'uid-live' },
  spec: {},
} as unknown as ExposurePolicy;

/** The ownerReference the policy reconciler sets on the actions `deny` makes, with `over` changed. */
export function ownedByPolicy(over: object = {}) {
  return {
    apiVersion: livePolicy.apiVersion!,
    kind: livePolicy.kind!,
    name: livePolicy.metadata.name!,
    uid: livePolicy.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
    ...over,
  };
}
