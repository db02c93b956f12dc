// ExternalIP placement: the operator's choice of node mirrors the scheduler's filters that reflector
// placement relies on, and says why when no node fits.
import { describe, expect, it } from 'vitest';
import { resolveSpec, type ReflectorMeshSpec } from '../../../operator/api/v1alpha1/index.js';
import type { NodeView } from '../../../operator/controller/observed.js';
import { chooseNode } from '../../../operator/controller/node-choice.js';
import { pod } from './fixtures.js';

const node = (name: string, over: Partial<NodeView> = {}): NodeView => ({
  name,
  ready: true,
  unschedulable: false,
  labels: {},
  taints: [],
  externalIP: `198.51.100.${name.slice(-1)}`,
  ...over,
});

const spec = (placement: Record<string, unknown> = {}): ReflectorMeshSpec =>
  resolveSpec({ replicas: 1, placement: { addressType: 'ExternalIP', ...placement } }).spec;

describe('chooseNode', () => {
  it('takes a free node, skipping those already running a reflector of the mesh', () => {
    expect(chooseNode(spec(), [node('n1'), node('n2')], [pod('conf-1', { node: 'n1' })], new Set())).toEqual({ node: 'n2', address: '198.51.100.2' });
    expect(chooseNode(spec(), [node('n1'), node('n2')], [], new Set(['n1']))).toEqual({ node: 'n2', address: '198.51.100.2' });
  });

  it('shares nodes when onePerNode is off, least used first', () => {
    const pods = [pod('conf-1', { node: 'n1' }), pod('conf-2', { node: 'n1' }), pod('conf-3', { node: 'n2' })];
    expect(chooseNode(spec({ onePerNode: false }), [node('n1'), node('n2')], pods, new Set())).toMatchObject({ node: 'n2' });
  });

  it('honours readiness, cordons, the node selector and taints', () => {
    const nodes = [
      node('n1', { ready: false }),
      node('n2', { unschedulable: true }),
      node('n3', { labels: { media: 'no' } }),
      node('n4', { labels: { media: 'yes' }, taints: [{ key: 'dedicated', value: 'media', effect: 'NoSchedule' }] }),
      node('n5', { labels: { media: 'yes' }, externalIP: undefined }),
    ];
    const selective = spec({ nodeSelector: { media: 'yes' } });
    expect(chooseNode(selective, nodes, [], new Set())).toEqual({
      problem: 'no node can take another reflector with an ExternalIP address (5 nodes: 1 not ready, 1 cordoned, 1 not matching spec.placement.nodeSelector, 1 tainted, 1 without an ExternalIP address)',
    });
    const tolerant = spec({ nodeSelector: { media: 'yes' }, tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'media', effect: 'NoSchedule' }] });
    expect(chooseNode(tolerant, nodes, [], new Set())).toEqual({ node: 'n4', address: '198.51.100.4' });
    expect(chooseNode(spec({ tolerations: [{ operator: 'Exists' }] }), [node('n4', { taints: [{ key: 'x', effect: 'NoExecute' }] })], [], new Set())).toMatchObject({ node: 'n4' });
  });
});
