// The data-plane benchmark's results and their Markdown table: one row per forwarder and fan-out, with
// CPU-ns per forwarded datagram and the saturation rate, each also as a ratio to the reference (cref).

/** One-way latency percentiles of a trial, µs (loadgen's histogram; -1 when nothing arrived). */
export interface LatencyUs {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface SubjectResult {
  subject: string;
  /** What the forwarder does besides forwarding: 'plain', or (issue 9) 'auth' for authenticated peers. */
  variant?: string;
  /** Largest output rate (datagrams/s) with loss under the limit. */
  saturationOutPerSecond: number;
  /** The common offered output rate the CPU cost was measured at. */
  costRateOutPerSecond: number;
  /** Median over the repeats of process CPU-ns per delivered datagram. */
  cpuNsPerDatagram: number;
  cpuNsRuns: number[];
  lossAtCostRate: number;
  /** Loss at 80% of the reference's saturation rate (the goal: under the limit). */
  lossAt80PercentOfReference?: number | undefined;
  /** Every trial at 80% (a lossy first trial is repeated once). */
  lossesAt80PercentOfReference?: number[];
  /** CPU-ns per datagram in that trial (one run). */
  cpuNsAt80PercentOfReference?: number | undefined;
  /** At shares (0.5, 0.9) of the forwarder's own saturation rate. */
  latency?: { share: number; outPerSecond: number; loss: number; latencyUs: LatencyUs }[];
  cpuRatio?: number;
  cpuRatioAt80?: number;
  saturationRatio?: number;
}

export interface FanoutResult {
  fanout: number;
  reference: string;
  results: SubjectResult[];
}

export interface Report {
  started: string;
  lossLimit: number;
  cpus: number;
  loadAverage: number[];
  options: { size: number; trialSeconds: number; repeat: number; costRateShare: number; senders: number; variant?: string; quick?: boolean; subjects?: string[]; fanouts?: number[] };
  fanouts: FanoutResult[];
}

const pct = (x: number | undefined): string => (x === undefined ? '–' : `${(x * 100).toFixed(2)}%`);
const ratio = (x: number | undefined): string => (x === undefined ? '–' : `${x.toFixed(2)}×`);
const ms = (us: number | undefined): string => (us === undefined || us < 0 ? '–' : us >= 10_000 ? `${(us / 1000).toFixed(0)} ms` : `${(us / 1000).toFixed(2)} ms`);
/** "p50 / p90 / p99" of the trial at `share` of the forwarder's saturation. */
export function latencyCell(r: SubjectResult, share: number): string {
  const l = r.latency?.find((x) => x.share === share);
  return l ? `${ms(l.latencyUs.p50)} / ${ms(l.latencyUs.p90)} / ${ms(l.latencyUs.p99)}` : '–';
}
const rate = (x: number): string => (x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${Math.round(x / 1000)} k`);

export function markdownReport(report: Report): string {
  const lines = [
    `## Data plane: ${report.options.size}-byte datagrams, ${report.options.senders === 1 ? 'one sender' : `${report.options.senders} senders interleaved`}, ${report.started}${report.options.quick ? ' (quick mode)' : ''}`,
    '',
    `${report.cpus} CPUs, load average ${report.loadAverage.map((l) => l.toFixed(1)).join(' ')} at the end; ` +
      `trials of ${report.options.trialSeconds} s; saturation = largest output rate with loss < ${report.lossLimit * 100}%; ` +
      `CPU-ns per forwarded datagram (process CPU time / datagrams delivered) at ${report.options.costRateShare * 100}% of the reference's saturation (median of ${report.options.repeat}) and at 80% (the trial that counted for the loss).`,
    '',
    '| fan-out | forwarder | variant | CPU-ns / datagram at 50% | × ref | runs | at 80% | × ref | saturation (out/s) | × ref | loss at 80% of ref sat |',
    '|---:|---|---|---:|---:|---|---:|---:|---:|---:|---:|',
  ];
  for (const f of report.fanouts) {
    for (const r of f.results) {
      lines.push(
        `| ${f.fanout} | ${r.subject} | ${r.variant ?? 'plain'} | ${r.cpuNsPerDatagram.toFixed(0)} | ${ratio(r.cpuRatio)} | ${r.cpuNsRuns.join(', ')} | ${r.cpuNsAt80PercentOfReference?.toFixed(0) ?? '–'} | ${ratio(r.cpuRatioAt80)} | ${rate(r.saturationOutPerSecond)} | ${ratio(r.saturationRatio)} | ${pct(r.lossAt80PercentOfReference)} |`,
      );
    }
  }
  if (report.fanouts.some((f) => f.results.some((r) => r.latency?.length))) {
    lines.push(
      '',
      'One-way latency (generator to sink, p50 / p90 / p99) at 50% and 90% of each forwarder\'s own saturation rate:',
      '',
      '| fan-out | forwarder | variant | at 50% | at 90% | loss at 90% |',
      '|---:|---|---|---:|---:|---:|',
    );
    for (const f of report.fanouts) {
      for (const r of f.results) {
        lines.push(`| ${f.fanout} | ${r.subject} | ${r.variant ?? 'plain'} | ${latencyCell(r, 0.5)} | ${latencyCell(r, 0.9)} | ${pct(r.latency?.find((l) => l.share === 0.9)?.loss)} |`);
      }
    }
  }
  lines.push('');
  return `${lines.join('\n')}\n`;
}
