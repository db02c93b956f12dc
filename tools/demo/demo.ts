// `rmesh demo`: a local mesh on loopback addresses. Starts m `rmesh reflector` processes joined into a
// mesh and n in-process traffic generators (each on its own address), samples every reflector's
// /v1/status and every client's running report each second, adds one more reflector midway (it joins
// and the mesh redistributes its clients to it), and returns the final report. The processes are
// stopped on every exit path.
import { runGenerator, type GeneratorOptions } from '../generator/generator.js';
import type { ClientReport } from '../generator/report.js';
import type { StatusResponse } from '../../protocol/api-schemas.js';
import { DEMO_MESH_KEY, DemoReflector, checkPortsFree, sleep, waitForFullMesh, type DemoReflectorSpec } from './reflectors.js';
import { mintClientTokenWithMeshKey } from '../../protocol/security/client-token.js';
import {
  counterSample,
  intervalLoss,
  migrationsOf,
  predictedStreams,
  rateMbps,
  round3,
  totalsOf,
  type CounterSample,
  type DemoConfig,
  type DemoEvent,
  type DemoReport,
  type LossSample,
  type ReflectorReport,
  type ReflectorRow,
  type Snapshot,
} from './report.js';

export interface DemoOptions extends DemoConfig {
  signal: AbortSignal;
  /** Called each second with what the live view shows. */
  onSnapshot?: (snapshot: Snapshot) => void;
  /** Progress while starting and stopping ("starting 3 reflectors"). */
  onStage?: (text: string) => void;
}

const SAMPLE_INTERVAL_MS = 1000;
/** Time between two clients' joins. */
const JOIN_STAGGER_MS = 100;

/** Address `base + offset` ("127.0.7.1" + 3 = "127.0.7.4"). */
export function addressAt(base: string, offset: number): string {
  const parts = base.split('.').map(Number);
  const last = parts[3]! + offset;
  if (parts.length !== 4 || last > 254) throw new RangeError(`${base} + ${offset} is past the end of its /24; choose a lower --base-address`);
  return `${parts[0]}.${parts[1]}.${parts[2]}.${last}`;
}

export function reflectorSpecs(config: DemoConfig): DemoReflectorSpec[] {
  return Array.from({ length: config.reflectors + 1 }, (_, i) => ({
    address: addressAt(config.baseAddress, i),
    dataPort: config.dataPort + i,
    controlPort: config.controlPort + i,
  }));
}

interface Member {
  reflector: DemoReflector;
  addedAtMs: number | null;
  first?: CounterSample;
  last?: CounterSample;
  previous?: CounterSample;
  status?: StatusResponse;
  peakOutMbps: number;
}

export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const specs = reflectorSpecs(options);
  const clientAddresses = Array.from({ length: options.clients }, (_, i) => addressAt(options.baseAddress, options.reflectors + 1 + i));
  await checkPortsFree(specs);
  const members: Member[] = [];
  const stopAll = async (): Promise<void> => {
    options.onStage?.(`stopping ${members.length} reflectors`);
    await Promise.all(members.map((m) => m.reflector.stop()));
  };
  // A second Ctrl-C while stopping: kill at once.
  const hardStop = (): void => {
    for (const m of members) m.reflector.child.kill('SIGKILL');
  };
  try {
    options.onStage?.(`starting ${options.reflectors} reflectors on ${specs[0]!.address}..${specs[options.reflectors - 1]!.address}`);
    const first = await DemoReflector.start(specs[0]!);
    members.push({ reflector: first, addedAtMs: null, peakOutMbps: 0 });
    const others = await Promise.allSettled(specs.slice(1, options.reflectors).map((s) => DemoReflector.start({ ...s, join: first.id })));
    for (const r of others) if (r.status === 'fulfilled') members.push({ reflector: r.value, addedAtMs: null, peakOutMbps: 0 });
    const failed = others.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    await waitForFullMesh(members.map((m) => m.reflector));
    if (options.signal.aborted) throw new Error('stopped before the clients started');
    return await runTraffic(options, specs, clientAddresses, members);
  } finally {
    options.signal.addEventListener('abort', hardStop, { once: true });
    await stopAll();
    options.signal.removeEventListener('abort', hardStop);
  }
}

