// The migration-and-failover suite, over real `rmesh reflector` processes and in-process clients:
// - migration: m reflectors serve n clients; one more reflector joins, asks for clients, and the mesh
//   moves some to it (make before break); each moved client reports its migration's time, gap and loss.
// - failover: m reflectors serve n clients; the reflector serving the most clients is SIGKILLed; its
//   clients notice the silence (the client SDK's 3 s failover timeout, its default) and move to another
//   reflector by themselves; each reports the time from the silence to registered elsewhere, its gap
//   and its loss.
import { DEMO_MESH_KEY, DemoReflector, sleep, waitForFullMesh, type DemoReflectorSpec } from '../../reflector/tools/demo/reflectors.js';
import { runClients, timing, windowLoss, type ClientsRun } from '../mesh/clients.js';
import type { Suite, SuiteContext } from '../lib/suite.js';
import { eventsMarkdown, samplesOf, summarizeEvents, type EventSample } from './events.js';

interface Plan {
  runs: number;
  reflectors: number;
  clients: number;
  /** After the event, until the clients stop: failover needs its timeout plus a join. */
  afterMs: number;
}

const PLANS: Record<'full' | 'quick', Record<'migration' | 'failover', Plan>> = {
  full: { migration: { runs: 3, reflectors: 2, clients: 12, afterMs: 3000 }, failover: { runs: 3, reflectors: 3, clients: 9, afterMs: 6000 } },
  quick: { migration: { runs: 1, reflectors: 2, clients: 8, afterMs: 2000 }, failover: { runs: 1, reflectors: 3, clients: 6, afterMs: 5000 } },
};

const BITRATE_BPS = 1_000_000;
const PACKET_SIZE = 1200;

// 127.0.8.30.. (migration) and .40.. (failover) reflectors; clients .160.. and .200..; ports 48200-48599.
const SPACES = {
  migration: { reflector: 30, client: 160, dataPort: 48200, controlPort: 48300 },
  failover: { reflector: 40, client: 200, dataPort: 48400, controlPort: 48500 },
};

function spec(kind: 'migration' | 'failover', i: number): DemoReflectorSpec {
  const s = SPACES[kind];
  return { address: `127.0.8.${s.reflector + i}`, dataPort: s.dataPort + i, controlPort: s.controlPort + i };
}

async function startMesh(kind: 'migration' | 'failover', m: number): Promise<DemoReflector[]> {
  const first = await DemoReflector.start(spec(kind, 0));
  const all = [first];
  try {
    all.push(...(await Promise.all(Array.from({ length: m - 1 }, (_, i) => DemoReflector.start({ ...spec(kind, i + 1), join: first.id })))));
    await waitForFullMesh(all);
    return all;
  } catch (err) {
    await Promise.all(all.map((r) => r.stop(1000)));
    throw err;
  }
}

/** One run: the mesh, the clients, the event at the window's start, the clients' reports. */
async function oneRun(kind: 'migration' | 'failover', plan: Plan, run: number, log: SuiteContext['log']): Promise<{ samples: EventSample[]; loss: number }> {
  const reflectors = await startMesh(kind, plan.reflectors);
  const extra: DemoReflector[] = [];
  try {
    const clientsRun: ClientsRun = {
      join: reflectors.map((r) => r.id),
      meshKey: DEMO_MESH_KEY,
      addresses: Array.from({ length: plan.clients }, (_, i) => `127.0.8.${SPACES[kind].client + i}`),
      staggerMs: 60,
      warmupMs: 1000,
      windowMs: plan.afterMs,
      bitrateBps: BITRATE_BPS,
      packetSize: PACKET_SIZE,
      groups: 2,
    };
    const clients = runClients(clientsRun);
    clients.catch(() => undefined); // awaited below
    await sleep(timing(clientsRun).windowMs[0]);
    if (kind === 'migration') {
      log(`run ${run + 1}: reflector ${plan.reflectors + 1} joins a mesh of ${plan.reflectors} serving ${plan.clients} clients`);
      extra.push(await DemoReflector.start({ ...spec(kind, plan.reflectors), join: reflectors[0]!.id }));
    } else {
      const counts = await Promise.all(reflectors.map(async (r) => (await r.status()).clients.filter((c) => c.state === 'active').length));
      const victim = reflectors[counts.indexOf(Math.max(...counts))]!;
      log(`run ${run + 1}: SIGKILL of ${victim.id}, serving ${Math.max(...counts)} of ${plan.clients} clients`);
      victim.child.kill('SIGKILL');
    }
    const results = await clients;
    const samples = samplesOf(run, results);
    const w = windowLoss(results, 0);
    for (const s of samples) log(`  ${s.client} ${s.kind} ${s.from} -> ${s.to}: ${s.durationMs.toFixed(1)} ms, gap ${s.gapMs?.toFixed(1) ?? '-'} ms, lost ${s.lost}`);
    return { samples, loss: w.loss };
  } finally {
    await Promise.all([...reflectors, ...extra].map((r) => r.stop(3000)));
  }
}

export const migrationSuite: Suite = {
  name: 'migration',
  description: 'migration gap and loss when a reflector joins (m to m+1); failover time after SIGKILL of a client\'s reflector',
  async run({ quick, log }) {
    const plans = PLANS[quick ? 'quick' : 'full'];
    const samples: EventSample[] = [];
    const runLoss: { kind: string; run: number; loss: number }[] = [];
    for (const kind of ['migration', 'failover'] as const) {
      for (let run = 0; run < plans[kind].runs; run++) {
        const r = await oneRun(kind, plans[kind], run, log);
        samples.push(...r.samples);
        runLoss.push({ kind, run, loss: r.loss });
      }
    }
    const summaries = [summarizeEvents('migration', samples), summarizeEvents('failover', samples)];
    const rate = `${BITRATE_BPS / 1e6} Mbit/s per client, ${PACKET_SIZE}-byte datagrams`;
    const setup = {
      migration: `${plans.migration.reflectors} reflectors serving ${plans.migration.clients} clients (${rate}); a reflector joins and the mesh rebalances to it; ${plans.migration.runs} run(s)`,
      failover: `${plans.failover.reflectors} reflectors serving ${plans.failover.clients} clients (${rate}); SIGKILL of the reflector with the most clients; the client SDK's default failover timeout (3 s of silence); ${plans.failover.runs} run(s)`,
    };
    return { json: { plans, bitrateBps: BITRATE_BPS, packetSize: PACKET_SIZE, summaries, runLoss, samples }, markdown: eventsMarkdown(summaries, setup, quick) };
  },
};
