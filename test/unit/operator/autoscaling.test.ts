// The buffer policy in the reconcile loop (controller/autoscaling.ts): the HPA's stabilisation windows,
// the rate policy, the wait for complete counts, status.autoscaling, and the spec's validation.
import { describe, expect, it } from 'vitest';
import { resolveSpec, type AutoscalingStatus, type BufferPolicy } from '../../../operator/api/v1alpha1/index.js';
import { decideAutoscaledSize } from '../../../operator/controller/autoscaling.js';
import { recordRecommendation, recommendedWithin, stabilise } from '../../../operator/controller/stabilise.js';
import { decide } from '../../../operator/controller/decide.js';
import { clients, mesh, NOW, observed, peered, pod, report } from './fixtures.js';

const iso = (ms: number) => new Date(ms).toISOString();
const S = 1000;
const names = (n: number) => Array.from({ length: n }, (_, i) => `conf-${i + 1}`);

/** 1 Mbit/s streams and a 20-stream budget: meshes of 1..6 reflectors take 5, 6, 6, 8, 7, 6 clients. */
const bufferSpec = (buffer: { clients: number } | { percent: number }) => ({
  // The API server (or resolveSpec) fills in the policy's defaults.
  scaling: { mode: 'Model' as const, minReplicas: 1, maxReplicas: 6, buffer: buffer as BufferPolicy },
  stream: { bitrateMbps: 1 },
  capacity: { outboundMbps: 20, headroom: 0 },
});

const policy = { scaleUpStabilizationSeconds: 0, scaleDownStabilizationSeconds: 300, scaleUpReflectors: 4, scaleDownReflectors: 1, ratePeriodSeconds: 60 };

describe('stabilisation and rate policy', () => {
  it.each<[string, number, [number, number][], [number, number, number][], Partial<typeof policy>, boolean, number]>([
    // [what, current, history [secondsAgo, replicas], scale events [secondsAgo, from, to], policy, complete, desired]
    ['up at once with no scale-up window', 2, [[0, 4]], [], {}, true, 4],
    ['up only to the lowest recommended in the scale-up window', 2, [[50, 3], [0, 5]], [], { scaleUpStabilizationSeconds: 60 }, true, 3],
    ['up fully once the lower one left the window', 2, [[100, 3], [70, 5]], [], { scaleUpStabilizationSeconds: 60 }, true, 5],
    ['down only to the highest recommended in the scale-down window', 5, [[200, 4], [10, 2]], [], {}, true, 4],
    ['down after the window', 5, [[400, 4], [310, 2]], [], { scaleDownReflectors: 10 }, true, 2],
    ['down one reflector at a time (rate)', 5, [[400, 4], [310, 2]], [], {}, true, 4],
    ['rate: one removed within the period, none more', 4, [[400, 4], [310, 2]], [[30, 5, 4]], {}, true, 4],
    ['rate: the period passed, the next one goes', 4, [[400, 4], [310, 2]], [[61, 5, 4]], {}, true, 3],
    ['rate: at most 4 added per period', 1, [[0, 6]], [], {}, true, 5],
    ['rate: 3 added already, 1 more', 4, [[0, 6]], [[10, 1, 4]], {}, true, 5],
    ['no scale-down on incomplete counts', 5, [[400, 4], [310, 2]], [], {}, false, 5],
    ['scale-up on incomplete counts (more room is safe)', 2, [[0, 4]], [], {}, false, 4],
    ['held between the windows', 3, [[100, 2], [50, 5], [0, 3]], [], { scaleUpStabilizationSeconds: 60 }, true, 3],
  ])('%s', (_what, current, history, events, over, complete, desired) => {
    const h = history.map(([ago, replicas]) => ({ at: iso(NOW - ago * S), replicas }));
    const e = events.map(([ago, from, to]) => ({ at: iso(NOW - ago * S), from, to }));
    expect(stabilise(current, h, e, { ...policy, ...over }, complete, NOW).replicas).toBe(desired);
  });

  it('remembers a recommendation only when it changes, and forgets what no window sees', () => {
    let h = recordRecommendation([], 3, NOW, 60 * S);
    h = recordRecommendation(h, 3, NOW + 10 * S, 60 * S);
    expect(h).toEqual([{ at: iso(NOW), replicas: 3 }]);
    h = recordRecommendation(h, 5, NOW + 20 * S, 60 * S);
    h = recordRecommendation(h, 4, NOW + 30 * S, 60 * S);
    // At +85 s the window starts at +25 s: 3 ended at +20 s (gone), 5 was in force until +30 s (kept).
    h = recordRecommendation(h, 4, NOW + 85 * S, 60 * S);
    expect(h.map((r) => r.replicas)).toEqual([5, 4]);
    expect(recommendedWithin(h, NOW + 85 * S, 60 * S)).toEqual([5, 4]);
    expect(recommendedWithin(h, NOW + 95 * S, 60 * S)).toEqual([4]);
  });
});

