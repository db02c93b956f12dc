// Phase 4: a changed pod template rolls out one reflector at a time, surge first: one new reflector
// beside the others (so clients always have a place), then the old one with the fewest clients is
// drained; if the new one cannot be placed, the old one goes first.
import { createAction, drainOrDelete, isServing, plural, removalOrder, type Pass, type PhaseResult } from './pass.js';
import { isRollOutSurge, outdatedPods } from './scale.js';

/** How long past its grace period a Terminating pod counts as stuck (its node lost). */
export const STUCK_TERMINATING_MS = 60_000;

export function rollOut(pass: Pass, size: number): PhaseResult {
  const { observed, active } = pass;
  const outdated = outdatedPods(pass);
  if (outdated.length === 0 || size === 0) return { actions: [], events: [] };
  const progress = { rollingOut: outdated.length };

  if (isRollOutSurge(pass, size)) {
    // Second step: the surge reflector is up (or cannot be placed): the oldest goes. A surge is only
    // unplaceable once no terminating pod holds a node: the reflector drained before it may still be
    // leaving, and draining the next one then left m-1 serving (seen in e2e).
    const surge = active.find((p) => p.templateHash === observed.templateHash && !isServing(pass, p));
    // A pod still Terminating well past its grace period is on a lost node (the kubelet cannot confirm
    // its end): it holds no node the surge could use in any useful time, so it does not block.
    const leaving = observed.pods.some((p) => p.terminating && !(p.deletionMs !== undefined && observed.nowMs - p.deletionMs > STUCK_TERMINATING_MS));
    if (surge && !(surge.unschedulable && !leaving)) return { actions: [], events: [], progress };
    const [victim] = removalOrder(outdated, observed);
    const result = drainOrDelete(pass, victim!, 'rolling out a new pod template', pass.draining.map((p) => p.name));
    return { ...result, progress: { ...result.progress, ...progress } };
  }
  if (active.length !== size) return { actions: [], events: [] };

  // First step, only on a settled mesh: every reflector ready and none draining.
  if (!active.every((p) => isServing(pass, p)) || pass.draining.length > 0) return { actions: [], events: [], progress };
  const action = createAction(pass, 'roll-out surge', new Set());
  if (typeof action === 'string') return { actions: [], events: [], progress: { ...progress, noNode: action } };
  return {
    actions: [action],
    events: [{ type: 'Normal', reason: 'RollingOut', message: `rolling out a new pod template: ${plural(outdated.length, 'reflector')} to replace, one at a time` }],
    progress,
  };
}
