// The chart's RBAC, rendered by helm in both modes: the rules are exactly the operator's generated ones
// (config/rbac/role.yaml, from operator/rbac.ts), the namespaced ones cluster-wide or as a Role in the one
// watched namespace, and the cluster-scoped ones (nodes) always in a ClusterRole of their own.
import { describe, expect, it } from 'vitest';
import { find, generatedRules, kubeconform, parseManifests, template, toolsForTests, type KubeObject } from './tools.js';

const ready = toolsForTests();

type Role = KubeObject & { rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[] };
type Binding = KubeObject & { roleRef: { kind: string; name: string }; subjects: { kind: string; name: string; namespace: string }[] };

const SUBJECT = { kind: 'ServiceAccount', name: 'rm-reflector-mesh', namespace: 'rmesh-system' };

/** The rendered objects, checked valid by kubeconform first. */
function render(sets: Record<string, string | number | boolean>): KubeObject[] {
  const rendered = template(ready.tools, sets);
  const result = kubeconform(ready.tools, ready.schemas, rendered);
  expect(result.invalid, result.output).toEqual([]);
  return parseManifests(rendered);
}

function resources(role: Role): string[] {
  return role.rules.flatMap((r) => r.resources);
}

/** Asserts the nodes ClusterRole and its binding, the same in both modes. */
function expectClusterRules(objects: KubeObject[]): void {
  const role = find(objects, 'ClusterRole', 'rm-reflector-mesh-cluster') as Role;
  expect(role.rules).toEqual(generatedRules('reflector-mesh-operator-cluster'));
  // The node informer lists and watches nodes; a Role could not grant that.
  expect(role.rules).toContainEqual({ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] });
  const binding = find(objects, 'ClusterRoleBinding', 'rm-reflector-mesh-cluster') as Binding;
  expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'rm-reflector-mesh-cluster' });
  expect(binding.subjects).toEqual([SUBJECT]);
}

describe('the chart\'s RBAC', () => {
  it('every namespace: the namespaced rules in a ClusterRole bound cluster-wide, nodes in a ClusterRole of their own', () => {
    const objects = render({});
    const role = find(objects, 'ClusterRole', 'rm-reflector-mesh') as Role;
    expect(role.rules).toEqual(generatedRules('reflector-mesh-operator'));
    expect(resources(role)).toEqual(expect.arrayContaining(['pods', 'secrets', 'events', 'reflectormeshes', 'poddisruptionbudgets']));
    expect(resources(role)).not.toContain('nodes');
    const binding = find(objects, 'ClusterRoleBinding', 'rm-reflector-mesh') as Binding;
    expect(binding.roleRef.name).toBe('rm-reflector-mesh');
    expect(binding.subjects).toEqual([SUBJECT]);
    expectClusterRules(objects);
    // Nothing namespaced is a Role but the Lease's (leader election is on by default).
    expect(objects.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding').map((o) => `${o.kind}/${o.metadata.name}`).sort())
      .toEqual(['Role/rm-reflector-mesh-leader-election', 'RoleBinding/rm-reflector-mesh-leader-election']);
  });

  it('one watched namespace: the namespaced rules (Secrets included) only as a Role there; nodes still in a ClusterRole', () => {
    const objects = render({ 'operator.watchNamespace': 'media' });
    const role = find(objects, 'Role', 'rm-reflector-mesh') as Role;
    expect(role.metadata.namespace).toBe('media');
    expect(role.rules).toEqual(generatedRules('reflector-mesh-operator'));
    expect(resources(role)).toContain('secrets');
    const binding = find(objects, 'RoleBinding', 'rm-reflector-mesh') as Binding;
    expect(binding.metadata.namespace).toBe('media');
    expect(binding.roleRef).toMatchObject({ kind: 'Role', name: 'rm-reflector-mesh' });
    expect(binding.subjects).toEqual([SUBJECT]);
    // Cluster-wide: only the cluster-scoped rules, never pods or Secrets.
    const clusterWide = objects.filter((o) => o.kind === 'ClusterRole') as Role[];
    expect(clusterWide.map((r) => r.metadata.name)).toEqual(['rm-reflector-mesh-cluster']);
    expect(clusterWide.flatMap(resources)).toEqual(['nodes']);
    expect(objects.filter((o) => o.kind === 'ClusterRoleBinding').map((o) => o.metadata.name)).toEqual(['rm-reflector-mesh-cluster']);
    expectClusterRules(objects);
  });

  it('leader election adds the Lease Role in the Lease\'s namespace, in both modes', () => {
    const modes: Record<string, string | number>[] = [{ 'operator.replicas': 2 }, { 'operator.replicas': 2, 'operator.watchNamespace': 'media' }];
    for (const sets of modes) {
      const objects = render(sets);
      const role = find(objects, 'Role', 'rm-reflector-mesh-leader-election') as Role;
      expect(role.metadata.namespace).toBe('rmesh-system');
      expect(role.rules).toEqual(generatedRules('reflector-mesh-operator-leader-election'));
      expectClusterRules(objects);
    }
  });

  it('rbac.create=false renders no RBAC object', () => {
    const objects = render({ 'rbac.create': false });
    expect(objects.filter((o) => o.apiVersion.startsWith('rbac.authorization.k8s.io'))).toEqual([]);
  });
});
