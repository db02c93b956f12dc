// The data-plane benchmark: forwarders side by side in one run, under the same load, at fan-out 1, 4, 10
// and 30 with 1440-byte datagrams: a plain node:dgram loop, the TypeScript engine, the native engine
// (with UDP GSO, and without as native-nogso),
// and (development only, when ../shared/bench-ref is beside the repository) the C yardstick `cref`.
// For each it finds the largest output rate with loss under 0.1%, and measures CPU-ns per forwarded
// datagram (process CPU time over datagrams delivered) at one common offered rate, and one-way latency
// percentiles at 50% and 90% of its own saturation. Writes JSON and a Markdown table to bench/results/
// and prints the table. Also the `dataplane` suite of bench/run.ts (runDataplane).
// usage: node dist/bench/dataplane/run.js [--fanouts 1,4,10,30] [--subjects dgram,js,native,native-nogso,cref]
//          [--trial-seconds 1] [--cost-rate-share 0.5] [--repeat 2] [--size 1440] [--senders 1] [--variant plain]
//          [--quick]
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { processCpuNs } from './cpu.js';
import { LOSS_LIMIT, saturation, type SearchPlan } from './search.js';
import { markdownReport, type FanoutResult, type LatencyUs, type Report, type SubjectResult } from './report.js';

type Subject = 'dgram' | 'js' | 'native' | 'native-nogso' | 'cref';
const SUBJECTS: readonly Subject[] = ['dgram', 'js', 'native', 'native-nogso', 'cref'];

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..', '..');
const cacheDir = join(repo, '.cache', 'bench-dataplane');
const benchRef = resolve(repo, '..', 'shared', 'bench-ref');

// 127.0.8.x and ports 47000-47999: the benchmarks' share of the loopback (team rules); cref binds
// 127.0.0.1 (hard-coded in it), on ports of the same range.
const ADDRESS = { listen: '127.0.8.10', source: '127.0.8.11', sink: '127.0.8.12' };
const PORT = { listen: 47000, source: 47001, sinkBase: 47100, crefListen: 47500, crefSource: 47501, crefSinkBase: 47600 };

/**
 * Where the copies go: `plain` to K clients; `peers` to K peer reflectors (peer header, open mesh);
 * `auth` to K peers of an authenticated mesh (each datagram tagged once: auth minus peers is the
 * tagging cost). The dgram loop and cref have no peers: they run `plain` whatever the variant.
 */
export type Variant = 'plain' | 'peers' | 'auth';
const VARIANTS: readonly Variant[] = ['plain', 'peers', 'auth'];

interface Options {
  fanouts: number[];
  subjects: Subject[];
  trialSeconds: number;
  costRateShare: number;
  repeat: number;
  size: number;
  /** Sources the load comes from, interleaved datagram by datagram (1: one sender, the yardstick's case). */
  senders: number;
  variant: Variant;
  /** Shorter trials and a coarser search (the suite's --quick). */
  quick: boolean;
  /** Latency trials at these shares of the forwarder's own saturation. */
  latencyShares: number[];
}

export const DEFAULT_OPTIONS: Options = {
  fanouts: [1, 4, 10, 30],
  subjects: ['dgram', 'js', 'native', 'native-nogso', 'cref'],
  trialSeconds: 1,
  costRateShare: 0.5,
  repeat: 2,
  size: 1440,
  senders: 1,
  variant: 'plain',
  quick: false,
  latencyShares: [0.5, 0.9],
};

/** --quick: the reflector's engine beside the yardstick only, short trials, a coarse search. */
export const QUICK_OPTIONS: Partial<Options> = { subjects: ['native', 'cref'], trialSeconds: 0.3, repeat: 1, quick: true };

const SEARCH: Record<'full' | 'quick', SearchPlan> = {
  full: { start: 25_000, factor: 1.5, max: 3_000_000, refinements: 3 },
  quick: { start: 40_000, factor: 2, max: 3_000_000, refinements: 1, retryLossy: false },
};

