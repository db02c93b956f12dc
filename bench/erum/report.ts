// The Erum experiment's report: per m the measured and the modelled client count, the peak outbound
// rate on the limited links, the loss at n and n+1 and the CPU used; the migration table (as the
// report's Table 4); and two plots drawn with the project's one plotter (tools/plot/svg.ts).
import { fixed, summarize } from '../lib/stats.js';
import { lineChartSvg, type Series } from '../../tools/plot/svg.js';
import { summarizeEvents } from '../migration/events.js';
import type { CapacityRow, MigrationRow } from './driver.js';
import { byteExactClients, LINK_PAYLOAD_BPS, LINK_WIRE_BPS, LOSS_LIMIT, PACKETS_PER_SECOND, PAYLOAD_BYTES, STREAM_BPS, WIRE_OVERHEAD_BYTES, mean, modelPeakStreams, streamsToWireBps } from './params.js';
import type { TrialResult } from './testbed.js';

/** What the table says of one m. */
export interface CapacitySummary {
  m: number;
  model: number;
  /** The model's n with the peer header's bytes counted (byteExactClients). */
  byteExact: number;
  measured: number;
  /** The model's peak at the measured n, streams and wire bit/s. */
  modelPeakStreams: number;
  modelPeakWireBps: number;
  /** Mean over the trials at the measured n of the busiest link's rate (wire bit/s). */
  peakWireBps: number;
  /** Mean worst-client loss at n and at n+1 (null: not run). */
  lossAtN: number | null;
  lossAtNext: number | null;
  trialsAtN: number;
  trialsAtNext: number;
  /** The most CPU any trial of this m used: ours and the machine's (CPUs). */
  cpuOurs: number;
  cpuMachine: number;
}

const at = (row: CapacityRow, n: number): TrialResult[] => row.trials.filter((t) => t.n === n);
const busiest = (t: TrialResult): number => Math.max(...t.linkWireBps);

export function summarizeCapacity(row: CapacityRow): CapacitySummary {
  const n = at(row, row.measured);
  const next = at(row, row.measured + 1);
  const streams = row.measured > 0 ? modelPeakStreams(row.m, row.measured) : 0;
  return {
    m: row.m,
    model: row.model,
    byteExact: row.byteExact ?? byteExactClients(row.m),
    measured: row.measured,
    modelPeakStreams: streams,
    modelPeakWireBps: streamsToWireBps(streams),
    peakWireBps: n.length ? mean(n.map(busiest)) : NaN,
    lossAtN: n.length ? mean(n.map((t) => t.worstLoss)) : null,
    lossAtNext: next.length ? mean(next.map((t) => t.worstLoss)) : null,
    trialsAtN: n.length,
    trialsAtNext: next.length,
    cpuOurs: Math.max(...row.trials.map((t) => t.cpu.ours)),
    cpuMachine: Math.max(...row.trials.map((t) => t.cpu.machine)),
  };
}

const mbps = (bps: number): string => fixed(bps / 1e6, 3);
const pct = (x: number | null): string => (x === null ? '–' : `${(x * 100).toFixed(2)}%`);

export function setupText(repeats: number, windowMs: number): string[] {
  return [
    `- Each reflector on its own emulated host (a network namespace) whose outbound link is a tc token bucket; clients on 4 client hosts with free links; all joined by a bridge in a namespace of its own.`,
    `- b = ${PACKETS_PER_SECOND} datagrams/s × ${PAYLOAD_BYTES} bytes = ${STREAM_BPS / 1000} kbit/s per stream; B = b · 905/30 = ${fixed(LINK_PAYLOAD_BPS / 1e6, 4)} Mbit/s, so B/b = 30.17 streams as 905/30 (the model's budget: ⌊B/b⌋ = 30 streams).`,
    `- Headers: tc counts the IP packet and the ${WIRE_OVERHEAD_BYTES - 28}-byte Ethernet header, so the bucket's rate is B × (${PAYLOAD_BYTES} + ${WIRE_OVERHEAD_BYTES})/${PAYLOAD_BYTES} = ${fixed(LINK_WIRE_BPS / 1e6, 4)} Mbit/s on the wire (IPv4 20 + UDP 8 + Ethernet 14 bytes per datagram); rates below are on the wire. Peer copies carry the mesh's own 40-byte header besides, which the model does not count.`,
    `- Clients: one receive-only (it joins first, through reflector 1), the rest send and receive; client i joins through reflector i mod m, in rounds of m a keep-alive interval (2 s) apart so that admission sees fresh counts: the mesh spreads them nr/nr−1 with the receive-only client on a reflector of nr (a trial placed otherwise is run again). The model's n is the planner's (maxClients with the receive-only client, roles included).`,
    `- A trial: every client joins, 2.5 s warm-up, a ${windowMs / 1000} s window; its loss is the worst client's (lost/expected in the window). n passes when the mean over ${repeats} trial(s) is under ${LOSS_LIMIT * 100}% (a first trial above 5% fails at once). The search starts at the model's n and walks until n passes and n+1 fails.`,
  ];
}

