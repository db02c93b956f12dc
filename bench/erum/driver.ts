// The Erum experiment's driver: runs in a private network namespace of its own (the suite starts it
// with `unshare --net`), builds the testbed there, and runs the capacity search for each m and the
// migration cases. Prints JSON lines (progress, one row per finished m or case, then "done") and appends
// the rows to a journal file, so a run cut short keeps what it measured.
// usage: unshare --net node dist/bench/erum/driver.js CONFIG_JSON   (DriverConfig)
import { appendFileSync } from 'node:fs';
import { sleep } from '../../tools/demo/reflectors.js';
import { runClients, timing } from '../mesh/clients.js';
import { samplesOf, type EventSample } from '../migration/events.js';
import { byteExactClients, mean, measuredClients, modelClients, modelPeakStreams, nextCandidate, placedPeakStreams, verdict } from './params.js';
import { Testbed, type TrialResult } from './testbed.js';

export interface DriverConfig {
  capacity?: { reflectors: number[]; repeats: number; windowMs: number };
  migration?: { cases: { m: number; n: number }[]; runs: number };
  journal?: string;
}

/** One m of the capacity experiment. */
export interface CapacityRow {
  m: number;
  /** The planner's n (one receive-only client, the rest send and receive). */
  model: number;
  /** The model's lowest peak (streams) at the model's n and at one more. */
  modelPeak: [number, number];
  /** The model's n with every byte on the wire counted (the peer header too): byteExactClients. */
  byteExact?: number;
  measured: number;
  /** Every trial, in the order run. */
  trials: TrialResult[];
}

export interface MigrationRow {
  m: number;
  n: number;
  run: number;
  /** Clients per reflector before the join. */
  before: number[];
  samples: EventSample[];
}

export type DriverLine = { log: string } | { capacity: CapacityRow } | { migration: MigrationRow } | { done: true } | { error: string };

function emit(line: DriverLine, journal?: string): void {
  const text = `${JSON.stringify(line)}\n`;
  process.stdout.write(text);
  if (journal && !('log' in line)) appendFileSync(journal, text);
}

const log = (message: string): void => emit({ log: message });
const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

async function capacity(bed: Testbed, m: number, repeats: number, windowMs: number): Promise<CapacityRow> {
  await bed.growTo(m);
  const model = modelClients(m);
  const trials: TrialResult[] = [];
  const losses = new Map<number, number[]>();
  for (;;) {
    const n = nextCandidate(model, losses, repeats, Testbed.maxClients);
    if (n === undefined) break;
    const t = await bed.trial(n, windowMs, log);
    trials.push(t);
    losses.set(n, [...(losses.get(n) ?? []), t.worstLoss]);
    const peak = Math.max(...t.linkWireBps);
    log(
      `m=${m} n=${n}: worst loss ${pct(t.worstLoss)} (${t.worstClient}), placement ${t.placement.map((p) => `${p.sendrecv}${p.recvonly ? '+r' : ''}`).join('/')} ` +
        `(model peak ${placedPeakStreams(t.placement)} streams), peak link ${(peak / 1e6).toFixed(3)} Mbit/s, drops ${t.linkDropped.join('/')}, ` +
        `CPU ours ${t.cpu.ours.toFixed(2)} machine ${t.cpu.machine.toFixed(2)} → ${verdict(losses.get(n), repeats)}`,
    );
  }
  const measured = measuredClients(losses, repeats);
  log(`m=${m}: measured ${measured}, model ${model}; mean worst loss at n ${pct(mean(losses.get(measured) ?? [1]))}, at n+1 ${pct(mean(losses.get(measured + 1) ?? [1]))}`);
  return { m, model, modelPeak: [modelPeakStreams(m, model), modelPeakStreams(m, model + 1)], byteExact: byteExactClients(m), measured, trials };
}

async function migration(bed: Testbed, m: number, n: number, run: number): Promise<MigrationRow> {
  await bed.stopReflectors();
  await bed.growTo(m);
  const clientsRun = bed.clientsRun(n, 60_000);
  const stop = new AbortController();
  const clients = runClients(clientsRun, stop.signal, bed.launcher([]));
  clients.catch(() => undefined); // awaited below
  let before: number[];
  try {
    await sleep(Math.max(0, clientsRun.epochMs! + timing(clientsRun).windowMs[0] - clientsRun.warmupMs - Date.now()));
    before = (await bed.waitForClients(n)).map((p) => p.sendrecv + p.recvonly + p.sendonly);
    await sleep(clientsRun.warmupMs);
    log(`migration m=${m} n=${n} run ${run + 1}: reflector ${m + 1} joins (${before.join('/')})`);
    await bed.growTo(m + 1);
    await sleep(6000); // the newcomer asks for clients; each moves make before break
  } finally {
    stop.abort();
  }
  const samples = samplesOf(run, await clients).filter((s) => s.kind === 'migration');
  for (const s of samples) log(`  ${s.client}: ${s.durationMs.toFixed(1)} ms, gap ${s.gapMs?.toFixed(1) ?? '-'} ms, lost ${s.lost}`);
  await bed.waitForClients(0);
  return { m, n, run, before, samples };
}

async function main(config: DriverConfig): Promise<void> {
  const bed = await Testbed.create();
  try {
    if (config.capacity) {
      const { reflectors, repeats, windowMs } = config.capacity;
      for (const m of reflectors) emit({ capacity: await capacity(bed, m, repeats, windowMs) }, config.journal);
    }
    if (config.migration) {
      for (const c of config.migration.cases) {
        for (let run = 0; run < config.migration.runs; run++) emit({ migration: await migration(bed, c.m, c.n, run) }, config.journal);
      }
    }
    emit({ done: true });
  } finally {
    await bed.destroy();
  }
}

main(JSON.parse(process.argv[2] ?? '{}') as DriverConfig).then(
  () => process.exit(0),
  (err: unknown) => {
    emit({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  },
);
