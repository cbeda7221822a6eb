import type { TestProject } from 'vitest/node';
import { ENVTEST_ASSETS_ENV, buildEnvtestAssets } from './envtest-assets.js';

/**
 * vitest globalSetup for the integration project: builds the control-plane
 * binaries once (or takes them from the cache), before any worker starts.
 *
 * A failed build throws, which fails the whole run. Skipping instead would let a
 * machine without the binaries report a green integration suite.
 */
export default async function setup(project: TestProject): Promise<void> {
  const assetsDir = await buildEnvtestAssets();
  project.provide('envtestAssets', assetsDir);
  // Workers are forked after globalSetup and inherit the environment, and so do
  // processes the tests spawn themselves (controller binaries, helm), which
  // cannot call inject().
  process.env[ENVTEST_ASSETS_ENV] = assetsDir;
}
