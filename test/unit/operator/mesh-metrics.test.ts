// The operator's capacity gauges (operator/mesh-metrics.ts) and the budget it hands each reflector pod.
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../../operator/api/v1alpha1/index.js';
import { decide } from '../../../operator/controller/decide.js';
import { forgetMeshCapacity, recordMeshCapacity } from '../../../operator/mesh-metrics.js';
import { forgetMeshConditions, recordMeshConditions } from '../../../operator/condition-metrics.js';
import { parsePrometheusText, sampleValue } from '../../support/prometheus-text.js';
import { buildReflectorPod } from '../../../operator/controller/pod-template.js';
import { clients, mesh, observed, peered, pod } from './fixtures.js';

const spec = { replicas: 2, stream: { bitrateMbps: 1 }, capacity: { outboundMbps: 20, headroom: 0 } };
const labels = { namespace: 'media', mesh: 'conf' };

describe('operator capacity gauges', () => {
  it('exports the free slots and utilisation of the decided status, and forgets a deleted mesh', async () => {
    const m = mesh(spec);
    // 2 reflectors, 3 sendrecv clients, a 20-stream budget: 6 fit (3 free); peak 2·(2+3−2) = 6 of 20.
    const pods = ['conf-1', 'conf-2'];
    const d = decide(observed({ mesh: m, pods: pods.map((name) => pod(name)), reports: peered(pods, { 'conf-1': { clients: clients(2) }, 'conf-2': { clients: clients(1) } }) }));
    const registry = new Registry();
    recordMeshCapacity(registry, m, resolveSpec(m.spec).spec, d.status);
    const families = parsePrometheusText(await registry.metrics());
    expect(sampleValue(families, 'rmesh_mesh_free_client_slots', labels)).toBe(3);
    expect(sampleValue(families, 'rmesh_mesh_capacity_utilisation', labels)).toBeCloseTo(0.3, 10);
    forgetMeshCapacity(registry, 'media', 'conf');
    const after = parsePrometheusText(await registry.metrics());
    expect(() => sampleValue(after, 'rmesh_mesh_free_client_slots', labels)).toThrow(/no sample/);
  });
});

describe('operator condition gauge', () => {
  it('one series per mesh and condition type, with its status and reason; the old one goes when they change', async () => {
    const m = mesh(spec);
    const registry = new Registry();
    const conditions = (ready: 'True' | 'False', reason: string) => ({
      conditions: [
        { type: 'Ready', status: ready, reason, message: '', lastTransitionTime: '2026-01-01T00:00:00Z' },
        { type: 'Degraded', status: ready === 'True' ? 'False' : 'True', reason: ready === 'True' ? 'Healthy' : 'PodCreateRefused', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' },
      ],
    });
    recordMeshConditions(registry, m, conditions('False', 'ReflectorsNotReady') as never);
    let families = parsePrometheusText(await registry.metrics());
    expect(sampleValue(families, 'rmesh_operator_mesh_condition', { ...labels, type: 'Ready', status: 'False', reason: 'ReflectorsNotReady' })).toBe(1);
    expect(sampleValue(families, 'rmesh_operator_mesh_condition', { ...labels, type: 'Degraded', status: 'True', reason: 'PodCreateRefused' })).toBe(1);
    recordMeshConditions(registry, m, conditions('True', 'MeshReady') as never);
    families = parsePrometheusText(await registry.metrics());
    expect(sampleValue(families, 'rmesh_operator_mesh_condition', { ...labels, type: 'Ready', status: 'True', reason: 'MeshReady' })).toBe(1);
    expect(() => sampleValue(families, 'rmesh_operator_mesh_condition', { ...labels, type: 'Ready', status: 'False', reason: 'ReflectorsNotReady' })).toThrow(/no sample/);
    expect((await registry.metrics()).match(/^rmesh_operator_mesh_condition\{/gm)).toHaveLength(2);
    forgetMeshConditions(registry, 'media', 'conf');
    expect((await registry.metrics()).match(/^rmesh_operator_mesh_condition\{/gm)).toBeNull();
  });
});

describe('the budget each reflector pod gets', () => {
  it.each([
    // 900 Mbit/s with 0.1 headroom at 2 Mbit/s: 810 / 2 = 405 streams; 905 at 30 with none: 30 (design §3).
    [{ replicas: 1 }, '405'],
    [{ replicas: 1, stream: { bitrateMbps: 30 }, capacity: { outboundMbps: 905, headroom: 0 } }, '30'],
  ])('%o: RMESH_BUDGET_STREAMS=%s', (s, budget) => {
    const m = mesh(s);
    const p = buildReflectorPod(m, resolveSpec(m.spec).spec, { defaultImage: 'rmesh:test' });
    expect(p.spec!.containers[0]!.env!.find((e) => e.name === 'RMESH_BUDGET_STREAMS')?.value).toBe(budget);
  });
});