export function capacityMarkdown(rows: readonly CapacityRow[], repeats: number, windowMs: number, title: string): string {
  const lines = [
    `## ${title}`,
    '',
    ...setupText(repeats, windowMs),
    '',
    '| m | model n | model n, bytes counted | measured n | model peak at n (streams, Mbit/s) | measured peak outbound (Mbit/s, % of link) | worst loss at n | at n+1 | trials at n / n+1 | CPU used (ours / machine) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(summarizeCapacity).map(
      (s) =>
        `| ${s.m} | ${s.model} | ${s.byteExact} | ${s.measured}${s.measured === s.model ? '' : ' ≠'} | ${s.modelPeakStreams}, ${mbps(s.modelPeakWireBps)} | ${mbps(s.peakWireBps)}, ${fixed((s.peakWireBps / LINK_WIRE_BPS) * 100, 1)}% | ` +
        `${pct(s.lossAtN)} | ${pct(s.lossAtNext)} | ${s.trialsAtN} / ${s.trialsAtNext} | ${fixed(s.cpuOurs, 2)} / ${fixed(s.cpuMachine, 2)} |`,
    ),
    '',
    `"Bytes counted": the model's placement with every byte on the wire, the 40-byte peer header of each copy to a peer included, against the link's ${mbps(LINK_WIRE_BPS)} Mbit/s. ≠ marks a measured n that differs from the model's.`,
    '',
    `Link limit: ${mbps(LINK_WIRE_BPS)} Mbit/s on the wire. CPU: the reflectors' and client processes' CPU over the window (in CPUs, of 2), and the whole machine's, which other work shares.`,
    '',
  ];
  return `${lines.join('\n')}\n`;
}

export function migrationMarkdown(rows: readonly MigrationRow[]): string {
  const cases = [...new Map(rows.map((r) => [`${r.m}/${r.n}`, r])).values()];
  const lines = [
    '### Migration when a reflector joins (as the report\'s Table 4)',
    '',
    `A mesh of m reflectors (limited links as above) serves n clients at ${STREAM_BPS / 1000} kbit/s; reflector m+1 joins and the mesh moves clients to it (make before break). Per migrated client: the time from the order to registered at the new reflector, the longest gap in what it received (with ${PACKETS_PER_SECOND} datagrams/s per stream, a client that receives k streams normally sees a datagram every ${fixed(1000 / PACKETS_PER_SECOND, 0)}/k ms), and the datagrams it lost.`,
    '',
    '| m → m+1 | n | runs | migrated clients | time p50 / max (ms) | gap p50 / max (ms) | lost (sum, max per client) | without loss |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...cases.map((c) => {
      const mine = rows.filter((r) => r.m === c.m && r.n === c.n);
      const s = summarizeEvents('migration', mine.flatMap((r) => r.samples));
      const lost = mine.flatMap((r) => r.samples.map((e) => e.lost));
      return `| ${c.m} → ${c.m + 1} | ${c.n} | ${mine.length} | ${s.events} | ${fixed(s.durationMs.p50)} / ${fixed(s.durationMs.max)} | ${fixed(s.gapMs.p50)} / ${fixed(s.gapMs.max)} | ${lost.reduce((a, b) => a + b, 0)}, ${fixed(summarize(lost).max, 0)} | ${s.lossless} of ${s.events} |`;
    }),
    '',
  ];
  return `${lines.join('\n')}\n`;
}

/** Measured and modelled clients per m, one line each. */
export function clientsPlot(rows: readonly CapacityRow[]): string {
  return lineChartSvg({
    title: 'Clients a mesh serves with under 1% loss, per reflector count',
    xLabel: 'reflectors m (each on its own limited link)',
    yLabel: 'clients n',
    integerX: true,
    series: [
      { name: 'measured', points: rows.map((r) => ({ x: r.m, y: r.measured })) },
      { name: 'model (planner)', points: rows.map((r) => ({ x: r.m, y: r.model })), dashed: true },
      { name: 'model, peer header counted', points: rows.map((r) => ({ x: r.m, y: r.byteExact ?? byteExactClients(r.m) })), dashed: true },
    ],
    notes: ['B/b = 905/30, one client receive-only', `b = ${STREAM_BPS / 1000} kbit/s, 1440-byte payloads`],
  });
}

/** The busiest link's rate against n for a few m (every trial), the model's peak, and the link limit. */
export function outboundPlot(rows: readonly CapacityRow[], ms: readonly number[]): string {
  const chosen = rows.filter((r) => ms.includes(r.m));
  const series: Series[] = [];
  chosen.forEach((r, i) => {
    const ns = [...new Set(r.trials.map((t) => t.n))].sort((a, b) => a - b);
    const stroke = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'][i % 6]!;
    series.push({ name: `m = ${r.m} measured`, stroke, points: ns.map((n) => ({ x: n, y: mean(at(r, n).map(busiest)) / 1e6 })) });
    const lo = Math.max(1, Math.min(...ns) - 2);
    const model = Array.from({ length: Math.max(...ns) - lo + 1 }, (_, k) => lo + k);
    series.push({ name: `m = ${r.m} model`, stroke, dashed: true, points: model.map((n) => ({ x: n, y: streamsToWireBps(modelPeakStreams(r.m, n)) / 1e6 })) });
  });
  const xs = series.flatMap((s) => s.points.map((p) => p.x));
  series.push({ name: 'link limit', stroke: '#000000', points: [{ x: Math.min(...xs), y: LINK_WIRE_BPS / 1e6 }, { x: Math.max(...xs), y: LINK_WIRE_BPS / 1e6 }] });
  return lineChartSvg({
    title: 'Peak outbound rate of the busiest reflector against clients',
    xLabel: 'clients n',
    yLabel: 'Mbit/s on the wire',
    integerX: true,
    series,
    notes: ['measured: mean over trials of the busiest link', 'model: peak streams × b, wire bytes', 'a measured point at the limit is a link', 'that dropped the excess'],
  });
}
