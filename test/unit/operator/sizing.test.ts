// Sizing and the status it feeds: Fixed/External keep spec.replicas, Model sizes by the capacity model
// with a scale-down delay, and the capacity condition says what to do when the clients do not fit.
import { describe, expect, it } from 'vitest';
import { decide } from '../../../operator/controller/decide.js';
import { decideSize } from '../../../operator/controller/sizing.js';
import { resolveSpec } from '../../../operator/api/v1alpha1/index.js';
import { OutboundRate } from '../../../reflector/outbound-rate.js';
import { clients, mesh, NOW, observed, peered, pod, report } from './fixtures.js';

const names = (n: number) => Array.from({ length: n }, (_, i) => `conf-${i + 1}`);

/** A Model-mode mesh at 30 Mbit/s per stream and a 905 Mbit/s budget (the design's example). */
const modelSpec = {
  scaling: { mode: 'Model' as const, minReplicas: 1, maxReplicas: 8, scaleDownDelaySeconds: 60 },
  stream: { bitrateMbps: 30 },
  capacity: { outboundMbps: 905, headroom: 0 },
};

describe('decideSize', () => {
  it('keeps spec.replicas in Fixed mode, and plans for it', () => {
    const { spec } = resolveSpec({ replicas: 4, stream: { bitrateMbps: 30 }, capacity: { outboundMbps: 905, headroom: 0 } });
    const s = decideSize({ spec, status: undefined, reports: [report({ clients: clients(8) })], activePods: 4, complete: true, nowMs: NOW });
    expect(s.replicas).toBe(4);
    // Design §3: m = 4, n = 8 → nr = 2, 20 streams, 600 Mbit/s.
    expect(s.option).toMatchObject({ clientsPerReflector: 2, peakOutboundStreams: 20, peakOutboundMbps: 600, fits: true });
  });

  it('plans with the measured per-stream rate when streams are heavier than declared', () => {
    const { spec } = resolveSpec({ replicas: 1, stream: { bitrateMbps: 1 } });
    const s = decideSize({ spec, status: undefined, reports: [report({ outboundStreams: 10, outboundBitsPerSecond: 40e6 })], activePods: 1, complete: true, nowMs: NOW });
    expect(s.bitrateMbps).toBe(4);
  });

  it.each([
    // [streams and bits per reflector, planned Mbit/s]: the declared 1 Mbit/s unless the mesh as a whole
    // sends more than 10 % over it per stream.
    ['at the declared rate', [[12, 12e6], [12, 12e6]], 1],
    ['noise within the tolerance', [[12, 12.9e6], [12, 12.6e6]], 1],
    ['a drain: the leaving reflector\'s bytes lag its count, the mesh as a whole does not', [[2, 6e6], [20, 16.5e6]], 1],
    ['streams clearly heavier than declared', [[10, 12e6], [10, 13e6]], 1.25],
  ] as const)('plans with the declared rate, or the measured one beyond the tolerance: %s', (_what, reflectors, planned) => {
    const { spec } = resolveSpec({ replicas: 2, stream: { bitrateMbps: 1 } });
    const reports = reflectors.map(([outboundStreams, outboundBitsPerSecond]) => report({ outboundStreams, outboundBitsPerSecond }));
    const s = decideSize({ spec, status: undefined, reports, activePods: 2, complete: true, nowMs: NOW });
    expect(s.bitrateMbps).toBeCloseTo(planned);
  });

  it('plans with the declared rate while clients leave: the last second\'s bits over that second\'s streams', () => {
    // Two reflectors, three sendrecv clients each, 2 Mbit/s streams: 18 outbound streams each. Four
    // clients leave half-way through a second (one stays on each): 2 streams each afterwards, and the
    // second carried 10 streams' worth of bits. Over the 2 left that read 10 Mbit/s a stream, and the
    // utilisation metric five times what it was (the HPA grew the mesh as its clients left).
    const { spec } = resolveSpec({ replicas: 2, stream: { bitrateMbps: 2 } });
    const windows = [0, 1].map(() => {
      const rate = new OutboundRate(0, 18, 0);
      rate.sample(((18 * 0.5 + 2 * 0.5) * 2e6) / 8, 2, 1000);
      return rate.current;
    });
    const reports = windows.map((w) => report({ outboundStreams: 2, outboundBitsPerSecond: w.bitsPerSecond, outboundRateStreams: w.streams }));
    expect(decideSize({ spec, status: undefined, reports, activePods: 2, complete: true, nowMs: NOW }).bitrateMbps).toBe(2);
    // A reflector too old to report its window's count is read as before.
    const old = windows.map((w) => report({ outboundStreams: 2, outboundBitsPerSecond: w.bitsPerSecond }));
    expect(decideSize({ spec, status: undefined, reports: old, activePods: 2, complete: true, nowMs: NOW }).bitrateMbps).toBe(10);
  });

  it('counts a client that shows at two reflectors (mid-migration) once', () => {
    const { spec } = resolveSpec({ replicas: 2 });
    const moving = clients(1);
    const s = decideSize({
      spec,
      status: undefined,
      reports: [report({ clients: moving }), report({ clients: [{ ...moving[0]!, state: 'reserved' }] })],
      activePods: 2,
      complete: true,
      nowMs: NOW,
    });
    expect(s.clients.sendrecv).toBe(1);
  });
});

