// The benchmarks' report shaping: percentiles, window loss over clients, migration/failover summaries,
// the client groups' split, the data-plane latency cells and the capacity table.
import { describe, expect, it } from 'vitest';
import { latencyCell, markdownReport, type Report, type SubjectResult } from '../../../bench/dataplane/report.js';
import { percentile, summarize } from '../../../bench/lib/stats.js';
import { groupConfigs, timing, windowLoss } from '../../../bench/mesh/clients.js';
import { capacityMarkdown, capacityRows } from '../../../bench/mesh/suite.js';
import { eventsMarkdown, samplesOf, summarizeEvents } from '../../../bench/migration/events.js';
import { lineChartSvg } from '../../../tools/plot/svg.js';

describe('percentile (nearest rank)', () => {
  it('reports observed samples', () => {
    const v = [5, 1, 4, 2, 3, 10, 9, 8, 7, 6];
    expect(percentile(v, 0.5)).toBe(5);
    expect(percentile(v, 0.9)).toBe(9);
    expect(percentile(v, 0.99)).toBe(10);
    expect(percentile(v, 0)).toBe(1);
    expect(percentile([42], 0.5)).toBe(42);
    expect(percentile([], 0.5)).toBeNaN();
    expect(() => percentile(v, 1.5)).toThrow(RangeError);
  });

  it('summarizes without reordering the input', () => {
    const v = [3, 1, 2];
    expect(summarize(v)).toMatchObject({ count: 3, min: 1, p50: 2, max: 3, mean: 2 });
    expect(v).toEqual([3, 1, 2]);
  });
});

describe('windowLoss', () => {
  it('sums the window deltas over clients and the senders shortfall', () => {
    const w = windowLoss(
      [
        { windowStart: { expected: 100, lost: 1, behindSchedule: 0 }, windowEnd: { expected: 1100, lost: 6, behindSchedule: 10 } },
        { windowStart: null, windowEnd: { expected: 1000, lost: 15, behindSchedule: 0 } },
      ],
      500,
    );
    expect(w).toEqual({ expected: 2000, lost: 20, behindSchedule: 10, loss: 0.01, shortfall: 0.01 });
  });

  it('counts a window that expected nothing as total loss (nothing was carried)', () => {
    expect(windowLoss([{ windowStart: null, windowEnd: null }], 10).loss).toBe(1);
  });
});

describe('client groups', () => {
  it('spread the clients round-robin, stagger joins across groups and end together', () => {
    const run = { join: ['a:1'], addresses: ['h0', 'h1', 'h2', 'h3', 'h4'], staggerMs: 10, warmupMs: 100, windowMs: 1000, bitrateBps: 1e6, packetSize: 1000, groups: 2 };
    const groups = groupConfigs(run);
    expect(groups.map((g) => g.addresses)).toEqual([['h0', 'h2', 'h4'], ['h1', 'h3']]);
    expect(groups[1]!.startAtMs).toEqual([10, 30]);
    expect(timing(run)).toEqual({ windowMs: [140, 1140], endAtMs: 1340 });
    expect(new Set(groups.map((g) => g.endAtMs)).size).toBe(1);
    expect(groups[0]!.tokens).toBeUndefined();
  });

  it('mint a token per client when the mesh key is given', () => {
    const groups = groupConfigs({ join: ['a:1'], meshKey: Buffer.alloc(32, 7).toString('base64'), addresses: ['h0', 'h1'], staggerMs: 1, warmupMs: 1, windowMs: 1, bitrateBps: 1, packetSize: 1000, groups: 1 });
    expect(groups[0]!.tokens).toHaveLength(2);
    expect(groups[0]!.tokens![0]).not.toBe(groups[0]!.tokens![1]);
  });
});

