// The Erum experiment's testbed: reflector hosts with a limited outbound link each, client hosts with
// free links, all test hosts (test/support/test-hosts.ts) on one bridge, and the caller (the driver, in a
// private namespace) attached to it. Runs one trial: n clients, the worst client's loss over the window,
// what each reflector's link carried and dropped, and the CPU the mesh and its clients used meanwhile.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { roleCounts, type Role, type RoleCounts } from '../../model/index.js';
import { DEMO_MESH_KEY, DemoReflector, sleep, waitForFullMesh } from '../../tools/demo/reflectors.js';
import { TestNetwork, type LinkStats, type TestHost } from '../../test/support/test-hosts.js';
import type { GroupClientResult } from '../mesh/client-group.js';
import { runClients, timing, type ClientsRun } from '../mesh/clients.js';
import { LINK_WIRE_BPS, PAYLOAD_BYTES, STREAM_BPS, intendedPlacement, placedPeakStreams } from './params.js';

const CLIENT_HOSTS = 4;
const ADDRESSES_PER_CLIENT_HOST = 8;
const DATA_PORT = 5000;
const CONTROL_PORT = 5005;
/**
 * Keep-alives every 2 s (peer timeout 10 s): peer keep-alives are HTTP requests, and at the default 1 s
 * fifteen peers' worth would take ~3% of this 3.6 Mbit/s link, where on 1 GbE they are nothing.
 */
const KEEPALIVE_MS = 2000;
const SLOW_TIMINGS = ['--keepalive-interval', `${KEEPALIVE_MS}ms`, '--peer-timeout', '10s', '--client-idle-timeout', '10s', '--log-level', 'warn'];
/** Joins within a round (one client per reflector), and the pause between rounds. */
const STAGGER_MS = 150;
const ROUND_GAP_MS = KEEPALIVE_MS + 600;

/** What one trial measured. */
export interface TrialResult {
  m: number;
  n: number;
  /** Clients per reflector by role, as /v1/status showed them before the window. */
  placement: RoleCounts[];
  /** Per client: lost / expected in the window. */
  clientLoss: number[];
  worstLoss: number;
  /** The client with the worst loss, and its role. */
  worstClient: string;
  /** Datagrams the senders' pacers gave up on in the window (load never offered). */
  behindSchedule: number;
  /** Per reflector host: what its limited link sent in the window, bit/s on the wire. */
  linkWireBps: number[];
  /** Per reflector host: datagrams its token bucket dropped in the window. */
  linkDropped: number[];
  /** CPU used in the window: by the reflectors and client processes, and by the whole machine (CPUs). */
  cpu: { ours: number; machine: number };
  windowMs: number;
}

export class Testbed {
  readonly reflectors: DemoReflector[] = [];
  private readonly reflectorHosts: TestHost[] = [];
  private readonly clientHosts: TestHost[] = [];

  private constructor(readonly network: TestNetwork) {}

  /** Makes the network and attaches the calling process (which must run in a private namespace). */
  static async create(): Promise<Testbed> {
    const network = await TestNetwork.create();
    try {
      await network.attachCaller('10.77.0.1');
      const bed = new Testbed(network);
      for (let h = 0; h < CLIENT_HOSTS; h++) {
        const addresses = Array.from({ length: ADDRESSES_PER_CLIENT_HOST }, (_, k) => `10.77.${10 + h}.${k + 1}`);
        bed.clientHosts.push(await network.addHost(`c${h + 1}`, { address: addresses[0]!, extraAddresses: addresses.slice(1) }));
      }
      return bed;
    } catch (err) {
      await network.destroy();
      throw err;
    }
  }

  /** The most clients a trial can have (client hosts × addresses). */
  static readonly maxClients = CLIENT_HOSTS * ADDRESSES_PER_CLIENT_HOST;