export function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const options: Options = { ...DEFAULT_OPTIONS, ...(quick ? QUICK_OPTIONS : {}) };
  argv = argv.filter((a) => a !== '--quick');
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--fanouts') options.fanouts = value.split(',').map(Number);
    else if (flag === '--subjects') options.subjects = value.split(',') as Subject[];
    else if (flag === '--trial-seconds') options.trialSeconds = Number(value);
    else if (flag === '--cost-rate-share') options.costRateShare = Number(value);
    else if (flag === '--repeat') options.repeat = Number(value);
    else if (flag === '--size') options.size = Number(value);
    else if (flag === '--senders') options.senders = Number(value);
    else if (flag === '--variant') options.variant = value as Variant;
    else throw new Error(`unknown flag ${flag}; flags: --fanouts --subjects --trial-seconds --cost-rate-share --repeat --size --senders --variant --quick`);
  }
  if (!VARIANTS.includes(options.variant)) throw new Error(`unknown variant ${options.variant}; use ${VARIANTS.join(', ')}`);
  for (const s of options.subjects) if (!SUBJECTS.includes(s)) throw new Error(`unknown subject ${s}; use ${SUBJECTS.join(', ')}`);
  if (options.fanouts.some((k) => !(k >= 1 && k <= 90))) throw new Error('--fanouts must be 1-90 each');
  return options;
}

let log = (msg: string): void => void process.stderr.write(`${msg}\n`);

function compile(source: string, output: string, extra: string[] = []): void {
  mkdirSync(cacheDir, { recursive: true });
  const cc = process.env.CC ?? 'cc';
  const result = spawnSync(cc, ['-O2', '-Wall', ...extra, '-o', output, source], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`cannot compile ${source} with ${cc}: ${result.stderr || result.error?.message}`);
}

/** A forwarder process and the addresses the generator must use with it. */
interface Running {
  subject: Subject;
  pid: number;
  target: { address: string; port: number };
  source: { address: string; port: number };
  sink: { address: string; base: number };
  stop(): Promise<void>;
}

/**
 * The bench's ports lie inside Linux's ephemeral range (32768-60999): another program's socket may hold
 * one for a moment. A subject that cannot bind is started again once, a little later.
 */
async function startSubjectRetrying(subject: Subject, fanout: number, senders: number, variant: Variant): Promise<Running> {
  try {
    return await startSubject(subject, fanout, senders, variant);
  } catch (err) {
    log(`  ${subject} k=${fanout} did not start (${(err as Error).message}); trying again in 2 s`);
    await new Promise((r) => setTimeout(r, 2000));
    return startSubject(subject, fanout, senders, variant);
  }
}

async function startSubject(subject: Subject, fanout: number, senders: number, variant: Variant): Promise<Running> {
  if (subject === 'cref') {
    // cref binds 127.0.0.1 and sends to 127.0.0.1 (hard-coded); it runs until killed.
    const child = spawn(join(cacheDir, 'cref'), [String(PORT.crefListen), String(PORT.crefSinkBase), String(fanout), '100000'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 300));
    if (child.exitCode !== null) throw new Error(`cref exited with ${child.exitCode}`);
    return {
      subject,
      pid: child.pid!,
      target: { address: '127.0.0.1', port: PORT.crefListen },
      source: { address: '127.0.0.1', port: PORT.crefSource },
      sink: { address: '127.0.0.1', base: PORT.crefSinkBase },
      stop: () => stopChild(child, 'SIGTERM'),
    };
  }
  const child = spawn(
    process.execPath,
    [join(here, 'subject.js'), subject, ADDRESS.listen, String(PORT.listen), ADDRESS.source, String(PORT.source), ADDRESS.sink, String(PORT.sinkBase), String(fanout), String(senders), subject === 'dgram' ? 'plain' : variant],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolveReady, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => (line === 'ready' ? resolveReady() : reject(new Error(`subject ${subject} said ${line}`))));
    child.once('exit', (code) => reject(new Error(`subject ${subject} exited with ${code} before it was ready`)));
  });
  return {
    subject,
    pid: child.pid!,
    target: { address: ADDRESS.listen, port: PORT.listen },
    source: { address: ADDRESS.source, port: PORT.source },
    sink: { address: ADDRESS.sink, base: PORT.sinkBase },
    stop: () => {
      child.stdin.end();
      return stopChild(child);
    },
  };
}

function stopChild(child: ChildProcessWithoutNullStreams | ReturnType<typeof spawn>, signal?: NodeJS.Signals): Promise<void> {
  return new Promise((resolveStop) => {
    if (child.exitCode !== null) return resolveStop();
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolveStop();
    });
    if (signal) child.kill(signal);
  });
}

interface Trial {
  outRate: number;
  loss: number;
  delivered: number;
  cpuNsPerDatagram: number;
  latencyUs: LatencyUs;
}

