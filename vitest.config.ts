import { defineConfig } from 'vitest/config';

// Three projects: fast unit tests of pure logic, integration tests with real sockets and real
// processes, and end-to-end tests against a real kube-apiserver. Integration and e2e tests start
// `dist/cli/rmesh.js`, so `npm test` builds first (see the pretest script). They run in that order
// (sequence.groupOrder): the e2e toolchain and images build in the background meanwhile (the e2e
// project's global setup starts test/e2e/toolchain/prepare.sh), so a cold machine's e2e files wait for
// them for less time, or not at all.
export default defineConfig({
  test: {
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000, sequence: { groupOrder: 1 } } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          // Real processes on a 2-core machine: one file at a time keeps timing honest.
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          // Starts building the toolchain (kube-apiserver, etcd, kubectl, helm, kubelet, ...) and the
          // cluster's images in the background; each file waits for what it needs.
          globalSetup: ['test/e2e/harness/global-setup.ts'],
          testTimeout: 600_000,
          hookTimeout: 900_000,
          fileParallelism: false,
          sequence: { groupOrder: 3 },
        },
      },
    ],
  },
});
