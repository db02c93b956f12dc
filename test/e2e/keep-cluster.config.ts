// The config that runs test/e2e/keep-cluster.run.ts (which the e2e project does not include).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/e2e/keep-cluster.run.ts'],
    globalSetup: ['test/e2e/harness/global-setup.ts'],
    testTimeout: 24 * 3_600_000,
    hookTimeout: 900_000,
  },
});