async function trial(running: Running, fanout: number, outRate: number, seconds: number, size: number, senders: number, quietMs = 500): Promise<Trial> {
  const inRate = outRate / fanout;
  const count = Math.max(1, Math.round(inRate * seconds));
  const cpuBefore = processCpuNs(running.pid);
  const result = await new Promise<string>((resolveRun, reject) => {
    const child = spawn(join(cacheDir, 'loadgen'), [
      running.target.address, String(running.target.port), running.source.address, String(running.source.port),
      String(count), String(size), String(inRate), running.sink.address, String(running.sink.base), String(fanout), String(senders), String(quietMs),
    ]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolveRun(out) : reject(new Error(`loadgen exited with ${code}: ${err.trim()}`))));
  });
  const cpuNs = processCpuNs(running.pid) - cpuBefore;
  const parsed = JSON.parse(result) as { received: number; loss: number; latencyUs: LatencyUs };
  return { outRate, loss: Math.max(0, parsed.loss), delivered: parsed.received, cpuNsPerDatagram: parsed.received > 0 ? cpuNs / parsed.received : NaN, latencyUs: parsed.latencyUs };
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** The drain's quiet time: the yardstick holds a partial batch up to 200 ms; the engines hold nothing. */
const quietMs = (running: Running, options: Options): number => (!options.quick ? 500 : running.subject === 'cref' ? 220 : 80);

async function measureSaturation(running: Running, fanout: number, options: Options): Promise<number> {
  // --quick starts higher at high fan-outs (fewer doublings to the limit; the output rate grows with K).
  const plan = options.quick ? { ...SEARCH.quick, start: Math.min(200_000, SEARCH.quick.start * Math.ceil(fanout / 3)) } : SEARCH.full;
  return saturation(plan, async (rate) => {
    const t = await trial(running, fanout, rate, options.trialSeconds, options.size, options.senders, quietMs(running, options));
    log(`  ${running.subject} k=${fanout} ${Math.round(rate)} out/s: loss ${(t.loss * 100).toFixed(3)}%, ${t.cpuNsPerDatagram.toFixed(0)} ns/datagram`);
    return t.loss;
  });
}

async function measureCost(running: Running, fanout: number, outRate: number, options: Options): Promise<{ cpuNs: number; loss: number; runs: number[] }> {
  const runs: Trial[] = [];
  const seconds = options.quick ? options.trialSeconds : Math.max(1, options.trialSeconds * 1.5);
  for (let i = 0; i < options.repeat; i++) runs.push(await trial(running, fanout, outRate, seconds, options.size, options.senders, quietMs(running, options)));
  const cpuNs = median(runs.map((r) => r.cpuNsPerDatagram));
  log(`  ${running.subject} k=${fanout} cost at ${Math.round(outRate)} out/s: ${runs.map((r) => r.cpuNsPerDatagram.toFixed(0)).join(', ')} ns/datagram`);
  return { cpuNs, loss: Math.max(...runs.map((r) => r.loss)), runs: runs.map((r) => Math.round(r.cpuNsPerDatagram)) };
}

/** One-way latency at shares of the forwarder's own saturation rate (the load a deployment would run at). */
async function measureLatency(running: Running, fanout: number, sat: number, options: Options): Promise<SubjectResult['latency']> {
  const out: NonNullable<SubjectResult['latency']> = [];
  for (const share of options.latencyShares) {
    const t = await trial(running, fanout, Math.max(1000, sat * share), options.quick ? options.trialSeconds : Math.max(1, options.trialSeconds), options.size, options.senders, quietMs(running, options));
    log(`  ${running.subject} k=${fanout} latency at ${share * 100}% of its saturation: p50 ${t.latencyUs.p50} µs, p90 ${t.latencyUs.p90} µs, p99 ${t.latencyUs.p99} µs, loss ${(t.loss * 100).toFixed(3)}%`);
    out.push({ share, outPerSecond: Math.round(sat * share), loss: t.loss, latencyUs: t.latencyUs });
  }
  return out;
}

