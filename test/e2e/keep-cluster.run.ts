// Starts the real-node cluster and keeps it until /tmp/rmesh-e2e-keep/stop exists: to point kubeconfig
// mode (or kubectl) at it. Not a test; run it by its own config:
//   npx vitest run --config test/e2e/keep-cluster.config.ts &
//   . /tmp/rmesh-e2e-keep/env          # once it exists: RMESH_E2E_KUBECONFIG, _IMAGE, _NEXT_IMAGE, _VALUES
//   npx vitest run --project e2e test/e2e/real-cluster.test.ts
//   touch /tmp/rmesh-e2e-keep/stop     # the cluster stops and is removed
// A run killed instead leaves the cluster to the next start's reaper.
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'vitest';
import { chartValuesFile } from './harness/chart.js';
import { startRealCluster } from './harness/real/cluster.js';

const dir = '/tmp/rmesh-e2e-keep';

it('keeps a real-node cluster until /tmp/rmesh-e2e-keep/stop exists', async () => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const cluster = await startRealCluster({ nodes: 3 });
  try {
    writeFileSync(join(dir, 'env'), [
      `export RMESH_E2E_KUBECONFIG=${cluster.kubeconfigPath}`,
      `export RMESH_E2E_IMAGE=${cluster.image}`,
      `export RMESH_E2E_NEXT_IMAGE=${cluster.nextImage}`,
      // The image as imported (never pulled) and the API server's own address for the operator.
      `export RMESH_E2E_VALUES=${chartValuesFile(cluster.image, 'Never', cluster.apiServer)}`,
      '',
    ].join('\n'));
    console.log(`[keep-cluster] running; its environment is in ${dir}/env; touch ${dir}/stop to end it`);
    while (!existsSync(join(dir, 'stop'))) await new Promise((r) => setTimeout(r, 2000));
  } finally {
    await cluster.stop();
  }
});
