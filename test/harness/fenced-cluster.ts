import type { KubernetesObject } from '@kubernetes/client-node';
import { KubeClient } from '../../controller/runtime/client.js';
import { ControlPlane } from './control-plane.js';
import { installLoopbackFence } from './feed-server.js';
import { namespace } from './objects.js';

/**
 * The start of an integration test that runs the real controllers against a real API
 * server: the loopback fence first (every socket the test and the controllers open is
 * checked), a control plane with the third-party CRDs installed (NetworkPolicy
 * alternatives, Gateway API, Trivy), a client, and the namespaces applied (by name, or
 * as a manifest with labels; one that exists already is fine). Stop with stopFenced.
 *
 * When the start fails, the control plane is stopped and the fence removed before the
 * error is thrown, so a failed start leaves no process or patched socket behind.
 */
export async function startFencedCluster(
  namespaces: readonly (string | KubernetesObject)[],
  options: { thirdPartyCrds?: boolean } = {},
) {
  const fence = installLoopbackFence();
  let cp: ControlPlane | undefined;
  try {
    cp = await ControlPlane.start();
    if (options.thirdPartyCrds ?? true) await cp.installThirdPartyCrds();
    const kc = cp.kubeConfig();
    const client = new KubeClient(kc);
    for (const ns of namespaces)
      await client.apply(typeof ns === 'string' ? namespace(ns) : ns).catch(() => undefined);
    return { fence, cp, kc, client };
  } catch (err) {
    await cp?.stop();
    fence.uninstall();
    throw err;
  }
}