async function benchFanout(fanout: number, options: Options, subjects: Subject[]): Promise<FanoutResult> {
  log(`fan-out ${fanout}`);
  const saturations = new Map<Subject, number>();
  // The reference first: its saturation sets the common offered rates of everyone else.
  const order = [...subjects].sort((a, b) => (a === 'cref' ? -1 : b === 'cref' ? 1 : 0));
  const results: SubjectResult[] = [];
  let reference: number | undefined;
  for (const subject of order) {
    const running = await startSubjectRetrying(subject, fanout, options.senders, options.variant);
    try {
      const sat = await measureSaturation(running, fanout, options);
      saturations.set(subject, sat);
      reference ??= sat;
      const costRate = Math.max(1000, reference * options.costRateShare);
      const cost = await measureCost(running, fanout, costRate, options);
      // The goal's check, by the search's rule: a lossy trial is repeated once, the better one counts.
      // (Not in --quick: time.)
      if (options.quick) {
        const latency = await measureLatency(running, fanout, sat, options);
        results.push({ subject, variant: subject === 'cref' || subject === 'dgram' ? 'plain' : options.variant, saturationOutPerSecond: sat, costRateOutPerSecond: costRate, cpuNsPerDatagram: cost.cpuNs, cpuNsRuns: cost.runs, lossAtCostRate: cost.loss, latency });
        continue;
      }
      let at80 = await trial(running, fanout, reference * 0.8, options.trialSeconds, options.size, options.senders, quietMs(running, options));
      const lossesAt80 = [at80.loss];
      if (at80.loss >= LOSS_LIMIT) {
        const again = await trial(running, fanout, reference * 0.8, options.trialSeconds, options.size, options.senders, quietMs(running, options));
        lossesAt80.push(again.loss);
        if (again.loss < at80.loss) at80 = again;
      }
      log(`  ${subject} k=${fanout} at 80% of the reference (${Math.round(reference * 0.8)} out/s): loss ${lossesAt80.map((l) => `${(l * 100).toFixed(3)}%`).join(', ')}`);
      const latency = await measureLatency(running, fanout, sat, options);
      results.push({ subject, variant: subject === 'cref' || subject === 'dgram' ? 'plain' : options.variant, saturationOutPerSecond: sat, costRateOutPerSecond: costRate, cpuNsPerDatagram: cost.cpuNs, cpuNsRuns: cost.runs, lossAtCostRate: cost.loss, lossAt80PercentOfReference: at80.loss, lossesAt80PercentOfReference: lossesAt80, cpuNsAt80PercentOfReference: at80.cpuNsPerDatagram, latency });
    } finally {
      await running.stop();
    }
  }
  const ref = results.find((r) => r.subject === (subjects.includes('cref') ? 'cref' : order[0]));
  const refAt80 = ref?.cpuNsAt80PercentOfReference;
  for (const r of results) {
    if (ref && ref.cpuNsPerDatagram > 0) r.cpuRatio = r.cpuNsPerDatagram / ref.cpuNsPerDatagram;
    if (refAt80 && r.cpuNsAt80PercentOfReference) r.cpuRatioAt80 = r.cpuNsAt80PercentOfReference / refAt80;
    if (ref && ref.saturationOutPerSecond > 0) r.saturationRatio = r.saturationOutPerSecond / ref.saturationOutPerSecond;
  }
  return { fanout, reference: ref?.subject ?? 'none', results };
}

/** The whole benchmark: compiles the load generator (and the yardstick if present), runs every fan-out. */
export async function runDataplane(options: Options, progress?: (msg: string) => void): Promise<Report> {
  if (progress) log = progress;
  const loadgenSource = join(repo, 'bench', 'dataplane', 'loadgen.c');
  compile(loadgenSource, join(cacheDir, 'loadgen'), ['-pthread']);
  let subjects = options.subjects;
  if (subjects.includes('cref')) {
    if (existsSync(join(benchRef, 'cref.c'))) compile(join(benchRef, 'cref.c'), join(cacheDir, 'cref'));
    else {
      log(`no ${benchRef}: running without the C yardstick (ratios are then to the first subject)`);
      subjects = subjects.filter((s) => s !== 'cref');
    }
  }
  const started = new Date();
  log(`data-plane benchmark: ${options.size}-byte datagrams, fan-outs ${options.fanouts.join(', ')}, subjects ${subjects.join(', ')}, variant ${options.variant}, ${cpus().length} CPUs`);
  const fanouts: FanoutResult[] = [];
  for (const fanout of options.fanouts) fanouts.push(await benchFanout(fanout, options, subjects));
  return { started: started.toISOString(), lossLimit: LOSS_LIMIT, options: { ...options, subjects }, cpus: cpus().length, loadAverage: loadavg(), fanouts };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const report = await runDataplane(options);
  const dir = join(repo, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = report.started.replace(/[:.]/g, '-');
  const markdown = markdownReport(report);
  writeFileSync(join(dir, `dataplane-${stamp}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(dir, `dataplane-${stamp}.md`), markdown);
  process.stdout.write(markdown);
  log(`wrote bench/results/dataplane-${stamp}.json and .md`);
}

// Run as a program (node dist/bench/dataplane/run.js), not when bench/run.ts imports it.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    process.stderr.write(`dataplane bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
