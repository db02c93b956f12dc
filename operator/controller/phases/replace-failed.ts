// Phase 1: a reflector whose pod exited is deleted; the scale phase then counts one too few and
// creates its replacement. So is a pod pinned to the node the operator chose (ExternalIP placement,
// node-pin.ts) that the scheduler has not been able to place there for a while (the node was cordoned or
// filled up after the choice): pinned, it would wait for that node forever; the next choice is elsewhere.
import { type Pass, type PhaseResult } from './pass.js';

/** How long a pinned pod may stay unschedulable on its node before the operator chooses again. */
export const PINNED_UNSCHEDULABLE_MS = 30_000;

export function replaceFailed(pass: Pass): PhaseResult {
  const result: PhaseResult = { actions: [], events: [], goingAway: [], deleting: [] };
  const remove = (name: string, reason: string, message: string) => {
    result.actions.push({ type: 'deletePod', pod: name, reason });
    result.events.push({ type: 'Warning', reason: 'ReflectorFailed', message });
    result.goingAway!.push(name);
    result.deleting!.push(name);
  };
  for (const pod of pass.failed) {
    remove(pod.name, `pod ${pod.phase}`, `reflector ${pod.name} ${pod.phase === 'Failed' ? 'failed' : 'exited'}; replacing it`);
  }
  if (pass.spec.placement.addressType !== 'ExternalIP') return result;
  for (const pod of pass.running) {
    if (!pod.unschedulable || pod.hostIP || pass.observed.nowMs - (pod.unschedulableSinceMs ?? pass.observed.nowMs) < PINNED_UNSCHEDULABLE_MS) continue;
    remove(pod.name, `unschedulable on its node ${pod.node ?? '?'}`,
      `reflector ${pod.name} cannot be placed on node ${pod.node ?? '?'}, which the operator chose (${pod.unschedulable}); replacing it on another node`);
  }
  return result;
}
