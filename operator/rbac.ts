// The least RBAC privileges the operator needs, in one place: the generated manifest
// (config/rbac/role.yaml, used by the Helm chart) comes from here, and each rule says why it exists.
//
// Three sets, by where Kubernetes lets them apply:
// - CONTROLLER_RULES: namespaced objects (meshes, pods, Secrets, events, PDBs). The chart binds them
//   cluster-wide (ClusterRoleBinding) or, with `operator.watchNamespace`, as a Role in that namespace only.
// - CLUSTER_RULES: cluster-scoped objects (nodes). A Role cannot grant them, so they are always a
//   ClusterRole of their own, whatever the watched namespace is.
// - LEADER_ELECTION_RULES: the Lease, in its own namespace only.
import { stringify } from 'yaml';
import { GROUP, PLURAL } from './api/v1alpha1/index.js';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** Rules on namespaced objects: bound in every namespace, or in the one watched namespace. */
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
  // The PodDisruptionBudget of each mesh (kubectl drain and node autoscalers take one reflector at a
  // time): watched through an informer, created, and replaced when the mesh's size or
  // spec.disruption changes. Deleted by the garbage collector with the mesh (owner reference).
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: ['get', 'list', 'watch', 'create', 'update'] },
  // Scaling, draining and failure events on the mesh.
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
];

/** Rules on cluster-scoped objects: always a ClusterRole, even when the operator watches one namespace. */
export const CLUSTER_RULES: PolicyRule[] = [
  // Nodes, read from a node informer (list + watch, get for a single refresh): ExternalIP placement needs
  // a node's external address, and a reflector's node that goes NotReady is noticed from its status.
  { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
];

/** Rules in the namespace of the leader-election Lease. */
export const LEADER_ELECTION_RULES: PolicyRule[] = [
  // The Lease is read, created once, and renewed by the leader; never deleted, never listed.
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

/** Names of the generated documents; the chart picks each set by this name (its rbacRules helper). */
export const RBAC_NAMES = {
  controller: 'reflector-mesh-operator',
  cluster: 'reflector-mesh-operator-cluster',
  leaderElection: 'reflector-mesh-operator-leader-election',
} as const;

const LABELS = { 'app.kubernetes.io/name': 'reflector-mesh', 'app.kubernetes.io/component': 'operator' };

export function buildRbac(): Record<string, unknown>[] {
  const doc = (kind: 'ClusterRole' | 'Role', name: string, rules: PolicyRule[]) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata: { name, labels: LABELS },
    rules,
  });
  return [
    // A ClusterRole here so that one object serves both bindings: a ClusterRoleBinding (every namespace)
    // or a RoleBinding in the watched namespace (the chart renders it as a Role there instead).
    doc('ClusterRole', RBAC_NAMES.controller, CONTROLLER_RULES),
    doc('ClusterRole', RBAC_NAMES.cluster, CLUSTER_RULES),
    doc('Role', RBAC_NAMES.leaderElection, LEADER_ELECTION_RULES),
  ];
}

export function rbacYaml(): string {
  const header = '# Generated from operator/rbac.ts by `npm run generate:manifests`. Do not edit.\n';
  return header + buildRbac().map((doc) => stringify(doc, { lineWidth: 0 })).join('---\n');
}
