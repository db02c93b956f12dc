// vitest global setup of the e2e project: makes sure the toolchain is there before any e2e test runs.
// It builds what is missing (a cold build takes a while, with progress; a cached check seconds), so
// `npm test` on a fresh machine runs the e2e suite instead of skipping it. RMESH_E2E_BUILD=0 refuses
// to build and fails with the one command that does. Against an existing cluster nothing is built.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { existingClusterKubeconfig } from './cluster.js';
import { ensureToolchain, findToolchain, projectRoot, toolchainCommand } from './toolchain.js';

export default function setup(): void {
  if (!existsSync(join(projectRoot, 'dist/cli/rmesh.js'))) {
    throw new Error('the e2e tests run the built CLI, dist/cli/rmesh.js, which is missing: run `npm run build`');
  }
  const existing = existingClusterKubeconfig();
  if (existing) {
    if (!existsSync(existing)) throw new Error(`the kubeconfig of the existing cluster, ${existing}, does not exist`);
    console.log(`[e2e] running against the existing cluster of ${existing}`);
    return;
  }
  const { toolchain, missing } = findToolchain();
  if (missing.length > 0) {
    if (process.env.RMESH_E2E_BUILD === '0') {
      throw new Error(`the e2e toolchain is missing ${missing.join(', ')} in ${toolchain.binDir}: run \`${toolchainCommand}\``);
    }
    console.log(
      `[e2e] ${missing.join(', ')} missing in ${toolchain.binDir}: building them from source now ` +
        `(\`${toolchainCommand}\` does the same ahead of time)`,
    );
  }
  const ready = ensureToolchain();
  console.log(`[e2e] toolchain: ${ready.binDir} (Kubernetes ${ready.versions.K8S_VERSION}, etcd ${ready.versions.ETCD_VERSION}, helm ${ready.versions.HELM_VERSION})`);
}