describe('Model mode', () => {
  it('scales up at once when the clients need more reflectors', () => {
    const d = decide(observed({ mesh: mesh(modelSpec, { replicas: 1, readyReplicas: 1, clients: 8, desiredReplicas: 1 }), pods: [pod('conf-1')], reports: { 'conf-1': report({ clients: clients(8) }) } }));
    // One reflector: 8·7 = 56 streams > 30. Two: nr 4, 4·(2+8−2) = 32 > 30. Three: nr 3, 3·9 = 27.
    expect(d.status.desiredReplicas).toBe(3);
    expect(d.actions.filter((a) => a.type === 'createPod')).toHaveLength(2);
    expect(d.events.map((e) => e.reason)).toContain('ScalingUp');
  });

  it('waits for the scale-down delay, remembering in status since when', () => {
    const n = names(3);
    const start = decide(observed({ mesh: mesh(modelSpec, { replicas: 3, readyReplicas: 3, clients: 2, desiredReplicas: 3 }), pods: n.map((x) => pod(x)), reports: peered(n, { 'conf-1': { clients: clients(2) } }) }));
    expect(start.status.desiredReplicas).toBe(3);
    expect(start.status.scaleDownSince).toBe(new Date(NOW).toISOString());
    expect(start.actions.filter((a) => a.type !== 'migrate')).toEqual([]);
    expect(start.requeueAfterMs).toBeLessThanOrEqual(60_000);

    // The status written by the first pass holds the window's memory (status.autoscaling.recommendations).
    expect(start.status.autoscaling?.recommendations).toEqual([
      { at: new Date(NOW).toISOString(), replicas: 3 },
      { at: new Date(NOW).toISOString(), replicas: 1 },
    ]);
    const later = decide(
      observed({
        mesh: mesh(modelSpec, start.status),
        pods: n.map((x) => pod(x)),
        reports: peered(n, { 'conf-1': { clients: clients(2) } }),
        nowMs: NOW + 61_000,
      }),
    );
    expect(later.status.desiredReplicas).toBe(1);
    expect(later.status.scaleDownSince).toBeUndefined();
    // The rate policy (spec.scaling.scaleDown): one removal per 15 s, the next pass takes the next one.
    expect(later.actions.map((a) => a.type)).toEqual(['deletePod', 'setPeers', 'setPeers']);
    expect(later.removals).toBe(1);
  });

  it('forgets a pending scale-down when the clients come back', () => {
    const d = decide(
      observed({
        mesh: mesh(modelSpec, { replicas: 3, readyReplicas: 3, clients: 9, desiredReplicas: 3, scaleDownSince: new Date(NOW - 10_000).toISOString() }),
        pods: names(3).map((x) => pod(x)),
        reports: peered(names(3), { 'conf-1': { clients: clients(3) }, 'conf-2': { clients: clients(3) }, 'conf-3': { clients: clients(2) } }),
      }),
    );
    expect(d.status.desiredReplicas).toBe(3);
    expect(d.status.scaleDownSince).toBeUndefined();
  });

  it('does not scale down on incomplete counts (a reflector did not answer)', () => {
    const n = names(3);
    const d = decide(
      observed({
        mesh: mesh(modelSpec, { replicas: 3, readyReplicas: 3, clients: 0, desiredReplicas: 3, scaleDownSince: new Date(NOW - 600_000).toISOString() }),
        pods: n.map((x) => pod(x)),
        reports: { 'conf-1': report({ peers: ['conf-2', 'conf-3'] }), 'conf-2': report({ peers: ['conf-1', 'conf-3'] }) },
        unreachable: { 'conf-3': 'connect ECONNREFUSED' },
      }),
    );
    expect(d.status.desiredReplicas).toBe(3);
    expect(d.status.conditions!.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'ReflectorUnreachable' });
  });

  it('lets admission grow into the largest planned size', () => {
    const d = decide(observed({ mesh: mesh(modelSpec), pods: [pod('conf-1')], reports: { 'conf-1': report() } }));
    expect(d.limits?.maxClients).toBeGreaterThan(d.status.plan!.maxClients);
  });
});

