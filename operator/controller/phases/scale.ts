// Phase 3: the mesh's size. desiredSize() says how many reflectors (sizing.ts: spec.replicas, or the
// capacity model with its scale-down delay; autoscaling.ts: the buffer policy); scale() creates the missing ones or takes the surplus
// out under the scale-down policy (spec.scaling.scaleDown), whoever lowered the size (a human, an HPA or
// KEDA through /scale, the model): one drain at a time, at most N removals per period, and never the
// last reflector while it holds clients. A roll-out's surge (one reflector over the size while an old
// one waits to go) is the roll-out phase's, not a surplus.
import { decideAutoscaledSize } from '../autoscaling.js';
import type { Sizing } from '../sizing.js';
import { BUSY_REQUEUE_MS, createAction, drainOrDelete, heldClients, merge, plural, removalOrder, type Pass, type PhaseResult } from './pass.js';

/** Most pods created in one pass (the rest in the next passes, as a ReplicaSet's slow start). */
export const MAX_CREATES_PER_PASS = 16;

/** How many reflectors the mesh should have now: the one place a scaling policy plugs in. */
export function desiredSize(pass: Pass): Sizing {
  const { observed, spec, active } = pass;
  return decideAutoscaledSize({
    spec,
    status: observed.mesh.status,
    reports: [...observed.reports.values()],
    activePods: active.length,
    complete: active.every((p) => p.ready && observed.reports.has(p.name)),
    nowMs: observed.nowMs,
  });
}

/** Active pods on an older pod template than the one the spec asks for now. */
export function outdatedPods(pass: Pass) {
  return pass.active.filter((p) => p.templateHash !== pass.observed.templateHash);
}

/** The roll-out's second step is pending: one reflector over the size, on the new template. */
export function isRollOutSurge(pass: Pass, size: number): boolean {
  return outdatedPods(pass).length > 0 && pass.active.length === size + 1;
}

export function scale(pass: Pass, sizing: Sizing): PhaseResult {
  const { observed, spec, active, failed } = pass;
  const m = sizing.replicas;
  let result: PhaseResult = { actions: [], events: [] };
  if (sizing.recheckAfterMs !== undefined) result.requeueAfterMs = sizing.recheckAfterMs;
  const previous = observed.mesh.status?.desiredReplicas;
  if (previous !== undefined && previous !== m) {
    result.events.push({
      type: 'Normal',
      reason: m > previous ? 'ScalingUp' : 'ScalingDown',
      message: `scaling from ${plural(previous, 'reflector')} to ${m}${spec.scaling.mode === 'Model' && sizing.reason ? `: ${sizing.reason}` : ''}`,
    });
  }

  if (active.length < m) {
    const missing = Math.min(m - active.length, MAX_CREATES_PER_PASS);
    const taken = new Set<string>();
    for (let i = 0; i < missing; i++) {
      const action = createAction(pass, `${active.length + i + 1} of ${m}`, taken);
      if (typeof action === 'string') {
        result.progress = { noNode: action };
        break;
      }
      result.actions.push(action);
    }
    result.progress = { ...result.progress, creating: missing };
    if (failed.length === 0 && (previous === undefined || previous === m)) {
      result.events.push({ type: 'Normal', reason: 'CreatingReflectors', message: `creating ${plural(missing, 'reflector')} to reach ${m}` });
    }
    return result;
  }
  if (active.length > m && !isRollOutSurge(pass, m)) result = merge(result, scaleDown(pass, m));
  return result;
}

/** Clients the reflectors hold, or undefined when some active reflector did not answer (unknown). */
function clientsHeld(pass: Pass): number | undefined {
  let total = 0;
  for (const pod of pass.active) {
    const report = pass.observed.reports.get(pod.name);
    if (!report) return pod.ready ? undefined : total; // a reflector never ready serves no one
    total += heldClients(report);
  }
  return total;
}

/** Removals the rate policy still allows now, and when the next one will be allowed. */
export function removalBudget(pass: Pass): { allowed: number; nextAtMs?: number } {
  const { maxRemovedPerPeriod, periodSeconds } = pass.spec.scaling.scaleDown;
  const periodMs = periodSeconds * 1000;
  const now = pass.observed.nowMs;
  const recent = (pass.observed.removedAtMs ?? []).filter((t) => now - t < periodMs).sort((a, b) => a - b);
  const allowed = Math.max(0, maxRemovedPerPeriod - recent.length);
  return allowed > 0 ? { allowed } : { allowed, nextAtMs: recent[0]! + periodMs };
}

/**
 * The surplus goes under the policy. Scaling to zero: with clients connected (or counts unknown) the
 * mesh shrinks to one reflector, which stays until they leave; with none, every reflector goes.
 */
function scaleDown(pass: Pass, size: number): PhaseResult {
  const { observed, active } = pass;
  const held = size === 0 ? clientsHeld(pass) : 0;
  const floor = size === 0 && held !== 0 ? 1 : size;
  let result: PhaseResult = { actions: [], events: [] };
  if (size === 0 && floor === 1) {
    result.events.push({ type: 'Warning', reason: 'ScaleToZeroWaiting', message: 'scaled to zero with clients connected: the last reflector stays until they leave (delete its pod to drop them)' });
    result.progress = { waitingForClients: held === undefined ? 'some reflector did not report its clients' : `${plural(held, 'client')} still connected` };
    result.requeueAfterMs = BUSY_REQUEUE_MS;
  }
  const surplus = active.length - floor;
  if (surplus <= 0) return result;
  if (pass.draining.length > 0) {
    // One drain at a time: the next starts once this one is done.
    return { ...result, progress: { ...result.progress, pacing: `waiting for ${pass.draining.map((p) => p.name).join(', ')} to drain` }, requeueAfterMs: BUSY_REQUEUE_MS };
  }
  const budget = removalBudget(pass);
  if (budget.allowed === 0) {
    const { maxRemovedPerPeriod, periodSeconds } = pass.spec.scaling.scaleDown;
    return {
      ...result,
      progress: { ...result.progress, pacing: `at most ${plural(maxRemovedPerPeriod, 'reflector')} removed per ${periodSeconds}s (spec.scaling.scaleDown)` },
      requeueAfterMs: Math.max(1000, budget.nextAtMs! - observed.nowMs),
    };
  }
  const victims = removalOrder(active, observed).slice(0, Math.min(surplus, budget.allowed));
  const names = victims.map((v) => v.name);
  let drains = 0;
  for (const victim of victims) {
    const holds = heldClients(observed.reports.get(victim.name)) > 0;
    if (holds && drains++ > 0) continue; // one drain at a time
    // The drain sends no client to a reflector that is going too.
    result = merge(result, drainOrDelete(pass, victim, size === 0 ? 'scaled to zero' : `scaling down to ${size}`, names.filter((n) => n !== victim.name)));
  }
  result.removals = (result.goingAway ?? []).length;
  if (surplus > result.removals) result.requeueAfterMs = Math.min(result.requeueAfterMs ?? Infinity, BUSY_REQUEUE_MS);
  return result;
}
