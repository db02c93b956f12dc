// The operator's gauge of each mesh's conditions, for the chart's alerts (mesh not Ready, Degraded):
// from the status decide() computed, one series per mesh and condition type.
import { Gauge, type Registry } from 'prom-client';
import type { ReflectorMesh, ReflectorMeshStatus } from './api/v1alpha1/index.js';

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

/** Forgets a deleted mesh's condition series. */
export function forgetMeshConditions(registry: Registry, namespace: string, name: string): void {
  const c = conditionGauge(registry);
  const prefix = `${namespace}/${name}/`;
  for (const [key, labels] of c.current) {
    if (!key.startsWith(prefix)) continue;
    c.gauge.remove(labels);
    c.current.delete(key);
  }
}
