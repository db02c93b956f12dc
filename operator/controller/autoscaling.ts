// Sizing with the capacity buffer (spec.scaling.buffer, issue 15), pure. Wraps decideSize (sizing.ts):
// every mode gets status.autoscaling.freeClientSlots; Model mode with a buffer is sized by
// model/buffer.ts and then held by the HPA's rules, so an autoscaler-minded reader finds what they know:
//   - stabilisation: scale up to the LOWEST size recommended within the scale-up window, down to
//     the HIGHEST within the scale-down window (kube's stabilizeRecommendationWithBehaviors);
//   - rate: at most scaleUpReflectors added / scaleDownReflectors removed within any ratePeriodSeconds;
//   - a scale-down waits for complete client counts (an unreachable reflector's clients are unknown).
// The windows' memory lives in status (recommendations, scaleEvents), so an operator restart or a
// change of leader keeps it.
import type { AutoscalingStatus, BufferPolicy, ReflectorMeshSpec } from '../api/v1alpha1/index.js';
import { budgetOf, bufferOption, planBuffer, sizeOption, type BufferTarget, type SlotLimits } from '../../model/index.js';
import { decideSize, type Sizing, type SizingInput } from './sizing.js';

type Recommendation = NonNullable<AutoscalingStatus['recommendations']>[number];
type ScaleEvent = NonNullable<AutoscalingStatus['scaleEvents']>[number];

/** Entries kept in status at most (the schema's maxItems). */
const MAX_HISTORY = 64;

/** decideSize, plus the free client slots in every mode, plus the buffer policy in Model mode. */
export function decideAutoscaledSize(input: SizingInput): Sizing {
  const sizing = decideSize(input);
  const buffer = input.spec.scaling.buffer;
  if (input.spec.scaling.mode === 'Model' && buffer) return bufferSizing(input, sizing, buffer);
  if (sizing.replicas > 0) {
    const budget = budgetOf(sizing.bitrateMbps, input.spec.capacity.outboundMbps, input.spec.capacity.headroom);
    const o = bufferOption(sizing.replicas, sizing.clients, budget, slotLimits(input.spec));
    sizing.autoscaling = { freeClientSlots: o.freeClientSlots, maxClients: o.maxClients };
  }
  return sizing;
}

function slotLimits(spec: ReflectorMeshSpec): SlotLimits {
  const limits: SlotLimits = {};
  if (spec.capacity.maxClients !== undefined) limits.maxClients = spec.capacity.maxClients;
  if (spec.capacity.maxClientsPerReflector !== undefined) limits.maxClientsPerReflector = spec.capacity.maxClientsPerReflector;
  return limits;
}

function targetOf(buffer: BufferPolicy): BufferTarget {
  return buffer.clients !== undefined ? { clients: buffer.clients } : { percent: buffer.percent ?? 0 };
}

const iso = (ms: number) => new Date(ms).toISOString();
const parse = (at: string) => Date.parse(at);

/** The recommendation history with `replicas` recommended from now on, pruned to what a window still sees. */
export function recordRecommendation(history: readonly Recommendation[], replicas: number, nowMs: number, windowMs: number): Recommendation[] {
  const next = [...history];
  if (next[next.length - 1]?.replicas !== replicas) next.push({ at: iso(nowMs), replicas });
  // An entry matters while it was in force within the window: until the next entry started.
  const start = nowMs - windowMs;
  let first = 0;
  while (first < next.length - 1 && parse(next[first + 1]!.at) <= start) first++;
  return next.slice(first).slice(-MAX_HISTORY);
}

/** The sizes recommended at some time in [now − window, now]. */
export function recommendedWithin(history: readonly Recommendation[], nowMs: number, windowMs: number): number[] {
  const start = nowMs - windowMs;
  return history.filter((r, i) => i === history.length - 1 || parse(history[i + 1]!.at) > start).map((r) => r.replicas);
}

/** Reflectors added and removed by the scale events within the rate period. */
function changesWithin(events: readonly ScaleEvent[], nowMs: number, periodMs: number): { added: number; removed: number } {
  let added = 0;
  let removed = 0;
  for (const e of events) {
    if (parse(e.at) <= nowMs - periodMs) continue;
    if (e.to > e.from) added += e.to - e.from;
    else removed += e.from - e.to;
  }
  return { added, removed };
}

export interface Stabilised {
  replicas: number;
  /** Why the size differs from the recommendation, when it does. */
  held?: string;
}

/**
 * The size to converge to, from the current one and the recommendation history (already holding
 * the newest recommendation): the HPA's stabilisation, then the rate policy, then the wait for
 * complete counts before a scale-down.
 */
