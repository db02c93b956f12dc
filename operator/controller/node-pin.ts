// How the operator pins a reflector to the node it chose (ExternalIP placement, node-choice.ts): a
// required node affinity on the node's name (matchFields metadata.name), as the DaemonSet controller
// does, instead of spec.nodeName. The scheduler still binds the pod, so its checks (resources, host
// ports, taints, preemption) and its events apply, and an unplaceable pod says why in PodScheduled.
import type { V1Pod } from '@kubernetes/client-node';

const NODE_NAME_FIELD = 'metadata.name';

/** Adds the required affinity to `node` to a pod, keeping the affinity it has (the pod anti-affinity). */
export function pinToNode(pod: V1Pod, node: string): void {
  const spec = pod.spec!;
  spec.affinity = {
    ...spec.affinity,
    nodeAffinity: {
      ...spec.affinity?.nodeAffinity,
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: NODE_NAME_FIELD, operator: 'In', values: [node] }] }],
      },
    },
  };
}

/**
 * The node a pod runs on or is pinned to: spec.nodeName once the scheduler bound it, else the node its
 * affinity names (so a pod still Pending counts as taking its node when the next one is placed).
 */
export function nodeOf(pod: V1Pod): string | undefined {
  if (pod.spec?.nodeName) return pod.spec.nodeName;
  const terms = pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
  for (const term of terms) {
    const field = term.matchFields?.find((f) => f.key === NODE_NAME_FIELD && f.operator === 'In' && f.values?.length === 1);
    if (field) return field.values![0];
  }
  return undefined;
}
