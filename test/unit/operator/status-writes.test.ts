// Less load on the API server (issue 14, item 8): a status in which only fast-moving numbers changed is
// written at most once per interval per mesh; anything else at once. The rates themselves are metrics.
import { describe, expect, it } from 'vitest';
import type { ReflectorMeshStatus } from '../../../operator/api/v1alpha1/index.js';
import { statusWrite } from '../../../operator/controller/status-writes.js';
import type { ReflectorTarget } from '../../../operator/controller/reflector-admin.js';
import { OperatorMetrics } from '../../../operator/metrics.js';
import { parsePrometheusText, sampleValue } from '../../support/prometheus-text.js';
import { clients } from './fixtures.js';
import { setup } from './controller-setup.js';

const T0 = '2026-01-01T12:00:00.000Z';
const base: ReflectorMeshStatus = {
  replicas: 2,
  readyReplicas: 2,
  desiredReplicas: 2,
  clients: 6,
  plan: { reflectors: 2, clientsPerReflector: 3, peakOutboundStreams: 7, peakOutboundMbps: 7, peakOutboundPacketsPerSecond: 700, utilisationPercent: 35, maxClients: 12, bitrateMbps: 1, fits: true },
  reflectors: [{ name: 'conf-a', clients: 3, peers: 1, ready: true, draining: false, current: true }],
  autoscaling: { freeClientSlots: 6, maxClients: 12 },
  conditions: [{ type: 'CapacityExceeded', status: 'False', reason: 'WithinBudget', message: 'sends 7 Mbit/s', lastTransitionTime: T0 }],
};
type Edit = (s: ReflectorMeshStatus) => void;
const faster: Edit = (s) => {
  s.plan = { ...s.plan!, peakOutboundMbps: 7.4, bitrateMbps: 1.057, utilisationPercent: 37, peakOutboundPacketsPerSecond: 740 };
  s.autoscaling = { ...s.autoscaling!, freeClientSlots: 5, maxClients: 11 };
  s.conditions = [{ ...s.conditions![0]!, message: 'sends 7.4 Mbit/s' }];
};

describe('statusWrite', () => {
  const NOW = 1_000_000;
  it.each<[string, Edit, number | undefined, ReturnType<typeof statusWrite>]>([
    ['nothing changed', () => {}, NOW - 1000, { write: false, outcome: 'unchanged' }],
    ['only rates and the numbers they move, 10 s after the last write', faster, NOW - 10_000, { write: false, outcome: 'deferred', retryInMs: 20_000 }],
    ['only rates, 30 s after the last write', faster, NOW - 30_000, { write: true, outcome: 'written' }],
    ['only rates, no write by this process yet (a restart)', faster, undefined, { write: true, outcome: 'written' }],
    ['only a condition message', (s) => (s.conditions = [{ ...s.conditions![0]!, message: 'other words' }]), NOW - 1000, { write: false, outcome: 'deferred', retryInMs: 29_000 }],
    ['a reflector row that still has the rate an older operator wrote', (s) => (s.reflectors = [{ ...s.reflectors![0]!, outboundMbps: 3.2 }]), NOW - 1000, { write: false, outcome: 'deferred', retryInMs: 29_000 }],
    ['the client count', (s) => (s.clients = 7), NOW - 1000, { write: true, outcome: 'written' }],
    ['a condition\'s status and reason', (s) => (s.conditions = [{ ...s.conditions![0]!, status: 'True', reason: 'OverBudget' }]), NOW - 1000, { write: true, outcome: 'written' }],
    ['the desired size', (s) => (s.desiredReplicas = 3), NOW - 1000, { write: true, outcome: 'written' }],
    ['a reflector turning ready or draining', (s) => (s.reflectors = [{ ...s.reflectors![0]!, draining: true }]), NOW - 1000, { write: true, outcome: 'written' }],
    ['the autoscaling memory (a new recommendation)', (s) => (s.autoscaling = { ...s.autoscaling!, recommendations: [{ at: T0, replicas: 3 }] }), NOW - 1000, { write: true, outcome: 'written' }],
    ['fast numbers together with a slow one', (s) => (faster(s), (s.readyReplicas = 1)), NOW - 1000, { write: true, outcome: 'written' }],
  ])('%s', (_what, edit, lastWriteMs, expected) => {
    const next = structuredClone(base);
    edit(next);
    // In the previous status, lastTransitionTime etc. as written; the API server reorders keys.
    const previous = JSON.parse(JSON.stringify(base)) as ReflectorMeshStatus;
    expect(statusWrite(next, previous, lastWriteMs, NOW, 30_000)).toEqual(expected);
  });
});

