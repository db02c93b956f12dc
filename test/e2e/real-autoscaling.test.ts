// Autoscaling with the operator's capacity buffer (spec.scaling.buffer, issue 15) on a real cluster (the
// harness's real nodes, or a kubeconfig's cluster: see harness/cluster.ts), with real traffic. A small
// budget (30 Mbit/s per reflector, 1 Mbit/s streams: 1, 2, 3 reflectors serve 6, 7, 9 clients) and a
// buffer of 2 clients: four clients fill one reflector to its buffer; the fifth join uses the buffer
// up and the operator adds a reflector, the sixth another. The two leave; after the 25 s scale-down
// window the mesh shrinks back to one reflector, draining each that goes. Twice, so the time from the
// join that used up the buffer to the new reflector serving is measured four times (printed, copied
// into docs/performance.md "Time to serve: autoscaling"; not asserted as a timing).
//
// Sampled every second throughout: the reflector count and status.desiredReplicas. Asserted: they go
// 1 → 2 → 3 → 2 → 1 in each round and never flap (no removal followed by an addition within the window),
// the first removal comes at least a window after the clients left, every reflector removed with
// clients was drained first (a Draining event, no DrainTimeout), no client failed over or lost a
// datagram outside a migration's make-before-break window, and status.autoscaling shows the free slots,
// the recommended size and the reason the capacity model gives (model/buffer.ts planBuffer).
import { describe, expect, it } from 'vitest';
import { budgetOf, planBuffer } from '../../model/index.js';
import { allSendRecv } from '../../protocol/roles.js';
import { waitFor } from './harness/cluster.js';
import { meshEvents, sampleMesh, timeToServe, type ServeTiming } from './harness/autoscaling.js';
import { applyMesh, meshBalanced, meshConverged, meshPods, podReady, readMesh, type ClientReport, type RunningClient } from './harness/mesh.js';
import { describeMoves } from './harness/reports.js';
import {
  countChanges, describeChanges, desiredCounts, findFlaps, longestSampleGapMs, lossOutsideMigrations, reflectorCounts, removedPods, summariseDurations,
} from './harness/samples.js';
import { meshScenario } from './harness/scenario.js';

const name = 'buffered';
const ports = { data: 5304, control: 7700 };
const windowSeconds = 25;
const windowMs = windowSeconds * 1000;
const bufferSize = 2;
const stream = { bitrateMbps: 1 };
const capacity = { outboundMbps: 30, headroom: 0 };
const bounds = { minReplicas: 1, maxReplicas: 3 };
/** Clients that stay throughout: with them one reflector has exactly the buffer free. */
const stayingCount = 4;
const rounds = 2;

/** What the capacity model says for n clients: the size the buffer asks for and its free slots. */
const plan = (n: number) =>
  planBuffer({
    clients: allSendRecv(n), budget: budgetOf(stream.bitrateMbps, capacity.outboundMbps, capacity.headroom), target: { clients: bufferSize },
    minReflectors: bounds.minReplicas, maxReflectors: bounds.maxReplicas,
  });

