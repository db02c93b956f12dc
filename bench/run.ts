// The benchmark runner: `npm run bench` (every suite), `-- --quick` (under two minutes), `-- --only
// mesh,operator` (some suites). Each suite's results go to bench/results/<suite>-<stamp>.json and .md
// (plus .svg plots), and the run's summary (every suite's table) to bench/results/bench-<stamp>.md.
// usage: node dist/bench/run.js [--quick] [--only SUITE[,SUITE]] [--list]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dataplaneSuite } from './dataplane/suite.js';
import { erumSuite } from './erum/suite.js';
import { machine } from './lib/machine.js';
import type { Suite } from './lib/suite.js';
import { meshCapacitySuite } from './mesh/suite.js';
import { migrationSuite } from './migration/suite.js';
import { operatorSuite } from './operator/suite.js';

const SUITES: Suite[] = [dataplaneSuite, meshCapacitySuite, migrationSuite, operatorSuite, erumSuite];
const resultsDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');

interface Args {
  quick: boolean;
  only: string[];
  list: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { quick: false, only: [], list: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--quick') args.quick = true;
    else if (flag === '--list') args.list = true;
    else if (flag === '--only') {
      const value = argv[++i];
      if (!value) throw new Error('--only needs a suite name (or several, comma-separated)');
      args.only.push(...value.split(',').filter(Boolean));
    } else throw new Error(`unknown flag ${flag}; flags: --quick, --only SUITE[,SUITE], --list (suites: ${SUITES.map((s) => s.name).join(', ')})`);
  }
  for (const name of args.only) {
    if (!SUITES.some((s) => s.name === name)) throw new Error(`unknown suite ${name}; suites: ${SUITES.map((s) => s.name).join(', ')}`);
  }
  return args;
}

const clock = (ms: number): string => `${Math.floor(ms / 60_000)}:${String(Math.floor((ms % 60_000) / 1000)).padStart(2, '0')}`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.list) {
    for (const s of SUITES) process.stdout.write(`${s.name.padEnd(10)} ${s.description}\n`);
    return;
  }
  const suites = args.only.length ? SUITES.filter((s) => args.only.includes(s.name)) : SUITES;
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const t0 = Date.now();
  mkdirSync(resultsDir, { recursive: true });
  const host = machine();
  process.stderr.write(`bench: ${suites.map((s) => s.name).join(', ')}${args.quick ? ' (quick)' : ''} on ${host.cpus} CPUs (${host.cpuModel}), Node ${host.node}\n`);
  const sections: string[] = [];
  const summary: { suite: string; seconds: number; files: string[]; error?: string }[] = [];
  let failed = false;
  for (const suite of suites) {
    const suiteStart = Date.now();
    const log = (message: string): void => void process.stderr.write(`[${clock(Date.now() - t0)} ${suite.name}] ${message}\n`);
    log(`start: ${suite.description}`);
    try {
      const result = await suite.run({ quick: args.quick, log });
      const base = `${suite.name}-${stamp}`;
      const files = [`${base}.json`, `${base}.md`];
      const seconds = (Date.now() - suiteStart) / 1000;
      writeFileSync(join(resultsDir, `${base}.json`), `${JSON.stringify({ suite: suite.name, quick: args.quick, started: started.toISOString(), seconds, machine: host, result: result.json }, null, 2)}\n`);
      writeFileSync(join(resultsDir, `${base}.md`), result.markdown);
      for (const [name, svg] of Object.entries(result.svgs ?? {})) {
        writeFileSync(join(resultsDir, `${base}-${name}.svg`), svg);
        files.push(`${base}-${name}.svg`);
      }
      sections.push(result.markdown);
      summary.push({ suite: suite.name, seconds, files });
      log(`done in ${seconds.toFixed(1)} s: bench/results/${files.join(', ')}`);
    } catch (err) {
      failed = true;
      const message = err instanceof Error ? err.message : String(err);
      summary.push({ suite: suite.name, seconds: (Date.now() - suiteStart) / 1000, files: [], error: message });
      sections.push(`## ${suite.name}\n\nFAILED: ${message}\n`);
      log(`FAILED: ${message}`);
    }
  }
  const total = (Date.now() - t0) / 1000;
  const head = [
    `# Benchmarks ${started.toISOString()}${args.quick ? ' (quick mode)' : ''}`,
    '',
    `Machine: ${host.cpus} CPUs (${host.cpuModel}), Node ${host.node}, ${host.os}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end. ` +
      `Total ${total.toFixed(0)} s: ${summary.map((s) => `${s.suite} ${s.seconds.toFixed(0)} s${s.error ? ' (FAILED)' : ''}`).join(', ')}.`,
    '',
  ];
  const markdown = `${head.join('\n')}\n${sections.join('\n')}`;
  writeFileSync(join(resultsDir, `bench-${stamp}.md`), markdown);
  writeFileSync(join(resultsDir, `bench-${stamp}.json`), `${JSON.stringify({ started: started.toISOString(), quick: args.quick, seconds: total, machine: host, cpus: cpus().length, suites: summary }, null, 2)}\n`);
  process.stdout.write(markdown);
  process.stderr.write(`bench: ${total.toFixed(0)} s; summary in bench/results/bench-${stamp}.md\n`);
  if (failed) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(2);
});
