// vitest global setup of the opt-in ecosystem scenario (test/e2e/ecosystem.config.ts): the e2e
// toolchain as for every e2e file, then Prometheus and KEDA (built when missing, long cold).
import e2eSetup from '../global-setup.js';
import { existingClusterKubeconfig } from '../cluster.js';
import { ensureEcosystemTools, kedaModuleDir } from './tools.js';

export default async function setup(): Promise<(() => void) | undefined> {
  if (existingClusterKubeconfig()) throw new Error('the ecosystem scenario runs Prometheus and KEDA on the harness\'s own cluster only (they reach its node addresses), not on a kubeconfig\'s');
  // The e2e toolchain and images start building in the background; build.sh builds these after them.
  const stopPreparation = e2eSetup();
  const tools = await ensureEcosystemTools();
  console.log(`[ecosystem] prometheus ${tools.prometheus}, keda ${tools.kedaOperator} and ${tools.kedaAdapter}, KEDA's manifests in ${kedaModuleDir()}`);
  return stopPreparation;
}
