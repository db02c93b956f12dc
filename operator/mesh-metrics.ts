// The operator's per-mesh capacity gauges for autoscalers (docs/metrics.md), from the status decide()
// computed: the same names as the reflectors export, labelled by namespace and mesh, so an HPA or
// KEDA reading the operator needs no arithmetic either.
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

/** Forgets a deleted mesh's gauges. */
export function forgetMeshCapacity(registry: Registry, namespace: string, name: string): void {
  const g = gaugesOf(registry);
  g.free.remove({ namespace, mesh: name });
  g.utilisation.remove({ namespace, mesh: name });
}