  /** Grows the mesh to m reflectors, each on its own limited host, and waits for the full mesh. */
  async growTo(m: number): Promise<void> {
    while (this.reflectors.length < m) {
      const i = this.reflectors.length;
      if (!this.reflectorHosts[i]) {
        this.reflectorHosts[i] = await this.network.addHost(`r${i + 1}`, {
          address: `10.77.1.${i + 1}`,
          // A queue of 250 ms (75 datagrams) and a bucket of 10 frames: streams whose phases bunch up
          // within their 100 ms period, and a reflector that the busy machine schedules late and that
          // then sends a backlog at once, wait rather than drop; a sustained excess fills the queue
          // (250 ms of delay, no more) and is dropped.
          egress: { rateBitsPerSecond: LINK_WIRE_BPS, queueMs: 250, burstBytes: 10 * 1514 },
        });
      }
      const host = this.reflectorHosts[i];
      const join = this.reflectors[0]?.id;
      this.reflectors.push(
        await DemoReflector.start({ address: host.address, dataPort: DATA_PORT, controlPort: CONTROL_PORT, netns: host.namespace, extraArgs: SLOW_TIMINGS, ...(join ? { join } : {}) }),
      );
    }
    await waitForFullMesh(this.reflectors, 30_000);
  }

  async stopReflectors(): Promise<void> {
    await Promise.all(this.reflectors.map((r) => r.stop(2000)));
    this.reflectors.length = 0;
  }

  async destroy(): Promise<void> {
    await this.stopReflectors().catch(() => undefined);
    await this.network.destroy();
  }

  /** Clients per reflector by role (active sessions only). */
  async placement(): Promise<RoleCounts[]> {
    return Promise.all(
      this.reflectors.map(async (r) => {
        const counts = roleCounts();
        for (const c of (await r.status()).clients) if (c.state === 'active') counts[c.role] += 1;
        return counts;
      }),
    );
  }

  /** Waits until the mesh serves `n` active clients (0: until every client has left). */
  async waitForClients(n: number, timeoutMs = 30_000): Promise<RoleCounts[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const placement = await this.placement().catch(() => undefined);
      const total = placement?.reduce((sum, p) => sum + p.sendrecv + p.recvonly + p.sendonly, 0);
      if (placement && total === n) return placement;
      if (Date.now() > deadline) throw new Error(`the mesh serves ${total ?? '?'} clients, not ${n}, after ${timeoutMs} ms`);
      await sleep(200);
    }
  }

  /** A client run of n clients, client 1 receive-only; client i joins through reflector i mod m. */
  clientsRun(n: number, windowMs: number): ClientsRun {
    if (n > Testbed.maxClients) throw new RangeError(`at most ${Testbed.maxClients} clients per trial, asked for ${n}`);
    const groups = Math.min(CLIENT_HOSTS, n);
    return {
      join: this.reflectors.map((r) => r.id),
      meshKey: DEMO_MESH_KEY,
      // Client i is in group i mod groups, which runs on client host i mod groups.
      addresses: Array.from({ length: n }, (_, i) => `10.77.${10 + (i % groups)}.${Math.floor(i / groups) + 1}`),
      roles: Array.from({ length: n }, (_, i): Role => (i === 0 ? 'recvonly' : 'sendrecv')),
      staggerMs: STAGGER_MS,
      joinAtMs: joinSchedule(n, this.reflectors.length),
      warmupMs: 2500,
      windowMs,
      // The client processes start within this lead (a few seconds on a busy machine), so every
      // client joins at its turn, in order.
      epochMs: Date.now() + 4000,
      bitrateBps: STREAM_BPS,
      packetSize: PAYLOAD_BYTES,
      groups,
    };
  }

  /** Starts the client groups on the client hosts; their pids go to `pids` (for the CPU count). */
  launcher(pids: number[]) {
    return (command: string, args: string[], group: number): ChildProcess => {
      const child = this.clientHosts[group]!.spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
      if (child.pid) pids.push(child.pid);
      return child;
    };
  }

  /**
   * One trial of n clients on the current mesh, with the clients where intendedPlacement puts them: a
   * client process that starts late makes joins come out of order and the mesh places them otherwise
   * (a different experiment); such a trial is run again, up to twice, and kept as it is after that.
   * A trial that fails outright (a client process that died on the busy machine) is run again too.
   */
  async trial(n: number, windowMs: number, log: (message: string) => void = () => undefined): Promise<TrialResult> {
    const intended = placedPeakStreams(intendedPlacement(this.reflectors.length, n));
    for (let attempt = 1; ; attempt++) {
      let result: TrialResult;
      try {
        result = await this.trialOnce(n, windowMs);
      } catch (err) {
        if (attempt === 3) throw err;
        log(`m=${this.reflectors.length} n=${n}: the trial failed (${err instanceof Error ? err.message : String(err)}); once more`);
        await this.waitForClients(0, 60_000);
        continue;
      }
      const placed = placedPeakStreams(result.placement);
      if (placed === intended || attempt === 3) return result;
      log(`m=${this.reflectors.length} n=${n}: joins came out of order (placement ${result.placement.map((p) => p.sendrecv + p.recvonly).join('/')}, peak ${placed} streams, not ${intended}); once more`);
    }
  }

  private async trialOnce(n: number, windowMs: number): Promise<TrialResult> {
    const m = this.reflectors.length;
    const run = this.clientsRun(n, windowMs);
    const { windowMs: [from, to] } = timing(run);
    const pids: number[] = [];
    const t0 = run.epochMs!;
    const stop = new AbortController();
    const clients = runClients(run, stop.signal, this.launcher(pids));
    // A client process that fails ends the wait for its clients with its own error.
    const failed = clients.then(
      () => Promise.reject(new Error('the clients ended before they had all joined')),
      (err: unknown) => Promise.reject(err instanceof Error ? err : new Error(String(err))),
    );
    failed.catch(() => undefined);
    await sleep(Math.max(0, t0 + from - run.warmupMs - Date.now()));
    let placement: RoleCounts[];
    try {
      placement = await Promise.race([this.waitForClients(n), failed]);
    } catch (err) {
      stop.abort();
      await clients.catch(() => undefined);
      throw err;
    }
    // The link and CPU window sits inside the clients' window (their processes start a little late).
    await sleep(Math.max(0, t0 + from + 500 - Date.now()));
    const ours = [...this.reflectors.map((r) => r.pid ?? 0), ...pids];
    const start = await this.sample(ours);
    await sleep(Math.max(0, t0 + to - 500 - Date.now()));
    const end = await this.sample(ours);
    const results = await clients;
    await this.waitForClients(0);
    return summarizeTrial(m, n, placement, results, start, end);
  }

  private async sample(pids: number[]): Promise<Sample> {
    const links = await Promise.all(this.reflectorHosts.slice(0, this.reflectors.length).map((h) => h.linkStats()));
    return { at: performance.now(), links, ourTicks: processTicks(pids), machine: machineTicks() };
  }
}