/** The run's settings, as the report repeats them. */
function demoConfig(options: DemoOptions): DemoReport['config'] {
  return {
    reflectors: options.reflectors,
    clients: options.clients,
    bitrateBps: options.bitrateBps,
    packetSize: options.packetSize,
    durationMs: options.durationMs,
    addAtMs: options.addAtMs,
    baseAddress: options.baseAddress,
    dataPort: options.dataPort,
    controlPort: options.controlPort,
  };
}

/** Client i's generator: its own address, its first contacts rotated by i, a token minted for the run. */
function generatorOptions(
  options: DemoOptions,
  { address, i, join, signal, latest }: { address: string; i: number; join: string[]; signal: AbortSignal; latest: Map<number, ClientReport> },
): GeneratorOptions {
  return {
    // Spread the first contacts; admission places each client where the mesh wants it.
    join: [...join.slice(i % join.length), ...join.slice(0, i % join.length)],
    role: 'sendrecv',
    name: `client-${i + 1}`,
    // The demo holds its mesh's key, so it mints each client's token itself, valid for the run.
    token: mintClientTokenWithMeshKey(Buffer.from(DEMO_MESH_KEY, 'base64'), {
      subject: `client-${i + 1}`,
      ttlSeconds: Math.ceil(options.durationMs / 1000) + 3600,
    }),
    bindAddress: address,
    bitrateBps: options.bitrateBps,
    packetSize: options.packetSize,
    durationMs: options.durationMs,
    lingerMs: 300,
    signal,
    progressIntervalMs: SAMPLE_INTERVAL_MS,
    onProgress: (report) => latest.set(i, report),
  };
}