describe('migration and failover summaries', () => {
  const event = (kind: 'migration' | 'failover', durationMs: number, gapMs: number | null, lost: number) => ({ kind, atMs: 0, durationMs, gapMs, lost, from: 'a', to: 'b' });
  it('take every event of every client, by kind', () => {
    const samples = [
      ...samplesOf(0, [{ name: 'c1', report: { migrations: [event('migration', 10, 30, 0)], failovers: [] } }]),
      ...samplesOf(1, [
        { name: 'c1', report: { migrations: [event('migration', 20, 40, 2)], failovers: [event('failover', 3200, 3100, 1600)] } },
        { name: 'c2', report: { migrations: [], failovers: [event('failover', 3300, null, 1700)] } },
      ]),
    ];
    const m = summarizeEvents('migration', samples);
    expect(m).toMatchObject({ events: 2, runs: 2, lossless: 1 });
    expect(m.gapMs.max).toBe(40);
    const f = summarizeEvents('failover', samples);
    expect(f).toMatchObject({ events: 2, runs: 1, lossless: 0 });
    expect(f.gapMs.count).toBe(1); // a null gap (nothing received) is not a sample
    const md = eventsMarkdown([m, f], { migration: 'x', failover: 'y' }, true);
    expect(md).toContain('| migration | 2 | 2 | 10.0 / 20.0 / 20.0 | 30.0 / 40.0 / 40.0 | 0 / 2 / 2 | 1 of 2 |');
    expect(md).toContain('(quick mode)');
  });
});

describe('data-plane report', () => {
  const subject = (over: Partial<SubjectResult>): SubjectResult => ({ subject: 'native', saturationOutPerSecond: 100_000, costRateOutPerSecond: 50_000, cpuNsPerDatagram: 2000, cpuNsRuns: [2000], lossAtCostRate: 0, ...over });
  it('shows latency at 50% and 90% of saturation, and the variant of every row', () => {
    const r = subject({ variant: 'plain', latency: [{ share: 0.5, outPerSecond: 50_000, loss: 0, latencyUs: { p50: 120, p90: 480, p99: 2500, max: 9000 } }] });
    expect(latencyCell(r, 0.5)).toBe('0.12 ms / 0.48 ms / 2.50 ms');
    expect(latencyCell(r, 0.9)).toBe('–');
    const report: Report = { started: 't', lossLimit: 0.001, cpus: 2, loadAverage: [1, 1, 1], options: { size: 1440, trialSeconds: 1, repeat: 1, costRateShare: 0.5, senders: 1 }, fanouts: [{ fanout: 4, reference: 'native', results: [r] }] };
    const md = markdownReport(report);
    expect(md).toContain('| 4 | native | plain | 2000 |');
    expect(md).toContain('| 4 | native | plain | 0.12 ms / 0.48 ms / 2.50 ms | – |');
  });
});

describe('capacity table and plot', () => {
  it('puts the measured count beside the model fed with the m = 1 budget', () => {
    const { budgetStreams, rows } = capacityRows(new Map([[1, 16], [2, 14], [3, 13]]));
    expect(budgetStreams).toBe(240);
    expect(rows[0]).toEqual({ m: 1, measured: 16, model: 16, oneMachine: 16 });
    expect(rows[1]).toMatchObject({ m: 2, measured: 14, model: 21, oneMachine: 15 });
    const md = capacityMarkdown(budgetStreams, rows, false);
    expect(md).toContain('| 2 | 14 | 21 | 15 |');
  });

  it('draws every series with its points and legend', () => {
    const svg = lineChartSvg({ title: 'T <&>', xLabel: 'm', yLabel: 'n', integerX: true, series: [{ name: 'measured', points: [{ x: 1, y: 16 }, { x: 2, y: 14 }] }, { name: 'model', points: [{ x: 1, y: 16 }, { x: 2, y: 21 }], dashed: true }] });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg.match(/<circle/g)).toHaveLength(4);
    expect(svg).toContain('T &lt;&amp;&gt;');
    expect(svg).toContain('stroke-dasharray');
  });
});
