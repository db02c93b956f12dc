// The least RBAC privileges the operator needs, in one place: the generated manifest
// (config/rbac/role.yaml, used by the Helm chart) comes from here, and each rule says why it exists.
import { stringify } from 'yaml';
import { GROUP, PLURAL } from './api/v1alpha1/index.js';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** Cluster-wide (or per watched namespace, when bound with RoleBindings) rules of the controller. */
export const CONTROLLER_RULES: PolicyRule[] = [
  // Meshes: the informer lists and watches them; the operator never writes their spec.
  { apiGroups: [GROUP], resources: [PLURAL], verbs: ['get', 'list', 'watch'] },
  // Status is written through the status subresource only.
  { apiGroups: [GROUP], resources: [`${PLURAL}/status`], verbs: ['get', 'update', 'patch'] },
  // Owner references with blockOwnerDeletion (the pods' and Secrets' to their mesh) need update on the
  // owner's finalizers where the OwnerReferencesPermissionEnforcement admission plugin is on (OpenShift).
  { apiGroups: [GROUP], resources: [`${PLURAL}/finalizers`], verbs: ['update'] },
  // Reflector pods are managed directly, so the operator chooses which one drains and goes.
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch', 'create', 'delete'] },
  // The admin token of a mesh, read by name when the operator calls a reflector's admin API; the mesh
  // key's Secret, read to check it and created when the mesh names none; the key-set Secret the pods
  // mount, updated at each step of a key rotation (and the generated key, on the rotate annotation).
  // list/watch: those are read from informer caches, each limited by a label selector to the operator's
  // own Secrets and those that opted in (informers/secret-cache.ts); get for a Secret not cached.
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch', 'create', 'update'] },
  // ExternalIP placement: the operator picks the node and needs its external address, readiness and
  // taints, from a node informer (list and watch; no per-pass LIST).
  { apiGroups: [''], resources: ['nodes'], verbs: ['list', 'watch'] },
  // The PodDisruptionBudget of each mesh (kubectl drain and node autoscalers take one reflector at a
  // time): watched through an informer, created, and replaced when the mesh's size or
  // spec.disruption changes. Deleted by the garbage collector with the mesh (owner reference).
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['get', 'list', 'watch', 'create', 'update'] },
  // Scaling, draining and failure events on the mesh.
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
];

/** Rules in the namespace of the leader-election Lease. */
export const LEADER_ELECTION_RULES: PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

const LABELS = { 'app.kubernetes.io/name': 'reflector-mesh', 'app.kubernetes.io/component': 'operator' };

export function buildRbac(): Record<string, unknown>[] {
  return [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'reflector-mesh-operator', labels: LABELS },
      rules: CONTROLLER_RULES,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'reflector-mesh-operator-leader-election', labels: LABELS },
      rules: LEADER_ELECTION_RULES,
    },
  ];
}

export function rbacYaml(): string {
  const header = '# Generated from operator/rbac.ts by `npm run generate:manifests`. Do not edit.\n';
  return header + buildRbac().map((doc) => stringify(doc, { lineWidth: 0 })).join('---\n');
}
