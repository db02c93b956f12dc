// Phase 7: the mesh's PodDisruptionBudget (disruption-budget.ts). Written when missing or when what
// the operator wants of it (its spec, labels and owner) differs from what the cache holds: the desired
// size changed, or spec.disruption did. A budget of that name the mesh does not own is left alone
// and reported. Pure.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { canonical } from '../canonical.js';
import { buildDisruptionBudget } from '../disruption-budget.js';
import type { Pass, PhaseResult } from './pass.js';

/** The parts of a budget the operator sets (the API server adds the rest). */
function managed(pdb: V1PodDisruptionBudget): string {
  const spec = pdb.spec ?? {};
  return canonical({
    spec: { minAvailable: spec.minAvailable, selector: spec.selector, unhealthyPodEvictionPolicy: spec.unhealthyPodEvictionPolicy },
    labels: pdb.metadata?.labels,
    owners: pdb.metadata?.ownerReferences,
  });
}

export function disruptionPhase(pass: Pass, replicas: number): PhaseResult {
  const result: PhaseResult = { actions: [], events: [] };
  const seen = pass.observed.disruptionBudget;
  if (!seen) return result; // not observed this pass (a test scene about something else)
  const { mesh } = pass.observed;
  const desired = buildDisruptionBudget(mesh, pass.spec, replicas);
  const current = seen.current;
  if (!current) {
    result.actions.push({ type: 'writeDisruptionBudget', budget: desired, reason: `creating the mesh's PodDisruptionBudget (minAvailable ${desired.spec!.minAvailable})` });
    return result;
  }
  if (!current.metadata?.ownerReferences?.some((r) => r.uid === mesh.metadata.uid)) {
    const name = `${mesh.metadata.namespace}/${desired.metadata!.name}`;
    result.events.push({
      type: 'Warning',
      reason: 'DisruptionBudgetNotOwned',
      message: `PodDisruptionBudget ${name} exists and is not this mesh's; the operator leaves it as it is (delete or rename it to let the operator manage the reflectors' budget)`,
    });
    return result;
  }
  if (managed(desired) !== managed(current)) {
    // Replaced only if still the version the cache holds: a conflict (409) is retried next pass.
    desired.metadata!.resourceVersion = current.metadata?.resourceVersion;
    result.actions.push({ type: 'writeDisruptionBudget', budget: desired, reason: `updating the mesh's PodDisruptionBudget (minAvailable ${desired.spec!.minAvailable})` });
  }
  return result;
}
