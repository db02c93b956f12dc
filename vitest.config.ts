import { defineConfig } from 'vitest/config';

// Three projects: fast unit tests of pure logic, integration tests with real sockets and real
// processes, and end-to-end tests against a real kube-apiserver. Integration and e2e tests start
// `dist/cli/rmesh.js`, so `npm test` builds first (see the pretest script).
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Real processes on a 2-core machine: one file at a time keeps timing honest.
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // Builds kube-apiserver, etcd, kubectl and helm when missing (test/e2e/toolchain/build.sh).
          globalSetup: ['test/e2e/harness/global-setup.ts'],
          testTimeout: 600_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
