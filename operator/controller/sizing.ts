// How many reflectors a mesh should have now, and the capacity plan for that size. In Fixed and
// External modes spec.replicas decides (its owner is a human or an autoscaler); in Model mode the
// capacity model sizes the mesh from the clients the reflectors report, scaling up at once and down
// to the highest size recommended within the last scaleDownDelaySeconds (the HPA's scale-down
// stabilisation, stabilise.ts): a smaller size must have sufficed for the whole window, and a
// recommendation that dips and recovers inside it shrinks nothing.
import type { AutoscalingStatus, ReflectorMeshSpec, ReflectorMeshStatus } from '../api/v1alpha1/index.js';
import { budgetOf, countRoles, plan, sizeOption, type Role, type RoleCounts, type SizeOption } from '../../model/index.js';
import type { ReflectorReport } from './observed.js';
import { iso, nextChangeMs, parse, recordRecommendation, stabilise, type Recommendation, type StabilisationPolicy } from './stabilise.js';

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
  /** Plain Model mode: the recommendation history of the scale-down window (status.autoscaling.recommendations). */
  recommendations?: Recommendation[];
  /** Model mode: what the planner said, for events and conditions. */
  reason?: string;
  /** Fixed/External over capacity: the smallest size in 1..1024 that would fit, when there is one. */
  suggestedReplicas?: number;
  /** Model mode: the most clients the mesh may admit at its largest size (RMESH_MAX_CLIENTS for new pods). */
  admissionLimit?: number;
  /** Free client slots, and with a buffer policy why this size (autoscaling.ts). */
  autoscaling?: AutoscalingStatus;
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
 * How far the measured per-stream rate must exceed the declared one before it replaces it: the HPA's
 * default tolerance (--horizontal-pod-autoscaler-tolerance, 0.1). Without one, the noise of a mesh
 * streaming at its declared rate (packet timing, a migration's duplicate second) shrank the capacity,
 * and a mesh sized at a boundary flapped (seen on the real cluster: 2 → 1 → 2 reflectors every 30 s,
 * four steady clients).
 */
export const MEASURED_RATE_TOLERANCE = 0.1;

/**
 * The per-stream rate to plan with: the spec's, or the measured one when the reflectors send clearly
 * more per stream than the spec says (the streams are heavier than declared). Measured over the whole
 * mesh (all bits over all streams), so streams moving between reflectors do not skew it. Each
 * reflector's bits are divided by the stream count of the second they were counted in
 * (outboundRateStreams, reflector/outbound-rate.ts), not by the count of now: clients that just left
 * sent their last second's bits, and dividing those by the few streams left inflated the rate
 * threefold (the utilisation metric read 3.0 and the HPA grew a mesh whose clients were leaving).
 */
export function effectiveBitrateMbps(spec: ReflectorMeshSpec, reports: Iterable<ReflectorReport>): number {
  let bits = 0;
  let streams = 0;
  for (const r of reports) {
    bits += r.outboundBitsPerSecond;
    streams += r.outboundRateStreams ?? r.outboundStreams;
  }
  const declared = spec.stream.bitrateMbps;
  const measured = streams > 0 ? bits / streams / 1e6 : 0;
  return measured > declared * (1 + MEASURED_RATE_TOLERANCE) ? measured : declared;
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

  // The window's memory is in status, so a restart keeps it. Without one (a new mesh, or one an older
  // operator sized by the time since a smaller size first sufficed), it starts with the current size
  // recommended now: nothing shrinks before a full window has passed.
  const windowMs = scaleDownDelaySeconds * 1000;
  const past = status?.autoscaling?.recommendations ?? [{ at: iso(nowMs), replicas: current }];
  const recommendations = recordRecommendation(past, planned.reflectors, nowMs, windowMs);
  // Up at once, no rate policy here: spec.scaling.scaleDown paces removals in every mode (phases/scale.ts).
  const policy: StabilisationPolicy = { scaleUpStabilizationSeconds: 0, scaleDownStabilizationSeconds: scaleDownDelaySeconds, scaleUpReflectors: maxReplicas, scaleDownReflectors: maxReplicas, ratePeriodSeconds: 1 };
  const { replicas } = stabilise(current, recommendations, [], policy, input.complete, nowMs);
  const sizing: Sizing = { ...base, replicas, option: at(replicas)!, recommendations };
  if (replicas > planned.reflectors && input.complete) {
    // Held by the window: since when the recommendations have stayed below the size kept.
    const since = smallerSince(recommendations, replicas);
    if (since !== undefined) sizing.scaleDownSince = since;
  }
  const recheck = nextChangeMs(recommendations, [], policy, nowMs);
  if (recheck !== undefined && replicas > planned.reflectors) sizing.recheckAfterMs = recheck;
  return sizing;
}

/** When the run of recommendations below `size` that reaches now began (ISO), if the last one is below it. */
function smallerSince(recommendations: readonly Recommendation[], size: number): string | undefined {
  let since: string | undefined;
  for (let i = recommendations.length - 1; i >= 0 && recommendations[i]!.replicas < size; i--) since = recommendations[i]!.at;
  return since === undefined ? undefined : iso(parse(since));
}
