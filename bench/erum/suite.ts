// The Erum experiment as a benchmark suite (`npm run bench -- --only erum`): mesh capacity measured on
// emulated hosts with limited links, beside the capacity model, for m = 1..16, and migration times when
// a reflector joins. The driver runs in a private network namespace (`unshare --net`), so nothing of the
// test network touches the machine's own; its rows are journalled in bench/results/ as they finish.
// RMESH_ERUM_JOURNAL=<file> renders a journal instead of running (a run cut short, or a re-render).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { reapStaleNetworks } from '../../test/support/test-hosts.js';
import type { Suite, SuiteContext, SuiteResult } from '../lib/suite.js';
import type { CapacityRow, DriverConfig, DriverLine, MigrationRow } from './driver.js';
import { capacityMarkdown, clientsPlot, migrationMarkdown, outboundPlot } from './report.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository: this file runs from dist/bench/erum (the runner) or bench/erum (a test, from source). */
const ROOT = here.split('/').includes('dist') ? resolve(here, '..', '..', '..') : resolve(here, '..', '..');
const DRIVER = join(ROOT, 'dist', 'bench', 'erum', 'driver.js');
const RESULTS = join(ROOT, 'bench', 'results');

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** The full experiment, and the quick form (m = 1..3, one short trial per candidate). */
export const ERUM_CONFIGS: Record<'full' | 'quick', Required<Pick<DriverConfig, 'capacity' | 'migration'>>> = {
  full: {
    capacity: { reflectors: range(1, 16), repeats: 3, windowMs: 20_000 },
    // Each n fits both m and m+1 in the model, so the join alone moves clients.
    migration: { cases: [{ m: 1, n: 6 }, { m: 2, n: 8 }, { m: 3, n: 9 }, { m: 5, n: 10 }, { m: 7, n: 10 }], runs: 1 },
  },
  quick: {
    capacity: { reflectors: range(1, 3), repeats: 1, windowMs: 8000 },
    migration: { cases: [{ m: 2, n: 8 }], runs: 1 },
  },
};

export interface ErumRows {
  capacity: CapacityRow[];
  migration: MigrationRow[];
}

/**
 * Runs the driver in a private network namespace; resolves to its rows. Progress lines go to `log`.
 * `started` gets the driver's pid (unshare execs it), the owner in its networks' names.
 */
export function runDriver(config: DriverConfig, log: (message: string) => void, started?: (pid: number) => void): Promise<ErumRows> {
  return new Promise((done, fail) => {
    const child = spawn('unshare', ['--net', process.execPath, DRIVER, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid) started?.(child.pid);
    const rows: ErumRows = { capacity: [], migration: [] };
    let error = '';
    let finished = false;
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line: DriverLine;
      try {
        line = JSON.parse(text) as DriverLine;
      } catch {
        return log(text);
      }
      if ('log' in line) log(line.log);
      else if ('capacity' in line) rows.capacity.push(line.capacity);
      else if ('migration' in line) rows.migration.push(line.migration);
      else if ('error' in line) error = line.error;
      else finished = true;
    });
    child.once('exit', (code, signal) => {
      reapStaleNetworks(); // whatever a killed driver left behind
      if (finished && code === 0) done(rows);
      else fail(new Error(`the Erum driver ${signal ? `was killed (${signal})` : `exited with ${code}`}: ${error || stderr.trim() || 'no output'}`));
    });
  });
}

export function readJournal(file: string): ErumRows {
  const rows: ErumRows = { capacity: [], migration: [] };
  for (const text of readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
    const line = JSON.parse(text) as DriverLine;
    if ('capacity' in line) rows.capacity.push(line.capacity);
    else if ('migration' in line) rows.migration.push(line.migration);
  }
  return rows;
}

async function run({ quick, log }: SuiteContext): Promise<SuiteResult> {
  const config = ERUM_CONFIGS[quick ? 'quick' : 'full'];
  const replay = process.env.RMESH_ERUM_JOURNAL;
  let rows: ErumRows;
  if (replay) {
    if (!existsSync(replay)) throw new Error(`RMESH_ERUM_JOURNAL=${replay}: no such file; give a bench/results/erum-journal-*.jsonl`);
    log(`rendering ${replay} (no new measurements)`);
    rows = readJournal(replay);
  } else {
    const journal = join(RESULTS, `erum-journal-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
    log(`journal: ${journal}`);
    rows = await runDriver({ ...config, journal }, log);
  }
  const { repeats, windowMs } = config.capacity;
  const ms = rows.capacity.map((r) => r.m);
  const plotted = [1, 4, 8, 16].filter((m) => ms.includes(m));
  const markdown =
    capacityMarkdown(rows.capacity, repeats, windowMs, `Erum experiment: mesh capacity on emulated links${quick ? ' (quick mode)' : ''}${replay ? ` (rendered from ${replay.split('/').pop()})` : ''}`) +
    (rows.migration.length ? `\n${migrationMarkdown(rows.migration)}` : '');
  return {
    json: { config, ...rows },
    markdown,
    svgs: rows.capacity.length ? { clients: clientsPlot(rows.capacity), outbound: outboundPlot(rows.capacity, plotted.length >= 2 ? plotted : ms.slice(0, 4)) } : {},
  };
}

export const erumSuite: Suite = {
  name: 'erum',
  description: 'the Erum experiment: measured mesh capacity (m = 1..16) on emulated hosts with limited links, against the model; migration times',
  run,
};