async function runTraffic(options: DemoOptions, specs: DemoReflectorSpec[], clientAddresses: string[], members: Member[]): Promise<DemoReport> {
  options.onStage?.(`starting ${options.clients} clients at ${(options.bitrateBps / 1e6).toFixed(2)} Mbit/s each`);
  const startedAt = Date.now();
  const elapsed = (): number => Date.now() - startedAt;
  const latest = new Map<number, ClientReport>();
  const lossBefore = new Map<number, LossSample>();
  const events: DemoEvent[] = [];
  const timeline: DemoReport['timeline'] = [];
  const seenEvents = new Map<number, number>();
  const join = members.map((m) => m.reflector.id);
  // Ends every client: on Ctrl-C, and when one client fails (the others must not run on alone).
  const stopClients = new AbortController();
  const onAbort = (): void => stopClients.abort();
  options.signal.addEventListener('abort', onAbort, { once: true });
  const generators = clientAddresses.map(async (address, i) => {
    // Joins one after another: concurrent joins would race on the admission counts and pile up.
    await abortableSleep(i * JOIN_STAGGER_MS, stopClients.signal);
    return runGenerator(generatorOptions(options, { address, i, join, signal: stopClients.signal, latest })).then(
      (report) => {
        latest.set(i, report);
        return report;
      },
      (err: unknown) => {
        stopClients.abort();
        throw err;
      },
    );
  });
  let finished = false;
  const all = Promise.all(generators).finally(() => {
    finished = true;
  });
  all.catch(() => undefined); // awaited below; a join failure must not be an unhandled rejection meanwhile

  let added = false;
  let addition: Promise<void> | undefined;
  let lastSnapshot: Snapshot | undefined;
  let lastPlacement: string | undefined;
  while (!finished) {
    await Promise.race([sleep(SAMPLE_INTERVAL_MS), all.catch(() => undefined)]);
    if (finished) break;
    // The clients are about to leave: samples from now on would show them going, not the mesh.
    if (elapsed() >= options.durationMs || options.signal.aborted) continue;
    if (!added && elapsed() >= options.addAtMs && !options.signal.aborted) {
      added = true;
      const spec = specs[options.reflectors]!;
      const addedAtMs = elapsed();
      events.push({ atMs: addedAtMs, text: `reflector ${spec.address}:${spec.controlPort} starts, joins the mesh, asks for clients` });
      addition = DemoReflector.start({ ...spec, join: members[0]!.reflector.id }).then(
        (reflector) => {
          members.push({ reflector, addedAtMs, peakOutMbps: 0 });
        },
        (err: Error) => {
          events.push({ atMs: elapsed(), text: `the added reflector failed: ${err.message.split('\n')[0]}` });
        },
      );
    }
    lastSnapshot = await sample(options, members, latest, lossBefore, elapsed(), events, seenEvents);
    const placement = lastSnapshot.rows.map((r) => r.clients).join(' ');
    if (lastSnapshot.total.clients === options.clients && placement !== lastPlacement) {
      // Shows the redistribution: clients per reflector before and after.
      const text = `clients per reflector: ${lastPlacement === undefined ? placement : `${lastPlacement} -> ${placement}`}`;
      events.push({ atMs: lastSnapshot.elapsedMs, text });
      lastSnapshot.events.push({ atMs: lastSnapshot.elapsedMs, text });
      lastPlacement = placement;
    }
    timeline.push({
      atMs: lastSnapshot.elapsedMs,
      reflectors: lastSnapshot.rows.map((r) => ({ id: r.id, clients: r.clients, inMbps: r.inMbps, outMbps: r.outMbps, predictedOutMbps: r.predictedOutMbps })),
    });
    options.onSnapshot?.(lastSnapshot);
  }
  await addition;
  let clients: ClientReport[];
  try {
    clients = await all;
  } catch (err) {
    await Promise.allSettled(generators); // every client has left before the reflectors stop
    throw err;
  } finally {
    options.signal.removeEventListener('abort', onAbort);
  }
  const durationMs = elapsed();
  // Final counters, after the clients left.
  await Promise.all(members.map(async (m) => m.reflector.status().then((s) => {
    m.last = counterSample(s, durationMs);
  }, () => undefined)));
  const reflectors = members.map((m): ReflectorReport => reflectorReport(m, lastSnapshot, options));
  return {
    config: demoConfig(options),
    stoppedBy: options.signal.aborted ? 'signal' : 'duration',
    durationMs,
    reflectors,
    clients: clients.map((c, i) => ({ address: clientAddresses[i]!, ...c })),
    migrations: migrationsOf(clients),
    totals: totalsOf(clients, reflectors, options.reflectors),
    timeline,
  };
}

