// Soak: a mesh of real reflector processes under steady load with churn, for RMESH_SOAK_SECONDS (45 s
// in the suite; `npm run soak` runs 600 s). Steady clients send numbered datagrams the whole time;
// transient clients join, send and leave; a reflector joins (clients are redistributed to it), is
// SIGKILLed (its clients fail over) and is replaced by another. Checked throughout and at the end:
// - no datagram delivered twice, and none back to its sender, except around a migration or failover
//   of the sender or the receiver (make before break may overlap deliveries there);
// - each reflector's counters agree with what the clients sent to it and received from it, and its
//   /metrics with its status;
// - the resident memory (VmRSS) and open file descriptors of each long-lived reflector stay flat after
//   warm-up (the series is printed when they do not).
// Two long-lived reflectors run the default data plane (native when built), one the TypeScript one.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { startMesh, startReflector, meshMemberSpec, stopAll, waitForFullMesh, type MeshSpec, type ReflectorProcess } from '../../support/reflector-process.js';
import { sleep } from '../../support/wait.js';
import { TestClient, closeClients } from '../../support/mesh-traffic.js';
import { testClientToken } from '../../support/client-tokens.js';
import { parsePrometheusText, sampleValue } from '../../support/prometheus-text.js';
import { MeshClient } from '../../../client/mesh-client.js';
import type { StatusResponse } from '../../../protocol/api-schemas.js';

const SECONDS = Number(process.env.RMESH_SOAK_SECONDS ?? 45);
const DURATION_MS = SECONDS * 1000;
const TICK_MS = 25; // 40 datagrams per second per sender
const STEADY_CLIENTS = 6;
const TRANSIENT_EVERY_MS = 3000;
const TRANSIENT_LIFETIME_MS = 5000;
const SAMPLE_EVERY_MS = 2000;
/** Memory and descriptors are compared after this (JIT, buffers and pools settle). */
const WARM_UP_MS = Math.min(15_000, DURATION_MS * 0.3);
/** Around a migration or failover of the sender or receiver, duplicates are the protocol's overlap. */
const OVERLAP_BEFORE_MS = 1000;
const OVERLAP_AFTER_MS = 1500;

const CLIENT_IDLE_TIMEOUT_MS = 3000;
/**
 * After a failover the client has a new session (a fresh join, a new id) while the old one may live on
 * at a reflector that was only slow (a 'silent' failover under load): that reflector keeps delivering
 * to the old session, so the client may get duplicates and its own datagrams (under its new id) back,
 * until the old session is purged as idle. That is what a failover allows.
 */
const FAILOVER_OVERLAP_AFTER_MS = CLIENT_IDLE_TIMEOUT_MS + 1500;

const MESH: MeshSpec = {
  size: 3,
  addressPrefix: '127.0.9.',
  firstHost: 11,
  // Log level info: startReflector waits for the 'reflector started' line.
  common: { clientIdleTimeout: `${CLIENT_IDLE_TIMEOUT_MS}ms`, peerTimeout: '1500ms' },
};

interface Sample {
  atMs: number;
  rssKiB: number;
  fds: number;
}

function sampleProcess(pid: number, atMs: number): Sample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
    return { atMs, rssKiB, fds: readdirSync(`/proc/${pid}/fd`).length };
  } catch {
    return undefined; // exited
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}

function series(samples: Sample[]): string {
  return samples.map((s) => `${(s.atMs / 1000).toFixed(0)}s ${(s.rssKiB / 1024).toFixed(1)}MiB ${s.fds}fd`).join(', ');
}

interface Window {
  from: number;
  to: number;
}

/** A client of the soak: its traffic record, where it sent, and when it moved. */
class SoakClient {
  readonly sentTo = new Map<string, number>();
  readonly receivedVia = new Map<string, number>();
  readonly windows: Window[] = [];
  readonly failovers: string[] = [];
  /** Send time of each of its sequences. */
  readonly sentAt: number[] = [];
  sequence = 0;
  closedAt: number | undefined;

  constructor(
    readonly test: TestClient,
    readonly steady: boolean,
    private readonly reflectorAt: (address: string, port: number) => string,
    private readonly onReceipt: (receiver: SoakClient, sender: number, sequence: number, times: number) => void,
  ) {
    const client = test.client;
    client.on('data', (payload, _portIndex, from) => {
      const via = this.reflectorAt(from.address, from.port);
      this.receivedVia.set(via, (this.receivedVia.get(via) ?? 0) + 1);
      if (payload.length < 12 || payload.toString('latin1', 0, 4) !== 'TST!') return;
      const sender = payload.readUInt32BE(4);
      const sequence = payload.readUInt32BE(8);
      onReceipt(this, sender, sequence, test.received.get(sender)?.get(sequence) ?? 0);
    });
    client.on('migrated', (e) => this.windows.push({ from: Date.now() - e.durationMs - OVERLAP_BEFORE_MS, to: Date.now() + OVERLAP_AFTER_MS }));
    client.on('failover', (e) => {
      this.windows.push({ from: Date.now() - e.durationMs - e.silentMs - OVERLAP_BEFORE_MS, to: Date.now() + FAILOVER_OVERLAP_AFTER_MS });
      this.failovers.push(`${e.from.id} -> ${e.to.id} (${e.reason}, silent ${e.silentMs} ms)`);
    });
  }

