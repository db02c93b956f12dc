// Phase 1: a reflector whose pod exited is deleted; the scale phase then counts one too few and
// creates its replacement.
import { type Pass, type PhaseResult } from './pass.js';

export function replaceFailed(pass: Pass): PhaseResult {
  const result: PhaseResult = { actions: [], events: [], goingAway: [], deleting: [] };
  for (const pod of pass.failed) {
    result.actions.push({ type: 'deletePod', pod: pod.name, reason: `pod ${pod.phase}` });
    result.events.push({ type: 'Warning', reason: 'ReflectorFailed', message: `reflector ${pod.name} ${pod.phase === 'Failed' ? 'failed' : 'exited'}; replacing it` });
    result.goingAway!.push(pod.name);
    result.deleting!.push(pod.name);
  }
  return result;
}
