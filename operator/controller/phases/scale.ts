// Phase 3: the mesh's size. desiredSize() says how many reflectors (sizing.ts: spec.replicas, or the
// capacity model with its scale-down delay); scale() creates the missing ones or takes the surplus
// out, draining those that hold clients. A roll-out's surge (one reflector over the size while an old
// one waits to go) is the roll-out phase's, not a surplus.
import { decideSize, type Sizing } from '../sizing.js';
import { createAction, drainOrDelete, merge, plural, removalOrder, type Pass, type PhaseResult } from './pass.js';

/** Most pods created in one pass (the rest in the next passes, as a ReplicaSet's slow start). */
export const MAX_CREATES_PER_PASS = 16;

/** How many reflectors the mesh should have now: the one place a scaling policy plugs in. */
export function desiredSize(pass: Pass): Sizing {
  const { observed, spec, active } = pass;
  return decideSize({
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
  if (m === 0) {
    // Nowhere to move clients to: each reflector hands what it can to its peers on SIGTERM.
    for (const victim of removalOrder(active, observed)) {
      result = merge(result, { actions: [{ type: 'deletePod', pod: victim.name, reason: 'scaled to zero' }], events: [], goingAway: [victim.name], deleting: [victim.name] });
    }
    return result;
  }
  if (active.length > m && !isRollOutSurge(pass, m)) {
    const victims = removalOrder(active, observed).slice(0, active.length - m);
    const names = victims.map((v) => v.name);
    const draining = pass.draining.map((p) => p.name);
    for (const victim of victims) {
      // The drain sends no client to a reflector that is going too.
      const exclude = [...new Set([...names.filter((n) => n !== victim.name), ...draining])];
      result = merge(result, drainOrDelete(pass, victim, `scaling down to ${m}`, exclude));
    }
  }
  return result;
}