export function stabilise(
  current: number,
  history: readonly Recommendation[],
  events: readonly ScaleEvent[],
  policy: Required<Pick<BufferPolicy, 'scaleUpStabilizationSeconds' | 'scaleDownStabilizationSeconds' | 'scaleUpReflectors' | 'scaleDownReflectors' | 'ratePeriodSeconds'>>,
  complete: boolean,
  nowMs: number,
): Stabilised {
  const recommended = history[history.length - 1]!.replicas;
  const upFloor = Math.min(...recommendedWithin(history, nowMs, policy.scaleUpStabilizationSeconds * 1000));
  const downCeiling = Math.max(...recommendedWithin(history, nowMs, policy.scaleDownStabilizationSeconds * 1000));
  let target = current;
  if (current < upFloor) target = upFloor;
  else if (current > downCeiling) target = downCeiling;
  const reasons: string[] = [];
  if (target < recommended) reasons.push(`scale-up stabilisation (${policy.scaleUpStabilizationSeconds}s) holds it at ${target}`);
  if (target > recommended) reasons.push(`scale-down stabilisation (${policy.scaleDownStabilizationSeconds}s) keeps ${target}, the most recommended in the window`);

  const { added, removed } = changesWithin(events, nowMs, policy.ratePeriodSeconds * 1000);
  if (target > current) {
    const allowed = current + Math.max(0, policy.scaleUpReflectors - added);
    if (target > allowed) reasons.push(`the rate policy allows ${policy.scaleUpReflectors} more per ${policy.ratePeriodSeconds}s (${added} added)`);
    target = Math.min(target, allowed);
  } else if (target < current) {
    const allowed = current - Math.max(0, policy.scaleDownReflectors - removed);
    if (target < allowed) reasons.push(`the rate policy allows ${policy.scaleDownReflectors} fewer per ${policy.ratePeriodSeconds}s (${removed} removed)`);
    target = Math.max(target, allowed);
    if (target < current && !complete) {
      reasons.push('a scale-down waits until every reflector has reported its clients');
      target = current;
    }
  }
  const result: Stabilised = { replicas: target };
  if (reasons.length > 0) result.held = reasons.join('; ');
  return result;
}

/** When the windows or the rate period next let go of something, so the decision may change. */
function nextChangeMs(history: readonly Recommendation[], events: readonly ScaleEvent[], policy: BufferPolicy, nowMs: number): number | undefined {
  const windows = [policy.scaleUpStabilizationSeconds, policy.scaleDownStabilizationSeconds].map((s) => s * 1000);
  const times: number[] = [];
  for (let i = 0; i + 1 < history.length; i++) for (const w of windows) times.push(parse(history[i + 1]!.at) + w);
  for (const e of events) times.push(parse(e.at) + policy.ratePeriodSeconds * 1000);
  const future = times.filter((t) => t > nowMs);
  return future.length > 0 ? Math.max(1000, Math.min(...future) - nowMs) : undefined;
}

function bufferSizing(input: SizingInput, model: Sizing, buffer: BufferPolicy): Sizing {
  const { spec, status, nowMs } = input;
  const { minReplicas, maxReplicas } = spec.scaling;
  const budget = budgetOf(model.bitrateMbps, spec.capacity.outboundMbps, spec.capacity.headroom);
  const limits = slotLimits(spec);
  const planned = planBuffer({ clients: model.clients, budget, target: targetOf(buffer), minReflectors: minReplicas, maxReflectors: maxReplicas, limits });

  const previous = status?.autoscaling;
  const windowMs = Math.max(buffer.scaleUpStabilizationSeconds, buffer.scaleDownStabilizationSeconds) * 1000;
  const history = recordRecommendation(previous?.recommendations ?? [], planned.reflectors, nowMs, windowMs);
  const before = status?.desiredReplicas ?? (input.activePods > 0 ? input.activePods : minReplicas);
  const current = Math.min(maxReplicas, Math.max(minReplicas, before));
  const periodMs = buffer.ratePeriodSeconds * 1000;
  const pastEvents = (previous?.scaleEvents ?? []).filter((e) => parse(e.at) > nowMs - periodMs);
  const chosen = stabilise(current, history, pastEvents, buffer, input.complete, nowMs);
  const events = chosen.replicas === current ? pastEvents : [...pastEvents, { at: iso(nowMs), from: current, to: chosen.replicas }];

  const at = bufferOption(chosen.replicas, model.clients, budget, limits);
  const reason = chosen.held ? `${planned.reason} Desired ${chosen.replicas}: ${chosen.held}.` : planned.reason;
  const autoscaling: AutoscalingStatus = {
    freeClientSlots: at.freeClientSlots,
    maxClients: at.maxClients,
    bufferClients: planned.bufferClients,
    recommendedReplicas: planned.reflectors,
    reason,
    recommendations: history,
  };
  if (events.length > 0) autoscaling.scaleEvents = events.slice(-MAX_HISTORY);

  const sizing: Sizing = {
    replicas: chosen.replicas,
    option: sizeOption(chosen.replicas, model.clients, budget),
    clients: model.clients,
    bitrateMbps: model.bitrateMbps,
    reason: `buffer: ${reason}`,
    autoscaling,
  };
  // New pods may admit what the largest size in the bounds can serve, as in plain Model mode.
  if (model.admissionLimit !== undefined) sizing.admissionLimit = model.admissionLimit;
  const recheck = nextChangeMs(history, events, buffer, nowMs);
  if (recheck !== undefined) sizing.recheckAfterMs = recheck;
  return sizing;
}
