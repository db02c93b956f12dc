// The config of the opt-in ecosystem scenario (test/e2e/*.ecosystem.ts: Prometheus and KEDA built from
// their Go modules), which the e2e project of vitest.config.ts does not include: their cold build is
// longer than CI's budget (docs/testing.md "Prometheus and KEDA"). Run it with `npm run test:ecosystem`.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/e2e/*.ecosystem.ts'],
    // The e2e toolchain as for every e2e file, then Prometheus, keda-operator and keda-adapter.
    globalSetup: ['test/e2e/harness/ecosystem/global-setup.ts'],
    testTimeout: 1_200_000,
    hookTimeout: 1_800_000,
    fileParallelism: false,
  },
});