describe('capacity condition', () => {
  it('is raised in Fixed mode with the size that would fit', () => {
    const n = names(2);
    const d = decide(
      observed({
        mesh: mesh({ replicas: 2, stream: { bitrateMbps: 30 }, capacity: { outboundMbps: 905, headroom: 0 } }),
        pods: n.map((x) => pod(x)),
        reports: peered(n, { 'conf-1': { clients: clients(4) }, 'conf-2': { clients: clients(4) } }),
      }),
    );
    const c = d.status.conditions!.find((x) => x.type === 'CapacityExceeded')!;
    expect(c.status).toBe('True');
    expect(c.reason).toBe('OverBudget');
    expect(c.message).toContain('8 clients need 960 Mbit/s from the busiest of 2 reflectors');
    expect(c.message).toContain('--replicas=3');
    expect(d.status.plan).toMatchObject({ reflectors: 2, clientsPerReflector: 4, peakOutboundStreams: 32, fits: false, utilisationPercent: 106 });
  });

  it('is clear when the clients fit', () => {
    const d = decide(observed({ mesh: mesh({ replicas: 1 }), pods: [pod('conf-1')], reports: { 'conf-1': report({ clients: clients(2) }) } }));
    expect(d.status.conditions!.find((x) => x.type === 'CapacityExceeded')).toMatchObject({ status: 'False', reason: 'WithinBudget' });
  });
});

describe('status', () => {
  it('reports counts, the selector, a row per reflector and the observed generation', () => {
    const n = names(2);
    const d = decide(
      observed({
        mesh: mesh({ replicas: 2 }),
        pods: [pod('conf-1'), pod('conf-2', { ready: false })],
        reports: peered(n, { 'conf-1': { clients: clients(2), outboundBitsPerSecond: 12_340_000 } }),
      }),
    );
    expect(d.status).toMatchObject({
      replicas: 2,
      readyReplicas: 1,
      updatedReplicas: 2,
      desiredReplicas: 2,
      clients: 2,
      observedGeneration: 1,
      selector: 'app.kubernetes.io/component=reflector,rmesh.io/mesh=conf',
    });
    expect(d.status.reflectors![0]).toEqual({
      name: 'conf-1',
      node: 'node-1',
      address: '10.0.0.1',
      clients: 2, // no outboundMbps: a rate is a metric, not status
      peers: 1,
      ready: true,
      draining: false,
      current: true,
    });
    expect(d.status.reflectors![1]!.ready).toBe(false);
  });

  it('keeps a condition\'s transition time while its status holds', () => {
    const before = decide(observed({ mesh: mesh({ replicas: 1 }), pods: [pod('conf-1')], reports: { 'conf-1': report() } }));
    const again = decide(observed({ mesh: mesh({ replicas: 1 }, before.status), pods: [pod('conf-1')], reports: { 'conf-1': report() }, nowMs: NOW + 30_000 }));
    expect(again.status.conditions).toEqual(before.status.conditions);
    const changed = decide(observed({ mesh: mesh({ replicas: 1 }, before.status), pods: [pod('conf-1', { ready: false })], reports: {}, nowMs: NOW + 30_000 }));
    expect(changed.status.conditions!.find((c) => c.type === 'Ready')!.lastTransitionTime).toBe(new Date(NOW + 30_000).toISOString());
  });

  it('reports a missing admin Secret as Degraded', () => {
    const d = decide(observed({ mesh: mesh({ replicas: 1 }), secretProblem: 'Secret media/token not found' }));
    expect(d.status.conditions!.find((c) => c.type === 'Degraded')).toMatchObject({ status: 'True', reason: 'SecretMissing' });
  });
});