/**
 * Client i joins in round ⌊i/m⌋, through reflector i mod m. Admission sends a client to the reflector
 * with the fewest clients as the peers' keep-alives last reported them; a round waits until the last
 * round's counts have travelled (a keep-alive interval), so no reflector sees a stale, lower count
 * elsewhere and every client stays where it asked: the placement is the intended one.
 */
export function joinSchedule(n: number, m: number): number[] {
  return Array.from({ length: n }, (_, i) => (m > 1 ? Math.floor(i / m) * ROUND_GAP_MS : 0) + i * STAGGER_MS);
}

interface Sample {
  at: number;
  links: LinkStats[];
  ourTicks: number;
  machine: { busy: number; total: number };
}

function summarizeTrial(m: number, n: number, placement: RoleCounts[], results: GroupClientResult[], start: Sample, end: Sample): TrialResult {
  const clientLoss = results.map((c) => {
    const expected = (c.windowEnd?.expected ?? 0) - (c.windowStart?.expected ?? 0);
    const lost = (c.windowEnd?.lost ?? 0) - (c.windowStart?.lost ?? 0);
    return expected > 0 ? Math.max(0, lost) / expected : 1;
  });
  const worst = clientLoss.indexOf(Math.max(...clientLoss));
  const seconds = (end.at - start.at) / 1000;
  return {
    m,
    n,
    placement,
    clientLoss,
    worstLoss: clientLoss[worst] ?? 1,
    worstClient: `${results[worst]?.name ?? '?'} (${results[worst]?.report.role ?? '?'})`,
    behindSchedule: results.reduce((sum, c) => sum + (c.windowEnd?.behindSchedule ?? 0) - (c.windowStart?.behindSchedule ?? 0), 0),
    linkWireBps: end.links.map((l, i) => ((l.bytes - start.links[i]!.bytes) * 8) / seconds),
    linkDropped: end.links.map((l, i) => l.dropped - start.links[i]!.dropped),
    cpu: {
      ours: (end.ourTicks - start.ourTicks) / 100 / seconds,
      machine: ((end.machine.busy - start.machine.busy) / (end.machine.total - start.machine.total)) * cpus().length,
    },
    windowMs: seconds * 1000,
  };
}

/** User and system CPU ticks (1/100 s) of the given processes, from /proc/<pid>/stat. */
function processTicks(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of the line)
    } catch {
      // exited
    }
  }
  return ticks;
}

/** The machine's busy and total CPU ticks, from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}