describe('decide with a buffer', () => {
  it('grows the mesh to the smallest size whose free slots cover the buffer, and says why in status', () => {
    // 4 clients + room for 4 = 8 → 4 reflectors (2 and 3 take 6; 5 and 6 would take fewer than 8).
    const m = mesh(bufferSpec({ clients: 4 }), { replicas: 1, readyReplicas: 1, clients: 4, desiredReplicas: 1 });
    const d = decide(observed({ mesh: m, pods: [pod('conf-1')], reports: { 'conf-1': report({ clients: clients(4) }) } }));
    expect(d.status.desiredReplicas).toBe(4);
    expect(d.actions.filter((a) => a.type === 'createPod')).toHaveLength(3);
    const a = d.status.autoscaling!;
    expect(a).toMatchObject({ freeClientSlots: 4, maxClients: 8, bufferClients: 4, recommendedReplicas: 4 });
    expect(a.reason).toMatch(/^4 reflectors serve 4 clients and leave 4 free client slots, covering the buffer of 4; .*5, 6 would leave fewer than 4/);
    expect(a.scaleEvents).toEqual([{ at: iso(NOW), from: 1, to: 4 }]);
    expect(d.events.find((e) => e.reason === 'ScalingUp')?.message).toMatch(/buffer: 4 reflectors serve/);
  });

  it('keeps the size through the scale-down window after the clients leave, then drains one reflector', () => {
    const n = names(4);
    const spec = bufferSpec({ clients: 4 });
    const grown: AutoscalingStatus = { freeClientSlots: 4, maxClients: 8, recommendations: [{ at: iso(NOW - 400 * S), replicas: 4 }], scaleEvents: [] };
    const status = { replicas: 4, readyReplicas: 4, clients: 0, desiredReplicas: 4, autoscaling: grown };
    const pods = n.map((x) => pod(x));
    // The clients left: 0 + 4 needs 1 reflector (5 slots), but the window just started.
    const first = decide(observed({ mesh: mesh(spec, status), pods, reports: peered(n, { 'conf-4': { clients: clients(1) } }) }));
    expect(first.status.desiredReplicas).toBe(4);
    expect(first.status.autoscaling?.recommendedReplicas).toBe(1);
    expect(first.status.autoscaling?.reason).toMatch(/scale-down stabilisation \(300s\) keeps 4/);
    expect(first.requeueAfterMs).toBe(300 * S);
    expect(first.actions.filter((a) => a.type === 'drain' || a.type === 'deletePod')).toEqual([]);
    // 300 s later: down by one only (the rate policy); the reflector holding a client is not the one removed.
    const later = decide(observed({ mesh: mesh(spec, first.status), pods, reports: peered(n, { 'conf-4': { clients: clients(1) } }), nowMs: NOW + 300 * S }));
    expect(later.status.desiredReplicas).toBe(3);
    const removed = later.actions.filter((a) => a.type === 'drain' || a.type === 'deletePod');
    expect(removed).toHaveLength(1);
    expect(removed[0]).not.toMatchObject({ pod: 'conf-4' });
    expect(later.status.autoscaling?.reason).toMatch(/rate policy allows 1 fewer per 60s/);
  });

  it('with percent, keeps room for that share of the current clients', () => {
    // 4 clients, 50 %: room for 2 → 6 clients → 2 reflectors.
    const m = mesh(bufferSpec({ percent: 50 }), { replicas: 1, readyReplicas: 1, clients: 4, desiredReplicas: 1 });
    const d = decide(observed({ mesh: m, pods: [pod('conf-1')], reports: { 'conf-1': report({ clients: clients(4) }) } }));
    expect(d.status.desiredReplicas).toBe(2);
    expect(d.status.autoscaling).toMatchObject({ bufferClients: 2, freeClientSlots: 2 });
  });

  it('reports the free slots in Fixed mode too (the metrics read them)', () => {
    const s = decideAutoscaledSize({
      spec: resolveSpec({ replicas: 4, stream: { bitrateMbps: 1 }, capacity: { outboundMbps: 20, headroom: 0 } }).spec,
      status: undefined,
      reports: [report({ clients: clients(3) })],
      activePods: 4,
      complete: true,
      nowMs: NOW,
    });
    expect(s.autoscaling).toEqual({ freeClientSlots: 5, maxClients: 8 });
  });
});

describe('spec.scaling.buffer validation', () => {
  it('fills the policy defaults', () => {
    const { spec, errors } = resolveSpec({ scaling: { mode: 'Model', buffer: { clients: 3 } } });
    expect(errors).toEqual([]);
    expect(spec.scaling.buffer).toEqual({ clients: 3, ...policy });
  });

  it.each([
    [{ mode: 'Model', buffer: { clients: 3, percent: 10 } }, /scaling.buffer needs exactly one of clients .* and percent/],
    [{ mode: 'Model', buffer: {} }, /scaling.buffer needs exactly one of/],
    [{ mode: 'Fixed', buffer: { clients: 3 } }, /scaling.buffer applies in Model mode only/],
    [{ mode: 'Model', buffer: { percent: 0 } }, /spec.scaling.buffer.percent: .*>= 1/],
  ])('refuses %o with a clear error', (scaling, message) => {
    const spec = scaling.mode === 'Model' ? { scaling } : { scaling, replicas: 1 };
    expect(resolveSpec(spec).errors.join('\n')).toMatch(message);
  });
});