describe('a real cluster: a mesh keeping a buffer of free client slots', () => {
  const scenario = meshScenario();
  const client = (i: number) => scenario.cluster.clientAddress(i);

  /** The mesh's status once it counts `clients` clients and recommends `recommended` reflectors. */
  const statusWith = (clients: number, recommended: number) =>
    waitFor(`mesh ${name}: status counting ${clients} clients, recommending ${recommended} reflectors`, async () => {
      const status = (await readMesh(scenario.cluster, name)).status;
      return status?.clients === clients && status.autoscaling?.recommendedReplicas === recommended ? status : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });

  /** Joins one client at a reflector of the mesh (its n-th), times the scale-up it causes, and waits for the clients to be spread. */
  async function joinAndTime(n: number, clientName: string, bind: string | undefined): Promise<{ client: RunningClient; timing: ServeTiming }> {
    const { cluster } = scenario;
    const pods = await meshConverged(cluster, { name, controlPort: ports.control, replicas: plan(n - 1).reflectors });
    const addresses = pods.map((p) => p.status?.hostIP ?? '');
    const [joined] = await scenario.startClientsInTurn(
      [{ join: addresses.map((a) => `${a}:${ports.control}`).join(','), bind, duration: '30m', bitrate: '800kbps', name: clientName }],
      { addresses, controlPort: ports.control },
    );
    const timing = await timeToServe(cluster, { name, controlPort: ports.control }, pods.map((p) => p.metadata?.name ?? ''), Date.now());
    console.log(`[real-autoscaling] client ${n} (${clientName}) used up the buffer: ${JSON.stringify(timing)}`);
    await meshBalanced(cluster, { name, controlPort: ports.control, replicas: plan(n).reflectors, clients: n });
    const status = await statusWith(n, plan(n).reflectors);
    expect(status.desiredReplicas).toBe(plan(n).reflectors);
    expect(status.autoscaling).toMatchObject({ bufferClients: bufferSize, freeClientSlots: plan(n).freeClientSlots, maxClients: plan(n).maxClients });
    expect(status.autoscaling?.reason).toContain(`covering the buffer of ${bufferSize}`);
    return { client: joined!, timing };
  }

  /** Stops `leaving` and waits for the mesh to shrink back to one reflector; returns their reports and when they had left. */
  async function leaveAndShrink(leaving: RunningClient[], sampler: ReturnType<typeof sampleMesh>): Promise<{ reports: ClientReport[]; leftAtMs: number }> {
    const { cluster } = scenario;
    // From the stop: a client leaves the mesh at once and lingers a second before it exits.
    const leftAtMs = Date.now();
    for (const c of leaving) c.stop();
    const reports = await Promise.all(leaving.map((c) => c.report));
    // The recommendation drops at once; the window holds the size (status says so, and why).
    const held = await statusWith(stayingCount, plan(stayingCount).reflectors);
    expect(held.desiredReplicas).toBe(bounds.maxReplicas);
    expect(held.autoscaling?.freeClientSlots).toBe(plan(stayingCount).options[bounds.maxReplicas - 1]!.freeClientSlots);
    expect(held.autoscaling?.reason).toContain(`scale-down stabilisation (${windowSeconds}s) keeps ${bounds.maxReplicas}`);
    await meshBalanced(cluster, { name, controlPort: ports.control, replicas: plan(stayingCount).reflectors, clients: stayingCount }, 240_000);
    // The balanced mesh leaves out a pod still terminating; the 1 s samples count it until it is gone.
    const target = plan(stayingCount).reflectors;
    await waitFor(`the samples to count ${target} reflector(s)`, () => (reflectorCounts(sampler.samples).at(-1)?.count === target ? true : undefined), { timeoutMs: 60_000 });
    const removals = countChanges(reflectorCounts(sampler.samples)).filter((c) => c.atMs > leftAtMs && c.to < c.from);
    console.log(`[real-autoscaling] clients left; reflectors removed ${removals.map((c) => `${c.from} → ${c.to} after ${((c.atMs - leftAtMs) / 1000).toFixed(1)} s`).join(', ')}`);
    expect(removals.map((c) => [c.from, c.to])).toEqual([[3, 2], [2, 1]]);
    expect(removals[0]!.atMs - leftAtMs, 'the first removal came only after the scale-down window').toBeGreaterThanOrEqual(windowMs);
    return { reports, leftAtMs };
  }

  /** What the mesh looked like, for a failed run's log: the count's history, the last sample, status, pods and events. */
  async function printState(sampler: ReturnType<typeof sampleMesh>, originMs: number): Promise<void> {
    const { cluster } = scenario;
    const status = await readMesh(cluster, name).then((m) => m.status, (e: Error) => e.message);
    const pods = await meshPods(cluster, name).then(
      (list) => list.map((p) => ({ name: p.metadata?.name, ready: podReady(p), deleting: p.metadata?.deletionTimestamp, ip: p.status?.hostIP })),
      (e: Error) => e.message,
    );
    const events = await meshEvents(cluster, name).catch((e: Error) => e.message);
    const logs = await cluster.kubectl(['logs', '-n', 'rmesh-system', '-l', 'app.kubernetes.io/component=operator', '--tail=80'], { allowFailure: true });
    console.log(
      `[real-autoscaling] FAILED; reflectors: ${describeChanges(reflectorCounts(sampler.samples), originMs)}; desired: ${describeChanges(desiredCounts(sampler.samples), originMs)}\n` +
        `last sample: ${JSON.stringify(sampler.samples[sampler.samples.length - 1])}\nstatus: ${JSON.stringify(status)}\npods: ${JSON.stringify(pods)}\nevents: ${JSON.stringify(events)}\noperator log:\n${logs.stdout}${logs.stderr}`,
    );
  }

  it('grows as clients use up the buffer and shrinks after its window when they leave: drained, no flap, nothing lost', async () => {
    const { cluster } = scenario;
    await applyMesh(cluster, {
      apiVersion: 'rmesh.io/v1alpha1',
      kind: 'ReflectorMesh',
      metadata: { name },
      spec: {
        stream,
        capacity,
        scaling: {
          mode: 'Model', ...bounds,
          buffer: { clients: bufferSize, scaleUpStabilizationSeconds: 0, scaleDownStabilizationSeconds: windowSeconds, scaleUpReflectors: 4, scaleDownReflectors: 1, ratePeriodSeconds: 5 },
        },
        ports,
      },
    });
    const [first] = await meshConverged(cluster, { name, controlPort: ports.control, replicas: 1 }, 300_000);
    const sampler = sampleMesh(cluster, name);
    const originMs = Date.now();
    const timings: ServeTiming[] = [];
    const reports: ClientReport[] = [];
    let staying: RunningClient[];
    try {
      staying = await scenario.startClientsInTurn(
        Array.from({ length: stayingCount }, (_, i) => ({
          join: `${first?.status?.hostIP}:${ports.control}`, bind: client(i + 1), duration: '30m', bitrate: '800kbps', name: `s${i}`,
        })),
        { addresses: [first?.status?.hostIP ?? ''], controlPort: ports.control },
      );
      const full = await statusWith(stayingCount, 1);
      expect(full.desiredReplicas).toBe(1);
      expect(full.autoscaling).toMatchObject({ bufferClients: bufferSize, freeClientSlots: bufferSize, recommendedReplicas: 1 });
      expect(full.autoscaling?.reason).toContain(`1 reflector serve ${stayingCount} clients and leave ${bufferSize} free client slots, covering the buffer of ${bufferSize}`);

      for (let round = 0; round < rounds; round++) {
        const joiners: RunningClient[] = [];
        for (const extra of [1, 2]) {
          const n = stayingCount + extra;
          const { client: c, timing } = await joinAndTime(n, `j${round}${extra}`, client(stayingCount + 2 * round + extra));
          joiners.push(c);
          timings.push(timing);
        }
        const left = await leaveAndShrink(joiners, sampler);
        reports.push(...left.reports);
        if (round + 1 < rounds) {
          // The next round adds reflectors again: past the window, so that is demand, not a flap.
          const lastRemoval = countChanges(reflectorCounts(sampler.samples)).filter((c) => c.to < c.from).pop()!;
          await new Promise((r) => setTimeout(r, Math.max(0, lastRemoval.atMs + windowMs + 1000 - Date.now())));
        }
      }
      await new Promise((r) => setTimeout(r, 3000)); // traffic on the settled mesh
    } catch (err) {
      await printState(sampler, originMs);
      throw err;
    } finally {
      await sampler.stop();
    }
    expect(staying.filter((c) => c.exited)).toEqual([]);
    for (const c of staying) c.stop();
    const stayed = await Promise.all(staying.map((c) => c.report));
    reports.push(...stayed);

    const counts = reflectorCounts(sampler.samples);
    const desired = desiredCounts(sampler.samples);
    console.log(
      `[real-autoscaling] reflectors: ${describeChanges(counts, originMs)}\n[real-autoscaling] desired: ${describeChanges(desired, originMs)}\n` +
        `[real-autoscaling] longest gap between samples ${longestSampleGapMs(sampler.samples)} ms; failed reads: ${sampler.errors.length}`,
    );
    console.log(`[real-autoscaling] time to serve (join that used up the buffer -> new reflector Ready and peered both ways): ${summariseDurations(timings.map((t) => t.servingMs))}`);
    for (const t of timings) console.log(`[real-autoscaling]   ${t.pod}: decided ${t.decidedMs} ms, pod ${t.createdMs} ms, Ready ${t.readyMs} ms, serving ${t.servingMs} ms`);
    console.log(`[real-autoscaling] clients:\n${describeMoves(reports)}`);

    // The count, sampled every second, went 1 → 2 → 3 → 2 → 1 each round, and never flapped.
    expect(longestSampleGapMs(sampler.samples), 'a sample at least every 5 s (a flap could hide between samples otherwise)').toBeLessThanOrEqual(5000);
    expect(countChanges(counts).map((c) => [c.from, c.to])).toEqual(Array.from({ length: rounds }, () => [[1, 2], [2, 3], [3, 2], [2, 1]]).flat());
    expect(findFlaps(counts, windowMs)).toEqual([]);
    expect(findFlaps(desired, windowMs)).toEqual([]);

    // Every scale-down drained first: each reflector removed while holding clients had a Draining event;
    // none was deleted for a drain that timed out (its clients would have failed over).
    const events = await meshEvents(cluster, name);
    expect(events.filter((e) => e.reason === 'DrainTimeout')).toEqual([]);
    const removals = removedPods(sampler.samples);
    expect(removals).toHaveLength(2 * rounds);
    for (const r of removals) {
      const held = r.lastSeen.reflectors.find((x) => x.name === r.pod)?.clients ?? 0;
      const drained = events.some((e) => e.reason === 'Draining' && e.message.includes(`draining reflector ${r.pod} `));
      expect(drained || held === 0, `${r.pod} removed while its last report had ${held} clients, without a Draining event`).toBe(true);
    }
    expect(events.filter((e) => e.reason === 'Draining').length).toBeGreaterThanOrEqual(1);

    // No failover, nothing lost outside a migration's make-before-break window; the staying clients hear each other.
    for (const r of reports) {
      expect(r.failovers, `${r.name} failed over`).toEqual([]);
      expect(lossOutsideMigrations(r), `${r.name} lost datagrams outside its migrations`).toBe(0);
      expect(r.received.total).toBeGreaterThan(0);
    }
    for (const receiver of stayed) {
      const heard = receiver.received.sources.map((s) => s.ssrc);
      for (const sender of stayed) if (sender !== receiver) expect(heard, `${receiver.name} hears ${sender.name}`).toContain(sender.sender.ssrc);
    }
    expect(reports.reduce((n, r) => n + r.migrations.length, 0)).toBeGreaterThanOrEqual(1);
    await cluster.kubectl(['delete', 'rmesh', name, '--wait=true', '--timeout=120s'], { timeoutMs: 150_000 });
  }, 1_500_000); // two rounds of two scale-ups, a 25 s window and two drains, on a busy 2-core machine
});
