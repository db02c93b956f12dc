// vitest global setup of the opt-in ecosystem scenario (test/e2e/ecosystem.config.ts): the e2e
// toolchain as for every e2e file, then Prometheus and KEDA (built when missing, long cold).
import e2eSetup from '../global-setup.js';
import { existingClusterKubeconfig } from '../cluster.js';
import { ensureEcosystemTools, kedaModuleDir } from './tools.js';

export default function setup(): void {
  e2eSetup();
  if (existingClusterKubeconfig()) throw new Error('the ecosystem scenario runs Prometheus and KEDA on the harness\'s own cluster only (they reach its node addresses), not on a kubeconfig\'s');
  const tools = ensureEcosystemTools();
  console.log(`[ecosystem] prometheus ${tools.prometheus}, keda ${tools.kedaOperator} and ${tools.kedaAdapter}, KEDA's manifests in ${kedaModuleDir()}`);
}
