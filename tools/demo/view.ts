// The demo's live view on a terminal (redrawn each second) and the text summary printed at the end.
import type { DemoReport, Snapshot } from './report.js';

const HEADER = ['reflector', 'clients', 'in Mbit/s', 'out Mbit/s', 'model out', 'loss', 'p99 ms'];
const WIDTHS = [19, 7, 10, 11, 10, 8, 8];
const MAX_EVENTS = 12;

export function formatView(s: Snapshot, title: string): string {
  const lines = [
    title,
    `${(s.elapsedMs / 1000).toFixed(0)}s of ${(s.durationMs / 1000).toFixed(0)}s, Ctrl-C stops`,
    '',
    row(HEADER),
    ...s.rows.map((r) =>
      row([
        `${r.id}${r.addedAtMs !== null ? ' +' : ''}${r.state === 'unreachable' ? ' ?' : ''}`,
        String(r.clients),
        r.inMbps.toFixed(2),
        r.outMbps.toFixed(2),
        r.predictedOutMbps.toFixed(2),
        `${r.lossPct.toFixed(2)}%`,
        r.p99Ms.toFixed(2),
      ]),
    ),
    row(['total', String(s.total.clients), s.total.inMbps.toFixed(2), s.total.outMbps.toFixed(2), s.total.predictedOutMbps.toFixed(2), `${s.total.lossPct.toFixed(2)}%`, s.total.p99Ms.toFixed(2)]),
    '',
    `${s.rows.length} reflectors, ${s.total.clients} clients, ${s.migrations} migrations` +
      `; measured out / model out ${s.total.predictedOutMbps > 0 ? ((100 * s.total.outMbps) / s.total.predictedOutMbps).toFixed(0) : '-'}%`,
    'in/out: reflector byte counters (/v1/status), last second',
    'model out: the capacity model\'s predicted streams x bitrate',
    'loss: last second, as its clients see it; p99: its clients\' one-way latency',
    '+: added midway',
    '',
    'events:',
    ...(s.events.length === 0 ? ['  (none yet)'] : s.events.slice(-MAX_EVENTS).map((e) => `  ${(e.atMs / 1000).toFixed(1).padStart(5)}s  ${e.text}`)),
  ];
  return lines.join('\n');
}

export function formatSummary(r: DemoReport): string {
  const t = r.totals;
  const lines = [
    `rmesh demo: ${t.reflectorsAtStart} -> ${t.reflectorsAtEnd} reflectors, ${t.clients} clients at ${(r.config.bitrateBps / 1e6).toFixed(2)} Mbit/s, ${(r.durationMs / 1000).toFixed(1)}s (${r.stoppedBy === 'signal' ? 'stopped' : 'done'})`,
    `${t.clientsReceiving}/${t.clients} clients received ${t.received} of ${t.expected} datagrams expected; lost ${t.lost} (${t.lossPct.toFixed(3)}%)`,
    `one-way latency p99 ${t.latencyP99Ms.toFixed(2)} ms; ${t.migrations} migrations, ${t.failovers} failovers; longest gap ${t.maxGapMs === null ? '-' : `${t.maxGapMs.toFixed(1)} ms`}`,
    'reflectors (mean rates over the run):',
    ...r.reflectors.map(
      (x) =>
        `  ${x.id.padEnd(19)} ${(x.addedAtMs !== null ? `added at ${(x.addedAtMs / 1000).toFixed(1)}s` : 'from the start').padEnd(15)} in ${x.meanInMbps.toFixed(2)} out ${x.meanOutMbps.toFixed(2)} Mbit/s, peak ${x.peakOutMbps.toFixed(2)}`,
    ),
    ...(r.migrations.length > 0 ? ['migrations (took, longest gap without data, datagrams lost):'] : []),
    ...r.migrations.map(
      (m) =>
        `${(m.atMs / 1000).toFixed(1).padStart(5)}s ${m.name ?? m.client}${m.kind === 'failover' ? ' failover' : ''} ${m.from} -> ${m.to} ${m.durationMs.toFixed(1)} ms, ` +
        `gap ${m.gapMs === null ? '-' : `${m.gapMs.toFixed(1)} ms`}, lost ${m.lost}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

function row(cells: string[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(WIDTHS[i]!) : c.padStart(WIDTHS[i]!))).join(' ');
}
