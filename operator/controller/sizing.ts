// How many reflectors a mesh should have now, and the capacity plan for that size. In Fixed and
// External modes spec.replicas decides (its owner is a human or an autoscaler); in Model mode the
// capacity model sizes the mesh from the clients the reflectors report, scaling up at once and down
// only after the smaller size has sufficed for the scale-down delay.
import type { ReflectorMeshSpec, ReflectorMeshStatus } from '../api/v1alpha1/index.js';
import { budgetOf, countRoles, plan, sizeOption, type Role, type RoleCounts, type SizeOption } from '../../model/index.js';
import type { ReflectorReport } from './observed.js';

export interface Sizing {
  /** Reflectors to converge to. */
  replicas: number;
  /** The capacity numbers for that size and the current clients; undefined for zero reflectors. */
  option?: SizeOption;
  /** The clients counted once each, by role. */
  clients: RoleCounts;
  /** The stream bitrate the plan used (Mbit/s). */
  bitrateMbps: number;
  /** Model mode: since when a smaller size would do (ISO time), kept in status across restarts. */
  scaleDownSince?: string;
  /** Model mode: when to look again because the scale-down delay runs out. */
  recheckAfterMs?: number;
  /** Model mode: what the planner said, for events and conditions. */
  reason?: string;
  /** Fixed/External over capacity: the smallest size in 1..1024 that would fit, when there is one. */
  suggestedReplicas?: number;
  /** Model mode: the most clients the mesh may admit at its largest size (RMESH_MAX_CLIENTS for new pods). */
  admissionLimit?: number;
}

/** Every client once: a client being migrated shows at two reflectors. */
export function reportedClients(reports: Iterable<ReflectorReport>): { clientId: string; role: Role }[] {
  const seen = new Map<string, Role>();
  for (const report of reports) {
    for (const client of report.clients) if (!seen.has(client.clientId)) seen.set(client.clientId, client.role);
  }
  return [...seen].map(([clientId, role]) => ({ clientId, role }));
}

/**
 * The per-stream rate to plan with: the spec's, or the measured one when the reflectors send more
 * per stream than the spec says (the streams are heavier than declared).
 */
export function effectiveBitrateMbps(spec: ReflectorMeshSpec, reports: Iterable<ReflectorReport>): number {
  let measured = 0;
  for (const r of reports) {
    if (r.outboundStreams > 0) measured = Math.max(measured, r.outboundBitsPerSecond / r.outboundStreams / 1e6);
  }
  return Math.max(spec.stream.bitrateMbps, measured);
}

/** Largest size the over-capacity hint considers (the planner evaluates every size up to it). */
const MAX_SUGGESTED = 64;

export interface SizingInput {
  spec: ReflectorMeshSpec;
  status: ReflectorMeshStatus | undefined;
  reports: ReflectorReport[];
  /** Reflector pods that exist and are not going away. */
  activePods: number;
  /** Every active reflector answered: the client counts are complete. */
  complete: boolean;
  nowMs: number;
}

export function decideSize(input: SizingInput): Sizing {
  const { spec, status, reports, nowMs } = input;
  const clients = countRoles(reportedClients(reports));
  const bitrateMbps = effectiveBitrateMbps(spec, reports);
  const { outboundMbps: capacityMbps, headroom } = spec.capacity;
  const budget = budgetOf(bitrateMbps, capacityMbps, headroom);
  const at = (m: number): SizeOption | undefined => (m > 0 ? sizeOption(m, clients, budget) : undefined);

  if (spec.scaling.mode !== 'Model') {
    const replicas = spec.replicas ?? 0;
    const option = at(replicas);
    const sizing: Sizing = { replicas, clients, bitrateMbps };
    if (option) {
      // No plan-derived admission limit here: a pod's limit is fixed at creation, and the size can
      // change under it with every `kubectl scale`; spec.capacity.maxClients is the explicit one.
      sizing.option = option;
      if (!option.fits) {
        const wide = plan({ clients, bitrateMbps, capacityMbps, headroom, minReflectors: 1, maxReflectors: MAX_SUGGESTED });
        if (wide.fits) sizing.suggestedReplicas = wide.reflectors;
      }
    }
    return sizing;
  }

  const { minReplicas, maxReplicas, scaleDownDelaySeconds } = spec.scaling;
  const planned = plan({ clients, bitrateMbps, capacityMbps, headroom, minReflectors: minReplicas, maxReflectors: maxReplicas });
  // The mesh must be allowed to grow into its largest planned size, or admission would keep the
  // client count (and so the size) where it is.
  const admissionLimit = Math.max(...planned.options.map((o) => o.maxClients));
  const previous = status?.desiredReplicas ?? (input.activePods > 0 ? input.activePods : minReplicas);
  const current = Math.min(maxReplicas, Math.max(minReplicas, previous));
  const base = { clients, bitrateMbps, reason: planned.reason, admissionLimit };

  if (planned.reflectors >= current) {
    return { ...base, replicas: planned.reflectors, option: at(planned.reflectors)! };
  }
  // A smaller mesh would do. Decide only on complete counts, and only after the delay.
  if (!input.complete) return { ...base, replicas: current, option: at(current)! };
  const sinceMs = status?.scaleDownSince ? Date.parse(status.scaleDownSince) : Number.NaN;
  const delayMs = scaleDownDelaySeconds * 1000;
  if (delayMs === 0 || (Number.isFinite(sinceMs) && nowMs - sinceMs >= delayMs)) {
    return { ...base, replicas: planned.reflectors, option: at(planned.reflectors)! };
  }
  const since = Number.isFinite(sinceMs) ? sinceMs : nowMs;
  return {
    ...base,
    replicas: current,
    option: at(current)!,
    scaleDownSince: new Date(since).toISOString(),
    recheckAfterMs: Math.max(1000, since + delayMs - nowMs),
  };
}
