// The mesh's PodDisruptionBudget `<mesh>-reflectors` (policy/v1): what lets `kubectl drain`,
// cluster-autoscaler and Karpenter evict reflectors one at a time (spec.disruption.maxUnavailable).
// Owned by the mesh, so the garbage collector deletes it with the mesh. Writing it is an action of the
// disruption phase (phases/disruption.ts); observe reads it from the operator's cache.
//
// The budget is written as minAvailable = desired - maxUnavailable, resolved by the operator, not as
// maxUnavailable: for maxUnavailable (or a percentage) the disruption controller reads the expected
// count from the owner's scale subresource, and a ReflectorMesh in Model mode has no spec.replicas
// (the scale says 0), which would let every reflector go at once. An integer minAvailable is judged
// against the pods themselves.
import type { V1PodDisruptionBudget } from '@kubernetes/client-node';
import { API_VERSION, KIND, type ReflectorMesh, type ReflectorMeshSpec } from '../api/v1alpha1/index.js';
import { APP_NAME, COMPONENT, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_MESH, LABEL_NAME, MANAGER } from './labels.js';

export function disruptionBudgetName(mesh: ReflectorMesh): string {
  return `${mesh.metadata.name}-reflectors`;
}

/** spec.disruption.maxUnavailable as a count of `replicas`, rounded up as Kubernetes rounds it (at least 1). */
export function maxUnavailableOf(spec: ReflectorMeshSpec, replicas: number): number {
  const value = spec.disruption.maxUnavailable;
  const count = typeof value === 'number' ? value : Math.ceil((Number.parseInt(value, 10) * replicas) / 100);
  return Math.max(1, count);
}

/** The budget for a mesh of `replicas` desired reflectors. */
export function buildDisruptionBudget(mesh: ReflectorMesh, spec: ReflectorMeshSpec, replicas: number): V1PodDisruptionBudget {
  const name = mesh.metadata.name;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: {
      name: disruptionBudgetName(mesh),
      namespace: mesh.metadata.namespace,
      labels: { [LABEL_NAME]: APP_NAME, [LABEL_INSTANCE]: name, [LABEL_MANAGED_BY]: MANAGER, [LABEL_MESH]: name },
      ownerReferences: [{ apiVersion: API_VERSION, kind: KIND, name, uid: mesh.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: {
      minAvailable: Math.max(0, replicas - maxUnavailableOf(spec, replicas)),
      selector: { matchLabels: { [LABEL_COMPONENT]: COMPONENT, [LABEL_MESH]: name } },
      // A reflector that is not Ready serves no one: evicting it costs nothing, and a drain must not
      // wait forever on a crash-looping pod (the default, IfHealthyBudget, would make it).
      unhealthyPodEvictionPolicy: 'AlwaysAllow',
    },
  };
}
