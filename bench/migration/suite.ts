// The migration-and-failover suite, over real `rmesh reflector` processes and clients (client groups),
// both in one run:
// - migration: m reflectors serve n clients; one more reflector joins, asks for clients, and the mesh
//   moves some to it (make before break); each moved client reports its migration's time, gap and loss.
// - failover: then the reflector serving the most clients is SIGKILLed; its
//   clients notice the silence (the client SDK's 3 s failover timeout, its default) and move to another
//   reflector by themselves; each reports the time from the silence to registered elsewhere, its gap
//   and its loss.
import { startMesh, type ReflectorProcess } from '../../test/support/reflector-process.js';
import { sleep } from '../../tools/wait.js';
import { BENCH_MESH_KEY, benchMesh, startBenchMember } from '../lib/reflectors.js';
import { runClients, timing, windowLoss, type ClientsRun } from '../mesh/clients.js';
import type { Suite, SuiteContext } from '../lib/suite.js';
import { eventsMarkdown, samplesOf, summarizeEvents, type EventSample } from './events.js';

interface Plan {
  runs: number;
  /** Reflectors before one joins (m; m + 1 after, then one of those is killed). */
  reflectors: number;
  clients: number;
  /** After the join, until the clients have moved. */
  migrationMs: number;
  /** After the SIGKILL, until the clients stop: the failover timeout plus a join. */
  failoverMs: number;
}

const PLANS: Record<'full' | 'quick', Plan> = {
  full: { runs: 3, reflectors: 2, clients: 12, migrationMs: 2500, failoverMs: 5500 },
  quick: { runs: 1, reflectors: 2, clients: 8, migrationMs: 1500, failoverMs: 4500 },
};

const BITRATE_BPS = 1_000_000;
const PACKET_SIZE = 1200;

// Reflectors 127.0.8.30.. (their ports asked of the OS), clients 127.0.8.160...
const mesh = (m: number) => benchMesh(m, '127.0.8.', 30);

/** Waits until the reflectors serve `n` active clients together; resolves to the count per reflector. */
async function waitForClients(reflectors: ReflectorProcess[], n: number, timeoutMs = 20_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await Promise.all(reflectors.map(async (r) => (await r.status().catch(() => undefined))?.clients.filter((c) => c.state === 'active').length ?? 0));
    if (counts.reduce((a, b) => a + b, 0) >= n) return counts;
    if (Date.now() > deadline) throw new Error(`only ${counts.reduce((a, b) => a + b, 0)} of ${n} clients joined within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * One run: m reflectors, the clients, a reflector joins (migrations), then the reflector serving the
 * most clients is SIGKILLed (failovers); the clients' reports.
 */
async function oneRun(plan: Plan, run: number, log: SuiteContext['log']): Promise<{ samples: EventSample[]; loss: number }> {
  const reflectors = await startMesh(mesh(plan.reflectors));
  try {
    const clientsRun: ClientsRun = {
      join: reflectors.map((r) => r.id),
      meshKey: BENCH_MESH_KEY,
      addresses: Array.from({ length: plan.clients }, (_, i) => `127.0.8.${160 + i}`),
      staggerMs: 100,
      warmupMs: 1000,
      // An upper bound: the run stops the clients when it is done (a late start has slack).
      windowMs: plan.migrationMs + plan.failoverMs + 20_000,
      bitrateBps: BITRATE_BPS,
      packetSize: PACKET_SIZE,
      groups: 2,
    };
    const stop = new AbortController();
    const clients = runClients(clientsRun, stop.signal);
    clients.catch(() => undefined); // awaited below
    try {
      // The clients' processes may start late on a busy machine: act once every client is served (and
      // traffic has flowed for a moment), not by the clock alone.
      await sleep(timing(clientsRun).windowMs[0] - clientsRun.warmupMs);
      let placement = await waitForClients(reflectors, plan.clients);
      await sleep(clientsRun.warmupMs);
      log(`run ${run + 1}: reflector ${plan.reflectors + 1} joins a mesh of ${plan.reflectors} serving ${plan.clients} clients (${placement.join('/')})`);
      reflectors.push(await startBenchMember(mesh(plan.reflectors), plan.reflectors, reflectors[0]!.controlAddress));
      await sleep(plan.migrationMs);
      placement = await waitForClients(reflectors, plan.clients);
      const victim = reflectors[placement.indexOf(Math.max(...placement))]!;
      log(`run ${run + 1}: SIGKILL of ${victim.id}, serving ${Math.max(...placement)} of ${plan.clients} clients (${placement.join('/')})`);
      victim.child.kill('SIGKILL');
      await sleep(plan.failoverMs);
    } finally {
      stop.abort();
    }
    const results = await clients;
    const samples = samplesOf(run, results);
    for (const s of samples) log(`  ${s.client} ${s.kind} ${s.from} -> ${s.to}: ${s.durationMs.toFixed(1)} ms, gap ${s.gapMs?.toFixed(1) ?? '-'} ms, lost ${s.lost}`);
    return { samples, loss: windowLoss(results, 0).loss };
  } finally {
    await Promise.all(reflectors.map((r) => r.stop(3000)));
  }
}

export const migrationSuite: Suite = {
  name: 'migration',
  description: 'migration gap and loss when a reflector joins (m to m+1); failover time after SIGKILL of a client\'s reflector',
  async run({ quick, log }) {
    const plan = PLANS[quick ? 'quick' : 'full'];
    const samples: EventSample[] = [];
    const runLoss: { run: number; loss: number }[] = [];
    for (let run = 0; run < plan.runs; run++) {
      const r = await oneRun(plan, run, log);
      samples.push(...r.samples);
      runLoss.push({ run, loss: r.loss });
    }
    const summaries = [summarizeEvents('migration', samples), summarizeEvents('failover', samples)];
    const rate = `${BITRATE_BPS / 1e6} Mbit/s per client, ${PACKET_SIZE}-byte datagrams`;
    const setup = {
      migration: `${plan.reflectors} reflectors serving ${plan.clients} clients (${rate}); a reflector joins and the mesh moves clients to it (make before break); ${plan.runs} run(s)`,
      failover: `then SIGKILL of the reflector with the most clients; its clients notice after the client SDK's default failover timeout (3 s of silence) and join another; ${plan.runs} run(s)`,
    };
    return { json: { plan, bitrateBps: BITRATE_BPS, packetSize: PACKET_SIZE, summaries, runLoss, samples }, markdown: eventsMarkdown(summaries, setup, quick) };
  },
};
