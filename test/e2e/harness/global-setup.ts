// vitest global setup of the e2e project. vitest runs it when the run starts, before the unit and
// integration projects (the e2e project's files come last: vitest.config.ts's groupOrder). So it does
// not build the toolchain and images itself: it starts test/e2e/toolchain/prepare.sh in the background,
// which builds them while the other projects' tests run, and each e2e file waits for what it needs
// (readyToolchain, and the images in startRealCluster). Against an existing cluster nothing is built;
// with RMESH_E2E_BUILD=0 nothing is built and a missing toolchain fails the run with the one command
// that builds it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { inPrivateNamespaceRun } from '../../support/private-namespace.js';
import { existingClusterKubeconfig } from './cluster.js';
import { findToolchain, projectRoot, toolchainCommand } from './toolchain.js';

export default function setup(): (() => void) | undefined {
  if (!existsSync(join(projectRoot, 'dist/cli/rmesh.js'))) {
    throw new Error('the e2e tests run the built CLI, dist/cli/rmesh.js, which is missing: run `npm run build`');
  }
  const existing = existingClusterKubeconfig();
  if (existing) {
    if (!existsSync(existing)) throw new Error(`the kubeconfig of the existing cluster, ${existing}, does not exist`);
    console.log(`[e2e] running against the existing cluster of ${existing}`);
    return undefined;
  }
  // A file's second run in a private namespace finds what its first run made ready.
  if (inPrivateNamespaceRun()) return undefined;
  if (process.env.RMESH_E2E_BUILD === '0') {
    const { toolchain, missing } = findToolchain();
    if (missing.length > 0) throw new Error(`the e2e toolchain is missing ${missing.join(', ')} in ${toolchain.binDir}: run \`${toolchainCommand}\``);
    return undefined;
  }
  return startPreparation();
}

/** prepare.sh --background, detached; the returned teardown stops it if the run ends before it does. */
function startPreparation(): () => void {
  const child = spawn('bash', [join(projectRoot, 'test/e2e/toolchain/prepare.sh'), '--background'], {
    detached: true,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let running = true;
  child.on('exit', () => (running = false));
  child.on('error', (err) => {
    running = false;
    console.error(`[e2e] could not start test/e2e/toolchain/prepare.sh (${err.message}); each e2e file builds what it needs instead`);
  });
  child.unref();
  return () => {
    if (running && child.pid !== undefined) {
      // Its whole process group: build.sh's go build, images.sh's docker build.
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  };
}