async function sample(
  options: DemoOptions,
  members: Member[],
  latest: Map<number, ClientReport>,
  lossBefore: Map<number, LossSample>,
  atMs: number,
  events: DemoEvent[],
  seenEvents: Map<number, number>,
): Promise<Snapshot> {
  const statuses = await Promise.all(members.map((m) => m.reflector.status().catch(() => undefined)));
  const streams = predictedStreams(statuses);
  const reports = [...latest.entries()];
  // New migrations and failovers, as the clients report them (with their gaps).
  for (const [i, report] of reports) {
    const list = migrationsOf([report]);
    for (const e of list.slice(seenEvents.get(i) ?? 0)) {
      events.push({
        atMs: e.atMs,
        text: `${report.name ?? i} ${e.kind === 'migration' ? 'migrated' : 'failed over'} ${e.from} -> ${e.to}: took ${e.durationMs.toFixed(1)} ms, gap ${e.gapMs === null ? '-' : `${e.gapMs.toFixed(1)} ms`}, lost ${e.lost}`,
      });
    }
    seenEvents.set(i, list.length);
  }
  events.sort((a, b) => a.atMs - b.atMs);
  const loss = new Map<string, { now: LossSample; before: LossSample | undefined }[]>();
  const p99 = new Map<string, number>();
  for (const [i, report] of reports) {
    const id = report.reflector ?? '-';
    const now = { expected: report.received.expected, lost: report.received.lost };
    loss.set(id, [...(loss.get(id) ?? []), { now, before: lossBefore.get(i) }]);
    lossBefore.set(i, now);
    p99.set(id, Math.max(p99.get(id) ?? 0, report.latencyMs.p99));
  }
  const rows = members.map((m, k): ReflectorRow => {
    const status = statuses[k];
    let inMbps = 0;
    let outMbps = 0;
    if (status) {
      const now = counterSample(status, atMs);
      m.first ??= now;
      inMbps = rateMbps(now, m.previous, 'bytesIn');
      outMbps = rateMbps(now, m.previous, 'bytesOut');
      m.previous = now;
      m.last = now;
      m.status = status;
      m.peakOutMbps = Math.max(m.peakOutMbps, outMbps);
    }
    const id = m.reflector.id;
    return {
      id,
      addedAtMs: m.addedAtMs,
      state: status ? 'up' : 'unreachable',
      clients: status ? status.clients.filter((c) => c.state === 'active').length : 0,
      inMbps: round3(inMbps),
      outMbps: round3(outMbps),
      predictedStreams: streams[k] ?? 0,
      predictedOutMbps: round3(((streams[k] ?? 0) * options.bitrateBps) / 1e6),
      lossPct: round3(intervalLoss(loss.get(id) ?? [])),
      p99Ms: round3(p99.get(id) ?? 0),
    };
  });
  const sum = (f: (r: ReflectorRow) => number): number => round3(rows.reduce((acc, r) => acc + f(r), 0));
  return {
    elapsedMs: atMs,
    durationMs: options.durationMs,
    rows,
    total: {
      clients: sum((r) => r.clients),
      inMbps: sum((r) => r.inMbps),
      outMbps: sum((r) => r.outMbps),
      predictedStreams: sum((r) => r.predictedStreams),
      predictedOutMbps: sum((r) => r.predictedOutMbps),
      lossPct: round3(intervalLoss([...loss.values()].flat())),
      p99Ms: Math.max(0, ...rows.map((r) => r.p99Ms)),
    },
    migrations: reports.reduce((acc, [, r]) => acc + r.migrations.length, 0),
    events: [...events],
  };
}

function reflectorReport(m: Member, snapshot: Snapshot | undefined, options: DemoOptions): ReflectorReport {
  const row = snapshot?.rows.find((r) => r.id === m.reflector.id);
  const c = m.status?.counters;
  const spanMs = m.first && m.last ? m.last.atMs - m.first.atMs : 0;
  const mean = (field: 'bytesIn' | 'bytesOut'): number => (spanMs > 0 ? round3(((m.last![field] - m.first![field]) * 8) / (spanMs * 1000)) : 0);
  return {
    id: m.reflector.id,
    address: m.reflector.spec.address,
    dataPort: m.reflector.spec.dataPort,
    controlPort: m.reflector.spec.controlPort,
    pid: m.reflector.pid ?? null,
    addedAtMs: m.addedAtMs,
    clients: row?.clients ?? 0,
    datagramsIn: c ? c.datagramsIn.client + c.datagramsIn.peer : 0,
    datagramsOut: c ? c.datagramsOut.client + c.datagramsOut.peer : 0,
    bytesIn: m.last?.bytesIn ?? 0,
    bytesOut: m.last?.bytesOut ?? 0,
    meanInMbps: mean('bytesIn'),
    meanOutMbps: mean('bytesOut'),
    peakOutMbps: round3(m.peakOutMbps),
    predictedStreams: row?.predictedStreams ?? 0,
    predictedOutMbps: row?.predictedOutMbps ?? round3(0 * options.bitrateBps),
  };
}

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
