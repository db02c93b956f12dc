// The simulator's pure decisions, without a cluster: where the scheduler puts a pod, and how the
// kubelet resolves a container's environment and command line. The same code is exercised against a
// real API server in simulator.test.ts.
import { describe, expect, it } from 'vitest';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { choosePlacement } from './harness/scheduling.js';
import { ContainerConfigError, containerArgv, expand, resolveEnv, type EnvSources } from './harness/container-env.js';

const node = (name: string, extra: { labels?: Record<string, string>; taints?: V1Node['spec'] extends infer S ? S extends { taints?: infer T } ? T : never : never; ready?: boolean } = {}): V1Node => ({
  metadata: { name, labels: { 'kubernetes.io/hostname': name, ...extra.labels } },
  spec: { taints: extra.taints },
  status: { conditions: [{ type: 'Ready', status: extra.ready === false ? 'False' : 'True' }] },
});

const reflector = (name: string, mesh: string, nodeName?: string, extra: Partial<NonNullable<V1Pod['spec']>> = {}): V1Pod => ({
  metadata: { name, namespace: 'default', uid: name, labels: { 'rmesh.io/mesh': mesh } },
  spec: {
    nodeName,
    hostNetwork: true,
    containers: [{ name: 'reflector', ports: [{ containerPort: 30000 + mesh.length, protocol: 'UDP' }] }],
    affinity: {
      podAntiAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'rmesh.io/mesh': mesh } } },
        ],
      },
    },
    ...extra,
  },
  status: { phase: nodeName ? 'Running' : 'Pending' },
});

describe('scheduling', () => {
  const nodes = [node('n1'), node('n2'), node('n3')];

  it('puts at most one reflector of a mesh on a node, spreading by load', () => {
    const pods = [reflector('a-0', 'a', 'n1'), reflector('b-0', 'bb', 'n2')];
    expect(choosePlacement(reflector('a-1', 'a'), nodes, pods)).toEqual({ node: 'n3' });
    const full = [...pods, reflector('a-1', 'a', 'n2'), reflector('a-2', 'a', 'n3')];
    // Same mesh, same host ports: the port filter speaks first, as in kube-scheduler's filter order.
    expect(choosePlacement(reflector('a-3', 'a'), nodes, full)).toEqual({
      unschedulable: "0/3 nodes are available: 3 node(s) didn't have free ports for the requested pod ports.",
    });
    const noPorts = (p: V1Pod): V1Pod => ({ ...p, spec: { ...p.spec, hostNetwork: false, containers: [{ name: 'reflector' }] } });
    expect(choosePlacement(noPorts(reflector('a-3', 'a')), nodes, full.map(noPorts))).toEqual({
      unschedulable: "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules.",
    });
  });

  it('frees a place when a reflector has finished, not while it terminates', () => {
    const failed = { ...reflector('a-0', 'a', 'n1'), status: { phase: 'Failed' } };
    const others = [reflector('a-1', 'a', 'n2'), reflector('a-2', 'a', 'n3')];
    expect(choosePlacement(reflector('a-3', 'a'), nodes, [failed, ...others])).toEqual({ node: 'n1' });
    const terminating = { ...reflector('a-0', 'a', 'n1'), metadata: { ...reflector('a-0', 'a').metadata, deletionTimestamp: new Date() } };
    expect(choosePlacement(reflector('a-3', 'a'), nodes, [terminating, ...others])).toHaveProperty('unschedulable');
  });

  it('honours nodeSelector, taints and tolerations, readiness and host ports', () => {
    const special = [node('plain'), node('media', { labels: { role: 'media' }, taints: [{ key: 'dedicated', value: 'media', effect: 'NoSchedule' }] }), node('down', { ready: false })];
    const selected = reflector('x', 'x', undefined, { nodeSelector: { role: 'media' } });
    expect(choosePlacement(selected, special, [])).toHaveProperty('unschedulable');
    expect((choosePlacement(selected, special, []) as { unschedulable: string }).unschedulable).toContain('untolerated taint {dedicated: media}');
    const tolerant = reflector('y', 'y', undefined, { nodeSelector: { role: 'media' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'media', effect: 'NoSchedule' }] });
    expect(choosePlacement(tolerant, special, [])).toEqual({ node: 'media' });
    // Another mesh with the same data port on the host network cannot share a node.
    const samePort = reflector('z', 'z', undefined, { affinity: {} });
    expect(choosePlacement(samePort, [node('plain')], [reflector('w', 'w', 'plain', { affinity: {} })])).toEqual({
      unschedulable: "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.",
    });
  });
});

describe('container environment', () => {
  const pod: V1Pod = {
    metadata: { name: 'rm-0', namespace: 'media', uid: 'u1', labels: { 'rmesh.io/mesh': 'demo' } },
    spec: {
      nodeName: 'n1',
      containers: [
        {
          name: 'reflector',
          args: ['reflector', '--id', '$(RMESH_ID)', '--literal', '$$(RMESH_ID)', '--unknown', '$(NOPE)'],
          env: [
            { name: 'RMESH_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'RMESH_ADDRESS', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
            { name: 'MESH', valueFrom: { fieldRef: { fieldPath: "metadata.labels['rmesh.io/mesh']" } } },
            { name: 'RMESH_ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: 'demo-admin', key: 'token' } } },
            { name: 'RMESH_JOIN', value: '$(RMESH_ADDRESS):30001' },
          ],
        },
      ],
    },
  };
  const sources = (secrets: Record<string, Record<string, string>>): EnvSources => ({
    secret: (_ns, name) =>
      Promise.resolve(
        secrets[name] ? { data: Object.fromEntries(Object.entries(secrets[name]).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) } : undefined,
      ),
    configMap: () => Promise.resolve(undefined),
  });

  it('resolves values, fieldRefs and secretKeyRefs, then expands $(VAR) in values and args', async () => {
    const container = pod.spec?.containers[0];
    if (!container) throw new Error('no container');
    const env = await resolveEnv(pod, container, '127.0.3.11', sources({ 'demo-admin': { token: 'hunter2' } }));
    expect(Object.fromEntries(env)).toEqual({
      RMESH_ID: 'rm-0',
      RMESH_ADDRESS: '127.0.3.11',
      MESH: 'demo',
      RMESH_ADMIN_TOKEN: 'hunter2',
      RMESH_JOIN: '127.0.3.11:30001',
    });
    const argv = containerArgv(container, env, ['rmesh'], { rmesh: ['/usr/bin/node', 'dist/cli/rmesh.js'] });
    expect(argv).toEqual(['/usr/bin/node', 'dist/cli/rmesh.js', 'reflector', '--id', 'rm-0', '--literal', '$(RMESH_ID)', '--unknown', '$(NOPE)']);
  });

  it('fails like the kubelet when a referenced secret or key is missing', async () => {
    const container = pod.spec?.containers[0];
    if (!container) throw new Error('no container');
    await expect(resolveEnv(pod, container, '127.0.3.11', sources({}))).rejects.toThrow(new ContainerConfigError('secret "demo-admin" not found'));
    await expect(resolveEnv(pod, container, '127.0.3.11', sources({ 'demo-admin': {} }))).rejects.toThrow(
      'couldn\'t find key token in Secret media/demo-admin',
    );
  });

  it('expands only defined names and unescapes $$', () => {
    const vars = new Map([['A', 'x']]);
    expect(expand('$(A)-$(B)-$$(A)-$$', vars)).toBe('x-$(B)-$(A)-$');
  });
});
