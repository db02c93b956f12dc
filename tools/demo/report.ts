// What the demo shows and reports: a snapshot per second (a row per reflector and the totals) for the
// live view, and the final JSON report. Pure shapes and arithmetic; the sampling I/O is in demo.ts.
import { countRoles, meshOutboundStreams, type RoleCounts } from '../../model/index.js';
import type { StatusResponse } from '../../protocol/api-schemas.js';
import type { ClientReport } from '../generator/report.js';

export interface ReflectorRow {
  id: string;
  /** When it was started, ms after the clients started (null: one of the first reflectors). */
  addedAtMs: number | null;
  state: 'up' | 'joining' | 'unreachable';
  clients: number;
  /** Measured from /v1/status byte counters (clients + peers) over the last interval. */
  inMbps: number;
  outMbps: number;
  /** The capacity model's outbound streams for this reflector's clients × the clients' bitrate. */
  predictedStreams: number;
  predictedOutMbps: number;
  /** Loss seen over the last interval by the clients this reflector serves. */
  lossPct: number;
  /** The highest one-way latency p99 (whole run) of the clients this reflector serves. */
  p99Ms: number;
}

export interface DemoEvent {
  atMs: number;
  text: string;
}

export interface Snapshot {
  elapsedMs: number;
  durationMs: number;
  rows: ReflectorRow[];
  total: Omit<ReflectorRow, 'id' | 'addedAtMs' | 'state'>;
  migrations: number;
  events: DemoEvent[];
}

/** Counters of one reflector at one moment, for rates from deltas. */
export interface CounterSample {
  atMs: number;
  bytesIn: number;
  bytesOut: number;
}

export function counterSample(status: StatusResponse, atMs: number): CounterSample {
  const c = status.counters;
  return { atMs, bytesIn: c.bytesIn.client + c.bytesIn.peer, bytesOut: c.bytesOut.client + c.bytesOut.peer };
}

export function rateMbps(now: CounterSample, before: CounterSample | undefined, field: 'bytesIn' | 'bytesOut'): number {
  if (!before || now.atMs <= before.atMs) return 0;
  return Math.max(0, ((now[field] - before[field]) * 8) / ((now.atMs - before.atMs) * 1000));
}

/** The model's outbound streams per reflector, from the active clients each status lists. */
export function predictedStreams(statuses: (StatusResponse | undefined)[]): number[] {
  const counts: RoleCounts[] = statuses.map((s) => countRoles((s?.clients ?? []).filter((c) => c.state === 'active')));
  return counts.length === 0 ? [] : meshOutboundStreams(counts);
}

/** A client's loss counters at the previous sample, for loss over an interval. */
export interface LossSample {
  expected: number;
  lost: number;
}

export function intervalLoss(samples: { now: LossSample; before: LossSample | undefined }[]): number {
  let expected = 0;
  let lost = 0;
  for (const { now, before } of samples) {
    expected += Math.max(0, now.expected - (before?.expected ?? 0));
    lost += Math.max(0, now.lost - (before?.lost ?? 0));
  }
  return expected > 0 ? Math.min(100, (100 * lost) / expected) : 0;
}

// ---- the final report

export interface DemoConfig {
  reflectors: number;
  clients: number;
  bitrateBps: number;
  packetSize: number;
  durationMs: number;
  addAtMs: number;
  baseAddress: string;
  dataPort: number;
  controlPort: number;
}

export interface ReflectorReport {
  id: string;
  address: string;
  dataPort: number;
  controlPort: number;
  pid: number | null;
  addedAtMs: number | null;
  /** Clients it served at the last sample before the clients left. */
  clients: number;
  datagramsIn: number;
  datagramsOut: number;
  bytesIn: number;
  bytesOut: number;
  meanInMbps: number;
  meanOutMbps: number;
  peakOutMbps: number;
  predictedStreams: number;
  predictedOutMbps: number;
}

export interface MigrationReport {
  client: string | null;
  name: string | null;
  kind: 'migration' | 'failover';
  from: string;
  to: string;
  atMs: number;
  durationMs: number;
  gapMs: number | null;
  lost: number;
}

export interface DemoReport {
  config: DemoConfig;
  stoppedBy: 'duration' | 'signal';
  durationMs: number;
  reflectors: ReflectorReport[];
  clients: (ClientReport & { address: string })[];
  migrations: MigrationReport[];
  totals: {
    reflectorsAtStart: number;
    reflectorsAtEnd: number;
    clients: number;
    clientsReceiving: number;
    sent: number;
    received: number;
    expected: number;
    lost: number;
    lossPct: number;
    latencyP99Ms: number;
    migrations: number;
    failovers: number;
    maxGapMs: number | null;
    measuredOutMbps: number;
    predictedOutMbps: number;
  };
  /** A sample per second: clients and rates per reflector. */
  timeline: { atMs: number; reflectors: { id: string; clients: number; inMbps: number; outMbps: number; predictedOutMbps: number }[] }[];
}

export function migrationsOf(clients: ClientReport[]): MigrationReport[] {
  return clients
    .flatMap((c) =>
      [...c.migrations, ...c.failovers].map((e) => ({
        client: c.clientId,
        name: c.name,
        kind: e.kind,
        from: e.from,
        to: e.to,
        atMs: e.atMs,
        durationMs: e.durationMs,
        gapMs: e.gapMs,
        lost: e.lost,
      })),
    )
    .sort((a, b) => a.atMs - b.atMs);
}

export function totalsOf(clients: ClientReport[], reflectors: ReflectorReport[], reflectorsAtStart: number): DemoReport['totals'] {
  const sum = (f: (c: ClientReport) => number): number => clients.reduce((acc, c) => acc + f(c), 0);
  const expected = sum((c) => c.received.expected);
  const lost = sum((c) => c.received.lost);
  const events = migrationsOf(clients);
  const gaps = events.map((e) => e.gapMs).filter((g): g is number => g !== null);
  return {
    reflectorsAtStart,
    reflectorsAtEnd: reflectors.length,
    clients: clients.length,
    clientsReceiving: clients.filter((c) => c.received.total > 0).length,
    sent: sum((c) => c.sent),
    received: sum((c) => c.received.total),
    expected,
    lost,
    lossPct: expected > 0 ? round3((100 * lost) / expected) : 0,
    latencyP99Ms: Math.max(0, ...clients.map((c) => c.latencyMs.p99)),
    migrations: events.filter((e) => e.kind === 'migration').length,
    failovers: events.filter((e) => e.kind === 'failover').length,
    maxGapMs: gaps.length > 0 ? Math.max(...gaps) : null,
    measuredOutMbps: round3(reflectors.reduce((acc, r) => acc + r.meanOutMbps, 0)),
    predictedOutMbps: round3(reflectors.reduce((acc, r) => acc + r.predictedOutMbps, 0)),
  };
}

export function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
