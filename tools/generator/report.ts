// The generator's report: its JSON shape (what `rmesh client --report json` prints, one document), the
// readable summary of `--report text`, and the one-line live progress shown on a terminal.
import type { LatencySummary, MeshEventReport, ReceptionReport } from './analyzer.js';

export interface SenderReport {
  ssrc: string;
  packetSize: number;
  targetBitrateBps: number;
  /** Achieved: bytes sent x 8 over the sending time. */
  bitrateBps: number;
  packetsPerSecond: number;
  /** Left out by --drop-every (a known loss). */
  droppedOnPurpose: number;
  /** send() calls while the client had no reflector (failing over); the receivers see them lost. */
  droppedDuringFailover: number;
  /** Datagrams the pacer gave up on after the process stalled. */
  behindSchedule: number;
  /**
   * RTP sequence number of the last datagram sent (or left out on purpose); null before the first.
   * Receivers count what they missed at the end of the stream against it (analyzer.ts countTailLoss).
   */
  lastSequence: number | null;
}

export interface ClientReport {
  name: string | null;
  role: string;
  clientId: string | null;
  /** The reflector serving the client at the end of the run. */
  reflector: string | null;
  durationMs: number;
  /** Datagrams sent to the mesh. */
  sent: number;
  sentBytes: number;
  sender: SenderReport;
  received: ReceptionReport;
  lossPct: number;
  latencyMs: LatencySummary;
  jitterMs: number;
  migrations: MeshEventReport[];
  failovers: MeshEventReport[];
}

export function formatJsonReport(report: ClientReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

export function formatTextReport(report: ClientReport): string {
  const r = report.received;
  const lines = [
    `rmesh client${report.name ? ` "${report.name}"` : ''} (${report.role}), client ${report.clientId ?? '-'} at reflector ${report.reflector ?? '-'}, ${seconds(report.durationMs)}`,
    report.role === 'recvonly'
      ? 'sent      nothing (recvonly)'
      : `sent      ${report.sent} datagrams of ${report.sender.packetSize} B, ${mbps(report.sender.bitrateBps)} (target ${mbps(report.sender.targetBitrateBps)}), ssrc ${report.sender.ssrc}` +
        extras([
          ['dropped on purpose', report.sender.droppedOnPurpose],
          ['dropped during failover', report.sender.droppedDuringFailover],
          ['behind schedule', report.sender.behindSchedule],
        ]),
    `received  ${r.total} datagrams, ${mbps(r.bitrateBps)} from ${r.sources.length} source(s)` +
      extras([
        ['duplicates', r.duplicates],
        ['reordered', r.reordered],
        ['not generator traffic', r.unrecognized],
      ]),
    `loss      ${r.lost} of ${r.expected} (${pct(r.lossPct)})`,
    `latency   ${latency(r.latencyMs)}`,
    `jitter    ${r.jitterMs.toFixed(3)} ms (RFC 3550)`,
  ];
  for (const s of r.sources) {
    lines.push(
      `  source ${s.ssrc} (client ${s.clientId}): ${s.datagrams} datagrams, ${mbps(s.bitrateBps)}, loss ${s.lost}/${s.expected} (${pct(s.lossPct)}), ` +
        `dup ${s.duplicates}, reordered ${s.reordered}, latency p50 ${s.latencyMs.p50.toFixed(3)} p99 ${s.latencyMs.p99.toFixed(3)} ms, jitter ${s.jitterMs.toFixed(3)} ms`,
    );
  }
  lines.push(...events('migration', report.migrations), ...events('failover', report.failovers));
  return `${lines.join('\n')}\n`;
}

/** One line for a terminal, rewritten in place while the run goes on; rates are since `previous`. */
export function formatProgress(report: ClientReport, previous: ClientReport | undefined): string {
  const dtMs = report.durationMs - (previous?.durationMs ?? 0);
  const rate = (now: number, before: number): string => (dtMs > 0 ? mbps(((now - before) * 8 * 1000) / dtMs) : '-');
  return (
    `${seconds(report.durationMs).padStart(7)}  sent ${rate(report.sentBytes, previous?.sentBytes ?? 0)}` +
    `  recv ${rate(report.received.bytes, previous?.received.bytes ?? 0)}` +
    `  loss ${pct(report.lossPct)}  p99 ${report.latencyMs.p99.toFixed(2)} ms` +
    `  migrations ${report.migrations.length}  failovers ${report.failovers.length}`
  );
}

function events(kind: string, list: MeshEventReport[]): string[] {
  return list.map(
    (e) =>
      `${kind.padEnd(9)} at ${seconds(e.atMs)}: ${e.from} -> ${e.to}${e.reason ? ` (${e.reason})` : ''}, took ${e.durationMs.toFixed(1)} ms, ` +
      `gap ${e.gapMs === null ? '-' : `${e.gapMs.toFixed(1)} ms`}, lost ${e.lost}`,
  );
}

function extras(items: [string, number][]): string {
  const shown = items.filter(([, n]) => n > 0).map(([label, n]) => `${label} ${n}`);
  return shown.length > 0 ? `; ${shown.join(', ')}` : '';
}

function latency(l: LatencySummary): string {
  return `p50 ${l.p50.toFixed(3)}  p90 ${l.p90.toFixed(3)}  p99 ${l.p99.toFixed(3)}  max ${l.max.toFixed(3)} ms (one-way)`;
}

function mbps(bps: number): string {
  return `${(bps / 1e6).toFixed(2)} Mbit/s`;
}

function pct(value: number): string {
  return `${value.toFixed(2)}%`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}
