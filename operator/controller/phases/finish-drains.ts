// Phase 2: a draining reflector is deleted once it holds no client (departing ones included), when it
// no longer answers, or when spec.timeouts.drainTimeoutSeconds has passed since the drain started.
import { BUSY_REQUEUE_MS, heldClients, plural, type Pass, type PhaseResult } from './pass.js';

export function finishDrains(pass: Pass): PhaseResult {
  const { observed, spec } = pass;
  const result: PhaseResult = { actions: [], events: [], goingAway: [], deleting: [] };
  const drainTimeoutMs = spec.timeouts.drainTimeoutSeconds * 1000;
  for (const pod of pass.draining) {
    const report = observed.reports.get(pod.name);
    const since = observed.drainingSince.get(pod.name) ?? observed.nowMs;
    result.goingAway!.push(pod.name);
    // Departing clients count here: during its grace period the old reflector still forwards their
    // datagrams in flight (protocol §4, step 5); deleting it earlier would drop them.
    const lingering = report ? report.clients.length : 0;
    if (!report) {
      result.actions.push({ type: 'deletePod', pod: pod.name, reason: 'draining and unreachable' });
    } else if (lingering === 0) {
      result.actions.push({ type: 'deletePod', pod: pod.name, reason: 'drained' });
      result.events.push({ type: 'Normal', reason: 'ReflectorRemoved', message: `reflector ${pod.name} drained; deleting it` });
    } else if (observed.nowMs - since >= drainTimeoutMs) {
      result.actions.push({ type: 'deletePod', pod: pod.name, reason: 'drain timed out' });
      result.events.push({
        type: 'Warning',
        reason: 'DrainTimeout',
        message: `reflector ${pod.name} still held ${plural(heldClients(report), 'client')} after ${spec.timeouts.drainTimeoutSeconds}s of draining; deleting it (its clients fail over)`,
      });
    } else {
      result.progress = { draining: [...(result.progress?.draining ?? []), pod.name] };
      result.requeueAfterMs = BUSY_REQUEUE_MS;
      continue;
    }
    result.deleting!.push(pod.name);
  }
  return result;
}