  get index(): number {
    return this.test.index;
  }

  /** Sends its next numbered datagram to its reflector, counted against that reflector. */
  sendNext(): void {
    const at = this.test.client.reflector?.id;
    if (at === undefined) return; // failing over: the SDK would drop it
    const sequence = this.sequence++;
    this.sentAt[sequence] = Date.now();
    this.test.send(sequence);
    this.sentTo.set(at, (this.sentTo.get(at) ?? 0) + 1);
  }

  movingAt(t: number): boolean {
    return this.windows.some((w) => t >= w.from && t <= w.to);
  }
}

describe(`soak: a mesh under load and churn for ${SECONDS} s`, () => {
  const reflectors: ReflectorProcess[] = [];
  const clients: SoakClient[] = [];

  afterAll(async () => {
    closeClients(clients.map((c) => c.test));
    await stopAll(reflectors);
  });

  it('delivers once, never back to the sender, keeps counters consistent, and stays flat in memory and descriptors', async () => {
    const started = Date.now();
    const at = () => Date.now() - started;
    reflectors.push(...(await startMesh({ ...MESH, size: 2 })));
    // The third long-lived reflector runs the TypeScript data plane: both engines are soaked.
    reflectors.push(await startReflector({ ...(await meshMemberSpec(MESH, 2, reflectors[0]!.controlAddress)), dataPlane: 'js' }));
    await waitForFullMesh(reflectors, 15_000);
    const longLived = reflectors.slice(0, 3);

    // Data addresses -> reflector id, for what clients receive.
    const byDataAddress = new Map<string, string>();
    const known = (r: ReflectorProcess) => byDataAddress.set(`${r.spec.address}:${r.spec.dataPort}`, r.id);
    longLived.forEach(known);
    const reflectorAt = (address: string, port: number) => byDataAddress.get(`${address}:${port}`) ?? `unknown ${address}:${port}`;

    const violations: string[] = [];
    const lateDuplicates: { receiver: number; sender: number; sequence: number }[] = [];
    let allowedDuplicates = 0;
    let allowedEchoes = 0;
    const byIndex = new Map<number, SoakClient>();
    const onReceipt = (receiver: SoakClient, sender: number, sequence: number, times: number) => {
      const source = byIndex.get(sender);
      const sentAt = source?.sentAt[sequence] ?? Date.now();
      const moving = receiver.movingAt(sentAt) || (source?.movingAt(sentAt) ?? false);
      if (sender === receiver.index) {
        if (moving) allowedEchoes++;
        else violations.push(`${at()}ms: client ${receiver.index} got its own datagram ${sequence} back`);
      }
      if (times > 1) {
        if (moving) allowedDuplicates++;
        else lateDuplicates.push({ receiver: receiver.index, sender, sequence });
      }
    };

    let nextIndex = 0;
    const join = async (steady: boolean, via: ReflectorProcess) => {
      const index = nextIndex++;
      const client = new MeshClient({
        join: [via.controlAddress, ...reflectors.filter((r) => r !== via && !r.exit).map((r) => r.controlAddress)],
        token: testClientToken(),
        bindAddress: `127.0.9.${100 + (index % 150)}`,
        failoverTimeoutMs: 1000,
        name: steady ? `steady-${index}` : `transient-${index}`,
      });
      const soak = new SoakClient(new TestClient(index, client), steady, reflectorAt, onReceipt);
      byIndex.set(index, soak);
      await client.join();
      clients.push(soak);
      return soak;
    };
    for (let i = 0; i < STEADY_CLIENTS; i++) await join(true, longLived[i % 3]!);

    // ---- the run: a sender tick, resource samples, and the churn schedule
    const samples = new Map<string, Sample[]>(longLived.map((r) => [r.id, []]));
    const sample = () => {
      for (const r of longLived) {
        const s = r.child.pid === undefined ? undefined : sampleProcess(r.child.pid, at());
        if (s) samples.get(r.id)!.push(s);
      }
    };
    sample();
    const runStart = Date.now();
    const runAt = () => Date.now() - runStart;
    let running = true;
    const ticker = (async () => {
      while (running) {
        for (const c of clients) if (c.closedAt === undefined) c.sendNext();
        await sleep(TICK_MS);
      }
    })();
    const sampler = setInterval(sample, SAMPLE_EVERY_MS);

    const killedStatus = new Map<string, StatusResponse>();
    const events: string[] = [];
    const schedule = [
      { atMs: DURATION_MS * 0.15, done: false, run: async () => {
        const added = await startReflector(await meshMemberSpec({ ...MESH, firstHost: 14 }, 0, longLived[0]!.controlAddress));
        known(added);
        reflectors.push(added);
        events.push(`${runAt()}ms: reflector ${added.id} added`);
      } },
      { atMs: DURATION_MS * 0.45, done: false, run: async () => {
        const victim = reflectors[3]!;
        killedStatus.set(victim.id, await victim.status());
        await victim.kill('SIGKILL');
        events.push(`${runAt()}ms: reflector ${victim.id} SIGKILLed`);
        const replacement = await startReflector(await meshMemberSpec({ ...MESH, firstHost: 15 }, 0, longLived[1]!.controlAddress));
        known(replacement);
        reflectors.push(replacement);
        events.push(`${runAt()}ms: reflector ${replacement.id} replaces it`);
      } },
    ];
    let nextTransient = TRANSIENT_EVERY_MS;
    let joinFailures = 0;
    while (runAt() < DURATION_MS) {
      for (const step of schedule) {
        if (!step.done && runAt() >= step.atMs) {
          step.done = true;
          await step.run();
        }
      }
      if (runAt() >= nextTransient && runAt() < DURATION_MS - TRANSIENT_LIFETIME_MS) {
        nextTransient += TRANSIENT_EVERY_MS;
        const live = reflectors.filter((r) => !r.exit);
        try {
          const c = await join(false, live[nextIndex % live.length]!);
          setTimeout(() => {
            c.closedAt = Date.now();
            void c.test.client.leave().catch(() => c.test.client.close());
          }, TRANSIENT_LIFETIME_MS);
        } catch (err) {
          joinFailures++;
          events.push(`${runAt()}ms: a transient client could not join: ${(err as Error).message}`);
        }
      }
      await sleep(100);
    }
    running = false;
    await ticker;
    // In flight, and the last transient clients' leave.
    await sleep(2000);
    clearInterval(sampler);
    sample();

    // ---- counters: each live reflector against what the clients sent to it and got from it
    const live = reflectors.filter((r) => !r.exit);
    const statuses = new Map(await Promise.all(live.map(async (r) => [r.id, await r.status()] as const)));
    // The same counters as Prometheus sees them (nothing is sent now: keep-alives are not data).
    const metrics = new Map(await Promise.all(live.map(async (r) => [r.id, parsePrometheusText(await (await r.request('/metrics')).text())] as const)));
    const report: string[] = [];
    const counterChecks: (() => void)[] = [];
    for (const r of live) {
      const s = statuses.get(r.id)!;
      const sent = clients.reduce((n, c) => n + (c.sentTo.get(r.id) ?? 0), 0);
      const received = clients.reduce((n, c) => n + (c.receivedVia.get(r.id) ?? 0), 0);
      const dIn = s.counters.datagramsIn.client;
      const dOut = s.counters.datagramsOut.client;
      const line = `${r.id}: clients sent ${sent}, it counted ${dIn} in; it counted ${dOut} out to clients, they received ${received}`;
      report.push(line);
      const families = metrics.get(r.id)!;
      counterChecks.push(() => {
        for (const kind of ['client', 'peer'] as const) {
          expect(sampleValue(families, 'rmesh_datagrams_received_total', { source: kind }), `${r.id} /metrics vs status, in from ${kind}`).toBe(s.counters.datagramsIn[kind]);
          expect(sampleValue(families, 'rmesh_datagrams_sent_total', { destination: kind }), `${r.id} /metrics vs status, out to ${kind}`).toBe(s.counters.datagramsOut[kind]);
        }
        // Nothing is counted that was not sent, and (loopback, no policing at this rate) little is lost.
        expect(dIn, line).toBeLessThanOrEqual(sent);
        expect(dIn, line).toBeGreaterThanOrEqual(Math.floor(sent * 0.98) - 20);
        expect(received, line).toBeLessThanOrEqual(dOut);
        expect(received, line).toBeGreaterThanOrEqual(Math.floor(dOut * 0.98) - 20);
        expect(s.clients.filter((c) => c.name?.startsWith('transient-')), `${r.id} still has transient clients`).toEqual([]);
      });
    }
    // Every steady client ends on a live reflector, and the live reflectors serve exactly them (by the
    // name each gave at its join, which a migration or an admission at a peer keeps).
    // Sessions left behind by a failover away from a slow reflector go when they are idle: wait for that.
    const steadyNames = clients.filter((c) => c.steady).map((c) => `steady-${c.index}`).sort();
    const sessionsNow = async () =>
      (await Promise.all(live.map(async (r) => (await r.status()).clients.map((c) => ({ at: r.id, name: c.name ?? `unnamed ${c.clientId}`, state: c.state })))))
        .flat()
        .sort((x, y) => x.name.localeCompare(y.name));
    let served = await sessionsNow();
    const convergeBy = Date.now() + CLIENT_IDLE_TIMEOUT_MS + 5000;
    while (JSON.stringify(served.map((x) => x.name)) !== JSON.stringify(steadyNames) && Date.now() < convergeBy) {
      await sleep(250);
      served = await sessionsNow();
    }
    const failovers = clients.flatMap((c) => c.failovers.map((f) => `client ${c.index}: ${f}`));

    // ---- delivery: duplicates and echoes outside migrations, and how much arrived
    let expected = 0;
    let arrived = 0;
    for (const receiver of clients.filter((c) => c.steady)) {
      for (const sender of clients) {
        if (sender === receiver) continue;
        for (let seq = 0; seq < sender.sequence; seq++) {
          const t = sender.sentAt[seq]!;
          if (receiver.movingAt(t) || sender.movingAt(t)) continue;
          expected++;
          if (receiver.test.received.get(sender.index)?.has(seq)) arrived++;
        }
      }
    }
    const delivery = arrived / Math.max(1, expected);
    const rssReport = longLived.map((r) => `${r.id}: ${series(samples.get(r.id)!)}`);
    console.log(
      [
        `soak ${SECONDS}s: ${clients.length} clients (${STEADY_CLIENTS} steady), ${clients.reduce((n, c) => n + c.sequence, 0)} datagrams sent`,
        ...events,
        `failovers: ${failovers.length}${failovers.length > 0 ? `\n  ${failovers.slice(0, 12).join('\n  ')}` : ''}`,
        `delivered outside migrations: ${arrived}/${expected} (${(delivery * 100).toFixed(3)}%); duplicates allowed by a migration: ${allowedDuplicates}, echoes: ${allowedEchoes}; join failures: ${joinFailures}`,
        ...report,
        'memory and descriptors:',
        ...rssReport,
      ].join('\n'),
    );
    for (const check of counterChecks) check();
    expect(served.map((x) => x.name), `sessions at the end: ${JSON.stringify(served)}`).toEqual(steadyNames);
    expect(violations).toEqual([]);
    expect(lateDuplicates.slice(0, 20), `${lateDuplicates.length} datagrams delivered twice outside any migration`).toEqual([]);
    expect(joinFailures).toBe(0);
    expect(delivery, 'share of datagrams delivered outside migrations and failovers').toBeGreaterThan(0.95);

    // ---- memory and descriptors of the long-lived reflectors: flat after warm-up
    for (const r of longLived) {
      const all = samples.get(r.id)!;
      const after = all.filter((s) => s.atMs >= WARM_UP_MS + (runStart - started));
      expect(after.length, `samples of ${r.id} after warm-up`).toBeGreaterThanOrEqual(4);
      const quarter = Math.max(2, Math.floor(after.length / 4));
      const early = after.slice(0, quarter);
      const late = after.slice(-quarter);
      const rssGrowthKiB = median(late.map((s) => s.rssKiB)) - median(early.map((s) => s.rssKiB));
      // Bounded growth: a leak of a few hundred bytes per datagram shows in a 45 s run; GC noise does not.
      const rssBoundKiB = 24 * 1024 + median(early.map((s) => s.rssKiB)) * 0.25;
      expect(rssGrowthKiB, `${r.id} resident memory grew ${(rssGrowthKiB / 1024).toFixed(1)} MiB after warm-up (bound ${(rssBoundKiB / 1024).toFixed(1)} MiB): ${series(all)}`).toBeLessThanOrEqual(rssBoundKiB);
      // Descriptors: sockets of the clients' event streams and peers come and go; at the end, with only
      // the steady clients left, no more are open than after warm-up.
      const fdBaseline = Math.max(...early.map((s) => s.fds));
      const fdEnd = all.at(-1)!.fds;
      expect(fdEnd, `${r.id} holds ${fdEnd} descriptors at the end, ${fdBaseline} after warm-up: ${series(all)}`).toBeLessThanOrEqual(fdBaseline + 4);
      expect(Math.max(...after.map((s) => s.fds)), `${r.id} descriptors during the run: ${series(all)}`).toBeLessThanOrEqual(fdBaseline + 2 * STEADY_CLIENTS + 16);
    }
  }, (SECONDS + 180) * 1000);
});
