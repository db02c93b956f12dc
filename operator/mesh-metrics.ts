// The operator's per-mesh gauges (docs/metrics.md): the capacity gauges for autoscalers, from the status
// decide() computed, with the same names as the reflectors export, labelled by namespace and mesh, so an
// HPA or KEDA reading the operator needs no arithmetic either; and each reflector's outbound rate, which
// the status no longer carries (a rate would change it on every pass).
import { Gauge, type Registry } from 'prom-client';
import type { ReflectorMesh, ReflectorMeshSpec, ReflectorMeshStatus } from './api/v1alpha1/index.js';
import { budgetOf } from '../model/index.js';
import type { ReflectorReport } from './controller/observed.js';

interface MeshGauges {
  free: Gauge<'namespace' | 'mesh'>;
  utilisation: Gauge<'namespace' | 'mesh'>;
  outbound: Gauge<'namespace' | 'mesh' | 'reflector'>;
  /** "namespace/mesh" → the reflectors it has an outbound series for. */
  reflectors: Map<string, Set<string>>;
}

const byRegistry = new WeakMap<Registry, MeshGauges>();

function gaugesOf(registry: Registry): MeshGauges {
  let g = byRegistry.get(registry);
  if (!g) {
    const labelNames = ['namespace', 'mesh'] as const;
    g = {
      free: new Gauge({ name: 'rmesh_mesh_free_client_slots', help: 'More clients the mesh can admit at its desired size within the outbound budget (capacity model, roles, headroom, admission limits).', labelNames, registers: [registry] }),
      utilisation: new Gauge({ name: 'rmesh_mesh_capacity_utilisation', help: "The capacity model's peak outbound streams of a reflector of the mesh over the budget (1 = full).", labelNames, registers: [registry] }),
      outbound: new Gauge({
        name: 'rmesh_mesh_reflector_outbound_bits_per_second',
        help: 'Outbound rate each reflector of the mesh reported at the last pass (bit/s); a rate, so not in the mesh status.',
        labelNames: ['namespace', 'mesh', 'reflector'] as const,
        registers: [registry],
      }),
      reflectors: new Map(),
    };
    byRegistry.set(registry, g);
  }
  return g;
}

/** The two values of a mesh for autoscalers; undefined while it has no plan (or no budget, for utilisation). */
export interface MeshCapacity {
  freeClientSlots: number;
  /** Peak outbound streams of a reflector over the budget; undefined when the budget is 0 streams. */
  utilisation: number | undefined;
}

/** The capacity values of a decided (or stored) status: what the gauges and the external metrics API serve. */
export function meshCapacity(spec: ReflectorMeshSpec, status: ReflectorMeshStatus | undefined): MeshCapacity | undefined {
  const plan = status?.plan;
  if (!plan || !status.autoscaling) return undefined;
  const budget = budgetOf(plan.bitrateMbps > 0 ? plan.bitrateMbps : spec.stream.bitrateMbps, spec.capacity.outboundMbps, spec.capacity.headroom);
  return {
    freeClientSlots: status.autoscaling.freeClientSlots,
    utilisation: budget.budgetStreams > 0 ? plan.peakOutboundStreams / budget.budgetStreams : undefined,
  };
}

/** Sets the mesh's gauges from a freshly decided status; removes them when the mesh has no plan. */
export function recordMeshCapacity(registry: Registry, mesh: ReflectorMesh, spec: ReflectorMeshSpec, status: ReflectorMeshStatus): void {
  const g = gaugesOf(registry);
  const labels = { namespace: mesh.metadata.namespace, mesh: mesh.metadata.name };
  const capacity = meshCapacity(spec, status);
  if (!capacity) {
    g.free.remove(labels);
    g.utilisation.remove(labels);
    return;
  }
  g.free.set(labels, capacity.freeClientSlots);
  g.utilisation.set(labels, capacity.utilisation ?? Number.NaN);
}

/** Sets each reflector's outbound rate from this pass's reports; forgets reflectors that did not report. */
export function recordReflectorRates(registry: Registry, mesh: ReflectorMesh, reports: ReadonlyMap<string, ReflectorReport>): void {
  const g = gaugesOf(registry);
  const { namespace, name } = mesh.metadata;
  const key = `${namespace}/${name}`;
  for (const reflector of g.reflectors.get(key) ?? []) if (!reports.has(reflector)) g.outbound.remove({ namespace, mesh: name, reflector });
  for (const [reflector, report] of reports) g.outbound.set({ namespace, mesh: name, reflector }, report.outboundBitsPerSecond);
  g.reflectors.set(key, new Set(reports.keys()));
}

/** Forgets a deleted mesh's gauges. */
export function forgetMeshCapacity(registry: Registry, namespace: string, name: string): void {
  const g = gaugesOf(registry);
  g.free.remove({ namespace, mesh: name });
  g.utilisation.remove({ namespace, mesh: name });
  for (const reflector of g.reflectors.get(`${namespace}/${name}`) ?? []) g.outbound.remove({ namespace, mesh: name, reflector });
  g.reflectors.delete(`${namespace}/${name}`);
}
