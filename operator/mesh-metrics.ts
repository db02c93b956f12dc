// The operator's per-mesh gauges, from the status decide() computed: the capacity gauges for
// autoscalers (docs/metrics.md), the same names as the reflectors export, labelled by namespace and
// mesh, so an HPA or KEDA reading the operator needs no arithmetic either; and the mesh's conditions,
// for the chart's alerts (mesh not Ready, Degraded).
import { Gauge, type Registry } from 'prom-client';
import type { ReflectorMesh, ReflectorMeshSpec, ReflectorMeshStatus } from './api/v1alpha1/index.js';
import { budgetOf } from '../model/index.js';

interface MeshGauges {
  free: Gauge<'namespace' | 'mesh'>;
  utilisation: Gauge<'namespace' | 'mesh'>;
}

const byRegistry = new WeakMap<Registry, MeshGauges>();

function gaugesOf(registry: Registry): MeshGauges {
  let g = byRegistry.get(registry);
  if (!g) {
    const labelNames = ['namespace', 'mesh'] as const;
    g = {
      free: new Gauge({ name: 'rmesh_mesh_free_client_slots', help: 'More clients the mesh can admit at its desired size within the outbound budget (capacity model, roles, headroom, admission limits).', labelNames, registers: [registry] }),
      utilisation: new Gauge({ name: 'rmesh_mesh_capacity_utilisation', help: "The capacity model's peak outbound streams of a reflector of the mesh over the budget (1 = full).", labelNames, registers: [registry] }),
    };
    byRegistry.set(registry, g);
  }
  return g;
}

/** Sets the mesh's gauges from a freshly decided status; removes them when the mesh has no plan. */
export function recordMeshCapacity(registry: Registry, mesh: ReflectorMesh, spec: ReflectorMeshSpec, status: ReflectorMeshStatus): void {
  const g = gaugesOf(registry);
  const labels = { namespace: mesh.metadata.namespace, mesh: mesh.metadata.name };
  const plan = status.plan;
  if (!plan || !status.autoscaling) {
    g.free.remove(labels);
    g.utilisation.remove(labels);
    return;
  }
  const budget = budgetOf(plan.bitrateMbps > 0 ? plan.bitrateMbps : spec.stream.bitrateMbps, spec.capacity.outboundMbps, spec.capacity.headroom);
  g.free.set(labels, status.autoscaling.freeClientSlots);
  g.utilisation.set(labels, budget.budgetStreams > 0 ? plan.peakOutboundStreams / budget.budgetStreams : Number.NaN);
}

/** Forgets a deleted mesh's gauges (its capacity and its conditions). */
export function forgetMeshCapacity(registry: Registry, namespace: string, name: string): void {
  const g = gaugesOf(registry);
  g.free.remove({ namespace, mesh: name });
  g.utilisation.remove({ namespace, mesh: name });
  forgetMeshConditions(registry, namespace, name);
}

type ConditionLabels = 'namespace' | 'mesh' | 'type' | 'status' | 'reason';

interface ConditionGauge {
  gauge: Gauge<ConditionLabels>;
  /** The labels of the one series each mesh's condition type has now, by "namespace/mesh/type". */
  current: Map<string, Record<ConditionLabels, string>>;
}

const conditionsByRegistry = new WeakMap<Registry, ConditionGauge>();

function conditionGauge(registry: Registry): ConditionGauge {
  let c = conditionsByRegistry.get(registry);
  if (!c) {
    c = {
      gauge: new Gauge({
        name: 'rmesh_operator_mesh_condition',
        help: 'The conditions of each mesh\'s status (Ready, Progressing, Degraded, CapacityExceeded): 1 on the series of the current status and reason, one series per mesh and type (the chart\'s alerts read it).',
        labelNames: ['namespace', 'mesh', 'type', 'status', 'reason'] as const,
        registers: [registry],
      }),
      current: new Map(),
    };
    conditionsByRegistry.set(registry, c);
  }
  return c;
}

/**
 * Sets the mesh's condition series from a freshly decided status. One series per condition type, its
 * status and reason as labels (as kube-state-metrics does for pods), so an alert can say why
 * (`Degraded` with `PodCreateRefused`); the previous series goes when the status or reason changes.
 */
export function recordMeshConditions(registry: Registry, mesh: ReflectorMesh, status: ReflectorMeshStatus): void {
  const c = conditionGauge(registry);
  const { namespace, name } = mesh.metadata;
  for (const condition of status.conditions ?? []) {
    const key = `${namespace}/${name}/${condition.type}`;
    const labels = { namespace, mesh: name, type: condition.type, status: condition.status, reason: condition.reason };
    const before = c.current.get(key);
    if (before && (before.status !== labels.status || before.reason !== labels.reason)) c.gauge.remove(before);
    c.gauge.set(labels, 1);
    c.current.set(key, labels);
  }
}

function forgetMeshConditions(registry: Registry, namespace: string, name: string): void {
  const c = conditionGauge(registry);
  const prefix = `${namespace}/${name}/`;
  for (const [key, labels] of c.current) {
    if (!key.startsWith(prefix)) continue;
    c.gauge.remove(labels);
    c.current.delete(key);
  }
}
