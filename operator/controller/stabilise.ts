// The HPA's stabilisation and rate policy over a recommendation history kept in status, pure: one copy
// for the buffer policy (autoscaling.ts) and plain Model mode (sizing.ts, its window being
// spec.scaling.scaleDownDelaySeconds). As kube's stabilizeRecommendationWithBehaviors: scale up to the
// LOWEST size recommended within the scale-up window, down to the HIGHEST within the scale-down window,
// so a recommendation that dips and recovers inside the window never shrinks the mesh.
import type { AutoscalingStatus, BufferPolicy } from '../api/v1alpha1/index.js';

export type Recommendation = NonNullable<AutoscalingStatus['recommendations']>[number];
export type ScaleEvent = NonNullable<AutoscalingStatus['scaleEvents']>[number];
export type StabilisationPolicy = Required<Pick<BufferPolicy, 'scaleUpStabilizationSeconds' | 'scaleDownStabilizationSeconds' | 'scaleUpReflectors' | 'scaleDownReflectors' | 'ratePeriodSeconds'>>;

/** Entries kept in status at most (the schema's maxItems). */
export const MAX_HISTORY = 64;

export const iso = (ms: number) => new Date(ms).toISOString();
export const parse = (at: string) => Date.parse(at);

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
  policy: StabilisationPolicy,
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
export function nextChangeMs(history: readonly Recommendation[], events: readonly ScaleEvent[], policy: StabilisationPolicy, nowMs: number): number | undefined {
  const windows = [policy.scaleUpStabilizationSeconds, policy.scaleDownStabilizationSeconds].map((s) => s * 1000);
  const times: number[] = [];
  for (let i = 0; i + 1 < history.length; i++) for (const w of windows) times.push(parse(history[i + 1]!.at) + w);
  for (const e of events) times.push(parse(e.at) + policy.ratePeriodSeconds * 1000);
  const future = times.filter((t) => t > nowMs);
  return future.length > 0 ? Math.max(1000, Math.min(...future) - nowMs) : undefined;
}