/** A mesh of two ready reflectors with clients, whose measured rate rises a little on every pass. */
async function meshWithMovingRate(options: { statusWriteIntervalMs: number; metrics?: OperatorMetrics }) {
  const clock = { t: Date.parse('2026-01-01T12:00:00Z') };
  const c = setup({ replicas: 2, stream: { bitrateMbps: 1 }, capacity: { outboundMbps: 100, headroom: 0 } }, { now: () => clock.t, ...options });
  let rate = 6e6; // 1.5 Mbit/s per stream: clearly over the declared 1, so the measured rate is planned with
  const status = c.reflectors.status.bind(c.reflectors);
  c.reflectors.status = async (t: ReflectorTarget) => ({ ...(await status(t)), outboundStreams: 4, outboundBitsPerSecond: rate });
  await c.pass();
  c.kube.runPods();
  for (const address of ['10.1.0.1', '10.1.0.2']) c.reflectors.state.set(address, { clients: clients(2), peers: [], draining: false });
  for (let i = 0; i < 3; i++) {
    clock.t += 10_000;
    await c.pass();
  }
  expect(c.mesh().status).toMatchObject({ readyReplicas: 2, clients: 4 });
  return {
    c,
    /** `n` passes 10 s apart, the measured rate 1% higher at each; the status writes they made, and the requeues they asked. */
    async passes(n: number) {
      const before = c.kube.statusWrites;
      const requeues: (number | undefined)[] = [];
      const bitrates = new Set<number | undefined>();
      for (let i = 0; i < n; i++) {
        clock.t += 10_000;
        rate *= 1.01;
        requeues.push(await c.pass());
        bitrates.add(c.mesh().status?.plan?.bitrateMbps);
      }
      return { writes: c.kube.statusWrites - before, requeues, bitrates };
    },
  };
}

describe('status writes of a mesh whose measured rate moves on every pass', () => {
  it('12 passes 10 s apart, only the rate changing: at most one write per 30 s (4), not 12', async () => {
    const m = await meshWithMovingRate({ statusWriteIntervalMs: 30_000 });
    const { writes, requeues, bitrates } = await m.passes(12);
    expect(writes).toBeGreaterThanOrEqual(3); // the numbers do reach the status, late
    expect(writes).toBeLessThanOrEqual(4);
    expect(bitrates.size).toBe(writes + 1);
    // A deferred write asks for the pass that may make it; none asks later than the refresh period.
    for (const r of requeues) expect(r).toBeLessThanOrEqual(10_000);
  });

  it('without the limit, the same passes write every time (what the limit saves)', async () => {
    const m = await meshWithMovingRate({ statusWriteIntervalMs: 0 });
    expect((await m.passes(12)).writes).toBe(12);
  });

  it('a client joining is written at once, within the interval', async () => {
    const m = await meshWithMovingRate({ statusWriteIntervalMs: 30_000 });
    await m.passes(1);
    m.c.reflectors.state.get('10.1.0.1')!.clients.push(...clients(1));
    const { writes } = await m.passes(1);
    expect(writes).toBe(1);
    expect(m.c.mesh().status?.clients).toBe(5);
  });

  it('the reflectors\' rates are metrics, not status', async () => {
    const metrics = new OperatorMetrics();
    const m = await meshWithMovingRate({ statusWriteIntervalMs: 30_000, metrics });
    await m.passes(1);
    const families = parsePrometheusText(await metrics.registry.metrics());
    const pods = [...m.c.kube.pods.keys()];
    for (const reflector of pods) {
      expect(sampleValue(families, 'rmesh_mesh_reflector_outbound_bits_per_second', { namespace: 'media', mesh: 'conf', reflector })).toBeCloseTo(6.06e6, 0);
    }
    for (const row of m.c.mesh().status?.reflectors ?? []) expect(row).not.toHaveProperty('outboundMbps');
    expect(sampleValue(families, 'rmesh_operator_status_writes_total', { outcome: 'deferred' })).toBeGreaterThan(0);
  });
});
