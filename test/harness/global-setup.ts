import type { TestProject } from 'vitest/node';
import { ENVTEST_ASSETS_ENV, buildEnvtestAssets } from './envtest-assets.js';
import { GITEA_BINARY_ENV, buildGitea } from './gitea-server.js';
import { KEYCLOAK_HOME_ENV, fetchKeycloak } from './keycloak-server.js';
import { PROMETHEUS_DIR_ENV, buildPrometheus } from './prometheus.js';
import { SCIM_VENV_ENV, installScimServer } from './scim-server.js';

/**
 * vitest globalSetup for the integration project: builds the control-plane
 * binaries, the Gitea forge and Prometheus (promtool and the server), installs the
 * SCIM server and fetches Keycloak, once (or takes them from the cache), before any
 * worker starts.
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

  // After the control plane, not beside it: both cold builds want both CPUs.
  const giteaBinary = await buildGitea();
  project.provide('giteaBinary', giteaBinary);
  process.env[GITEA_BINARY_ENV] = giteaBinary;

  // The SCIM 2.0 server (scim2-server from PyPI, pinned with hashes) in a cached venv.
  process.env[SCIM_VENV_ENV] = await installScimServer();

  // Keycloak (keycloak-quarkus-dist from Maven Central), fetched and pre-built once.
  const keycloakHome = await fetchKeycloak();
  project.provide('keycloakHome', keycloakHome);
  process.env[KEYCLOAK_HOME_ENV] = keycloakHome;

  // promtool and prometheus, built from the Prometheus Go module, for the alert tests.
  process.env[PROMETHEUS_DIR_ENV] = await buildPrometheus();
}
