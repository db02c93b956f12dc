// A group of traffic-generator clients in one process (the client SDK in-process, one data socket per
// client, each on its own loopback address): the benchmarks run a few of these instead of a process per
// client. Clients join one after another (concurrent joins would race on the admission counts), run
// until a common end, and the group prints one JSON line: every client's final report (without the
// per-source detail) and its counters at the measuring window's two ends, for the loss in that window.
// A line "stop" on stdin ends every client early (the reports cover the run until then).
// usage: node dist/bench/mesh/client-group.js CONFIG_JSON   (GroupConfig)
import { createInterface } from 'node:readline';
import type { Role } from '../../client/mesh-client.js';
import { runGenerator } from '../../tools/generator/generator.js';
import type { ClientReport } from '../../tools/generator/report.js';

export interface GroupConfig {
  /** Reflectors to join through, "HOST:CONTROLPORT". Client i starts with join[first[i]] (default i % length). */
  join: string[];
  /** Which of `join` each client asks first: its index among all clients, so joins go round-robin mesh-wide. */
  first?: number[];
  /** One client per address. */
  addresses: string[];
  /** Names of the clients, one per address. */
  names: string[];
  /** Roles, one per address (default: every client sends and receives). */
  roles?: Role[];
  /** Client tokens (a keyed mesh needs one per client), one per address. */
  tokens?: string[];
  /** When each client starts, ms after the group starts. */
  startAtMs: number[];
  /**
   * The moment (Date.now() ms) the times above count from; default the group's own start. A common one
   * makes clients of several groups join in their order whatever each process's start-up lag.
   */
  epochMs?: number;
  /** When every client stops sending, ms after the group starts. */
  endAtMs: number;
  /** The measuring window, ms after the group starts (it ends, in fact, when the clients stop sending). */
  windowMs: [number, number];
  bitrateBps: number;
  packetSize: number;
  failoverTimeoutMs?: number;
}

/** Loss counters of one client at a moment. */
export interface Counters {
  expected: number;
  lost: number;
  behindSchedule: number;
}

export interface GroupClientResult {
  name: string;
  /** The report without received.sources (a row per other client: too much for dozens of clients). */
  report: Omit<ClientReport, 'received'> & { received: Omit<ClientReport['received'], 'sources'> };
  windowStart: Counters | null;
  windowEnd: Counters | null;
}

export type GroupOutput = { clients: GroupClientResult[] } | { error: string };

const rotate = <T>(list: T[], k: number): T[] => [...list.slice(k), ...list.slice(0, k)];

const counters = (r: ClientReport): Counters => ({ expected: r.received.expected, lost: r.received.lost, behindSchedule: r.sender.behindSchedule });

async function main(config: GroupConfig): Promise<void> {
  const t0 = config.epochMs ?? Date.now();
  const stop = new AbortController();
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'stop') stop.abort();
  });
  const results = config.addresses.map(async (address, i): Promise<GroupClientResult> => {
    await new Promise((r) => setTimeout(r, Math.max(0, config.startAtMs[i]! - (Date.now() - t0))));
    if (stop.signal.aborted) throw new Error('stopped before this client joined');
    let windowStart: Counters | null = null;
    // Spread, not a property: the token option is the client SDK's, passed through as it is.
    const token: object = config.tokens ? { token: config.tokens[i] } : {};
    const report = await runGenerator({
      ...token,
      join: rotate(config.join, (config.first?.[i] ?? i) % config.join.length),
      role: config.roles?.[i] ?? 'sendrecv',
      name: config.names[i]!,
      bindAddress: address,
      bitrateBps: config.bitrateBps,
      packetSize: config.packetSize,
      durationMs: Math.max(100, config.endAtMs - (Date.now() - t0)),
      lingerMs: 300,
      signal: stop.signal,
      // Progress reports cost the clients' CPU (a summary of every source): only as often as the
      // window's start needs.
      progressIntervalMs: 250,
      ...(config.failoverTimeoutMs !== undefined ? { failoverTimeoutMs: config.failoverTimeoutMs } : {}),
      // The counters at the window's start: the last progress before it (progress comes every 250 ms
      // when the event loop keeps up). The window ends with the run (the final report's counters): a
      // busy event loop delays progress, never the final report.
      onProgress: (r) => {
        if (Date.now() - t0 <= config.windowMs[0]) windowStart = counters(r);
      },
    });
    const { sources: _sources, ...received } = report.received;
    return { name: config.names[i]!, report: { ...report, received }, windowStart, windowEnd: counters(report) };
  });
  const settled = await Promise.allSettled(results);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const output: GroupOutput = failed
    ? { error: failed.reason instanceof Error ? failed.reason.message : String(failed.reason) }
    : { clients: settled.map((s) => (s as PromiseFulfilledResult<GroupClientResult>).value) };
  process.stdout.write(`${JSON.stringify(output)}\n`);
}

main(JSON.parse(process.argv[2] ?? '{}') as GroupConfig).then(
  () => process.exit(0),
  (err: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: err instanceof Error ? err.message : String(err) })}\n`);
    process.exit(1);
  },
);
