import { type TestProjectInlineConfiguration, defineConfig } from 'vitest/config';

// Unit and integration tests run as separate projects (STYLE.md, vitest anchor).
// Integration files each start their own real control plane, so they run one file
// at a time on this 2-core machine; the control-plane binaries are built (or taken
// from the cache) once in globalSetup.
// The real node (test/node/) with the chart installed from the locally built image:
// `npm run test:e2e`, as root, which sets FORESTALL_E2E=1. Without it the project does
// not exist, so a plain `vitest run` (npm test) never starts a node: there is one per
// machine, and it needs root.
const e2e: TestProjectInlineConfiguration = {
  test: {
    name: 'e2e',
    include: ['test/e2e/**/*.test.ts'],
    environment: 'node',
    globalSetup: ['test/e2e/global-setup.ts'],
    // One file at a time, each against the same node.
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    // A cold build of the node and the image takes tens of minutes (globalSetup).
    testTimeout: 600_000,
    hookTimeout: 600_000,
  },
};

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            '{lib,cel,cli,controller,crds,feeds,policies,connectors,delivery,notify,report,bench,test/harness,test/openapi,test/image,test/docs}/**/*.test.ts',
          ],
          environment: 'node',
          // Some unit tests parse real feeds (IPsum's 120k lines) or run the CLI as a
          // process; on 2 loaded cores they take seconds. A timeout is a hang detector
          // here, never a performance check (performance lives in bench/).
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/harness/global-setup.ts'],
          // One fork runs the files one after another: each starts its own control plane.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      ...(process.env.FORESTALL_E2E === '1' ? [e2e] : []),
    ],
  },
});
