// Model mode's scale-down (issue 14, item 4): stabilised on the highest size recommended within the last
// spec.scaling.scaleDownDelaySeconds, as the HPA's scale-down window, with the same code as the buffer
// policy (controller/stabilise.ts). Series of client counts over time, one pass each, the status of a
// pass carried to the next as the API server would hold it.
import { describe, expect, it } from 'vitest';
import { resolveSpec, type ReflectorMeshStatus } from '../../../operator/api/v1alpha1/index.js';
import { decideAutoscaledSize } from '../../../operator/controller/autoscaling.js';
import { clients, NOW, report } from './fixtures.js';

/** 30 Mbit/s streams, a 905 Mbit/s budget: up to 6 clients need 1 reflector, 7 need 2, 8 or 9 need 3. */
const { spec } = resolveSpec({
  scaling: { mode: 'Model', minReplicas: 1, maxReplicas: 8, scaleDownDelaySeconds: 60 },
  stream: { bitrateMbps: 30 },
  capacity: { outboundMbps: 905, headroom: 0 },
});

/** Each step: seconds since the start, clients reported, and the size the pass should converge to. */
type Step = [seconds: number, clients: number, desired: number];

function run(steps: Step[], complete = true): number[] {
  // Three reflectors serving 9 clients, their window's memory from an earlier pass.
  let status: ReflectorMeshStatus = { replicas: 3, readyReplicas: 3, clients: 9, desiredReplicas: 3, autoscaling: { freeClientSlots: 0, maxClients: 9, recommendations: [{ at: new Date(NOW - 600_000).toISOString(), replicas: 3 }] } };
  return steps.map(([seconds, n]) => {
    const sizing = decideAutoscaledSize({ spec, status, reports: [report({ clients: clients(n) })], activePods: status.desiredReplicas!, complete, nowMs: NOW + seconds * 1000 });
    status = { ...status, clients: n, desiredReplicas: sizing.replicas, ...(sizing.autoscaling ? { autoscaling: sizing.autoscaling } : {}) };
    return sizing.replicas;
  });
}

describe('Model mode: scale-down stabilised over scaleDownDelaySeconds (60 s)', () => {
  it.each<[string, Step[]]>([
    [
      'dips and recovers inside the window: no scale-down',
      [[0, 9, 3], [10, 2, 3], [30, 2, 3], [50, 9, 3], [70, 2, 3], [100, 2, 3], [109, 2, 3]],
    ],
    [
      'stays low: down after the full window, not before',
      [[0, 2, 3], [30, 2, 3], [59, 2, 3], [60, 2, 1]],
    ],
    [
      'steps down through a middle size: to the highest recommended in the window (2), then to 1',
      // 7 clients (2 reflectors) until 30 s, then 2 (1 reflector): at 61 s the window still saw 2.
      [[0, 7, 3], [30, 2, 3], [60, 2, 2], [61, 2, 2], [89, 2, 2], [90, 2, 1]],
    ],
    [
      'up at once, whatever the window',
      [[0, 2, 3], [20, 2, 3], [21, 10, 5]],
    ],
    [
      'a dip after the window had run: the recovery still resets it',
      [[0, 2, 3], [50, 9, 3], [60, 2, 3], [115, 2, 3], [120, 2, 1]],
    ],
  ])('%s', (_what, steps) => {
    expect(run(steps)).toEqual(steps.map(([, , desired]) => desired));
  });

  it('never down on incomplete counts, even after the window', () => {
    expect(run([[0, 2, 3], [30, 2, 3], [120, 2, 3]], false)).toEqual([3, 3, 3]);
  });

  it('keeps status.scaleDownSince: since when the smaller size would do, while the window holds', () => {
    let status: ReflectorMeshStatus = { replicas: 3, readyReplicas: 3, clients: 9, desiredReplicas: 3 };
    const at = (seconds: number, n: number) => {
      const sizing = decideAutoscaledSize({ spec, status, reports: [report({ clients: clients(n) })], activePods: 3, complete: true, nowMs: NOW + seconds * 1000 });
      status = { ...status, desiredReplicas: sizing.replicas, ...(sizing.autoscaling ? { autoscaling: sizing.autoscaling } : {}) };
      return sizing;
    };
    // No memory yet (a new operator): the window starts now with the current size, so nothing shrinks at once.
    expect(at(0, 2)).toMatchObject({ replicas: 3, scaleDownSince: new Date(NOW).toISOString(), recheckAfterMs: 60_000 });
    expect(at(40, 2)).toMatchObject({ replicas: 3, scaleDownSince: new Date(NOW).toISOString(), recheckAfterMs: 20_000 });
    expect(at(60, 2)).toMatchObject({ replicas: 1 });
    expect(at(60, 2).scaleDownSince).toBeUndefined();
  });
});
