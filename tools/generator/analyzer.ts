// The analyzer: what a receiver of generator traffic measured, per source and in total — datagrams,
// bytes, bitrate, loss, duplicates, reordering, one-way latency percentiles and RFC 3550 jitter — and,
// for each migration and failover of this client, the gap in reception around it and the datagrams lost
// in it. Pure: it is fed decoded datagrams and events with their times, and does no I/O, so it is tested
// with made-up streams. A receiver alone sees loss only up to the last datagram it got; what the senders
// report they sent (their last sequence number, countTailLoss) adds the loss at the end of a stream.
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import { JitterEstimator } from './jitter.js';
import { GENERATOR_CLOCK_RATE, type GeneratorPacket } from './rtp-packet.js';
import { SequenceTracker } from './sequence-tracker.js';

export interface AnalyzerOptions {
  /** Time origin of the run (process.hrtime.bigint() at its start); report times are relative to it. */
  startNs: bigint;
  /** RTP timestamp clock of the streams, for jitter (default the generator's 90 kHz). */
  clockRate?: number;
  /**
   * How far around a migration or failover to look for its gap and losses (default 500 ms): the effect
   * of an event on reception shows a little before the client hears of it (the mesh moves first) and
   * a little after it completes (data in flight).
   */
  eventGuardMs?: number;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface SourceReport {
  /** The sender's RTP SSRC, 8 hex digits: the key of a source. */
  ssrc: string;
  /** The sender's client id in its latest datagram (it changes when the sender fails over). */
  clientId: string;
  /** Datagrams received, duplicates included. */
  datagrams: number;
  bytes: number;
  bitrateBps: number;
  /**
   * Datagrams the sender sent from the first sequence number seen to the highest seen or, when the
   * sender's report is known, to the last it sent.
   */
  expected: number;
  lost: number;
  /** Of `lost`: sent after the last datagram received (known only from the sender's report; else 0). */
  tailLost: number;
  /** The highest RTP sequence number received (16 bits). */
  lastSequence: number;
  lossPct: number;
  duplicates: number;
  reordered: number;
  latencyMs: LatencySummary;
  jitterMs: number;
  firstMs: number;
  lastMs: number;
}

export interface ReceptionReport {
  /** Datagrams received from every source, duplicates included. */
  total: number;
  bytes: number;
  bitrateBps: number;
  expected: number;
  lost: number;
  lossPct: number;
  duplicates: number;
  reordered: number;
  /** Datagrams that were not generator traffic (another application's RTP, or garbage). */
  unrecognized: number;
  latencyMs: LatencySummary;
  /** The mean of the sources' RFC 3550 jitter. */
  jitterMs: number;
  sources: SourceReport[];
}

export type MeshEventKind = 'migration' | 'failover';

export interface MeshEventInput {
  kind: MeshEventKind;
  /** When the event began: the migrate order, or the moment the failed reflector went silent. */
  startNs: bigint;
  /** When the client was registered at its new reflector. */
  endNs: bigint;
  from: string;
  to: string;
  reason?: string;
}

export interface MeshEventReport {
  kind: MeshEventKind;
  /** Start, ms after the run's start. */
  atMs: number;
  /** Start to end, as the client saw it. */
  durationMs: number;
  /** The longest interval without any datagram received around the event; null when nothing is received. */
  gapMs: number | null;
  /** Datagrams, from every source, that went missing around the event and never arrived. */
  lost: number;
  from: string;
  to: string;
  reason?: string;
}

interface Source {
  ssrc: number;
  clientId: number;
  datagrams: number;
  bytes: number;
  firstBytes: number;
  firstMs: number;
  lastMs: number;
  sequence: SequenceTracker;
  jitter: JitterEstimator;
  latencyUs: RecordableHistogram;
}

interface TrackedEvent {
  input: MeshEventInput;
  startMs: number;
  endMs: number;
  windowStartMs: number;
  windowEndMs: number;
  gapMs: number;
  open: boolean;
}

/** Arrival times kept to measure gaps of events reported after they happened. */
const ARRIVAL_RING_SIZE = 1 << 16;

export class Analyzer {
  private readonly startNs: bigint;
  private readonly clockRate: number;
  private readonly guardMs: number;
  private readonly sources = new Map<number, Source>();
  private readonly latencyUs = createHistogram();
  private readonly arrivals = new Float64Array(ARRIVAL_RING_SIZE);
  private arrivalCount = 0;
  private readonly events: TrackedEvent[] = [];
  private unrecognized = 0;
  private unrecognizedBytes = 0;

  constructor(options: AnalyzerOptions) {
    this.startNs = options.startNs;
    this.clockRate = options.clockRate ?? GENERATOR_CLOCK_RATE;
    this.guardMs = options.eventGuardMs ?? 500;
  }

  /** Milliseconds after the run's start. */
  msAt(ns: bigint): number {
    return Number(ns - this.startNs) / 1e6;
  }

  /** One generator datagram of `bytes` bytes, arrived at `arrivalNs`. */
  onDatagram(packet: GeneratorPacket, bytes: number, arrivalNs: bigint): void {
    const arrivalMs = this.msAt(arrivalNs);
    const source = this.source(packet, bytes, arrivalMs);
    source.datagrams++;
    source.bytes += bytes;
    source.lastMs = arrivalMs;
    source.clientId = packet.clientId;
    this.onArrival(arrivalMs);
    if (source.sequence.record(packet.sequence, arrivalMs) === 'duplicate') return;
    source.jitter.update(arrivalMs, packet.rtpTimestamp);
    // Clocks of one host: a negative latency can only be rounding; other hosts' clocks are not compared.
    const latencyUs = Math.max(1, Math.round(Number(arrivalNs - packet.sentNs) / 1000));
    source.latencyUs.record(latencyUs);
    this.latencyUs.record(latencyUs);
  }

  /** A datagram that is not generator traffic; counted, and it shows the path is alive. */
  onUnrecognized(bytes: number, arrivalNs: bigint): void {
    this.unrecognized++;
    this.unrecognizedBytes += bytes;
    this.onArrival(this.msAt(arrivalNs));
  }

  /** A migration or failover of this client, reported when it completed (or later). */
  addEvent(input: MeshEventInput): void {
    const startMs = this.msAt(input.startNs);
    const endMs = this.msAt(input.endNs);
    const event: TrackedEvent = {
      input,
      startMs,
      endMs,
      windowStartMs: startMs - this.guardMs,
      windowEndMs: endMs + this.guardMs,
      gapMs: 0,
      open: true,
    };
    this.measurePastGap(event);
    this.events.push(event);
  }

  /** The report until `nowNs`; with the senders' last sequence numbers, loss at the streams' ends counts too. */
  report(nowNs: bigint, senders: readonly SenderTotal[] = []): { received: ReceptionReport; migrations: MeshEventReport[]; failovers: MeshEventReport[] } {
    const nowMs = this.msAt(nowNs);
    const sources = [...this.sources.values()].map((s) => withTail(sourceReport(s), senders));
    const sum = (f: (s: SourceReport) => number): number => sources.reduce((acc, s) => acc + f(s), 0);
    const expected = sum((s) => s.expected);
    const lost = sum((s) => s.lost);
    const bytes = sum((s) => s.bytes) + this.unrecognizedBytes;
    const received: ReceptionReport = {
      total: sum((s) => s.datagrams),
      bytes,
      bitrateBps: nowMs > 0 ? (bytes * 8 * 1000) / nowMs : 0,
      expected,
      lost,
      lossPct: percent(lost, expected),
      duplicates: sum((s) => s.duplicates),
      reordered: sum((s) => s.reordered),
      unrecognized: this.unrecognized,
      latencyMs: latencySummary(this.latencyUs),
      jitterMs: sources.length > 0 ? sum((s) => s.jitterMs) / sources.length : 0,
      sources,
    };
    const events = this.events.map((e) => this.eventReport(e, nowMs));
    return {
      received,
      migrations: events.filter((e) => e.kind === 'migration'),
      failovers: events.filter((e) => e.kind === 'failover'),
    };
  }

  private source(packet: GeneratorPacket, bytes: number, arrivalMs: number): Source {
    let source = this.sources.get(packet.ssrc);
    if (!source) {
      source = {
        ssrc: packet.ssrc,
        clientId: packet.clientId,
        datagrams: 0,
        bytes: 0,
        firstBytes: bytes,
        firstMs: arrivalMs,
        lastMs: arrivalMs,
        sequence: new SequenceTracker(),
        jitter: new JitterEstimator(this.clockRate),
        latencyUs: createHistogram(),
      };
      this.sources.set(packet.ssrc, source);
    }
    return source;
  }

  /** Extends the gaps of events whose window this arrival (or the silence before it) touches. */
  private onArrival(arrivalMs: number): void {
    if (this.arrivalCount > 0) {
      const previousMs = this.lastArrivalMs();
      for (const event of this.events) {
        if (!event.open) continue;
        if (previousMs > event.windowEndMs) {
          event.open = false;
          continue;
        }
        if (arrivalMs >= event.windowStartMs) {
          event.gapMs = Math.max(event.gapMs, arrivalMs - Math.max(previousMs, event.windowStartMs));
        }
      }
    }
    this.arrivals[this.arrivalCount % ARRIVAL_RING_SIZE] = arrivalMs;
    this.arrivalCount++;
  }

  private lastArrivalMs(): number {
    return this.arrivals[(this.arrivalCount - 1) % ARRIVAL_RING_SIZE]!;
  }

  /** The part of an event's gap that lies in arrivals already seen (events are reported after the fact). */
  private measurePastGap(event: TrackedEvent): void {
    const kept = Math.min(this.arrivalCount, ARRIVAL_RING_SIZE);
    for (let back = 0; back < kept - 1; back++) {
      const later = this.arrivals[(this.arrivalCount - 1 - back) % ARRIVAL_RING_SIZE]!;
      const earlier = this.arrivals[(this.arrivalCount - 2 - back) % ARRIVAL_RING_SIZE]!;
      if (later < event.windowStartMs) break;
      if (earlier <= event.windowEndMs) {
        event.gapMs = Math.max(event.gapMs, later - Math.max(earlier, event.windowStartMs));
      }
    }
    if (this.arrivalCount > 0 && this.lastArrivalMs() > event.windowEndMs) event.open = false;
  }

  private eventReport(event: TrackedEvent, nowMs: number): MeshEventReport {
    let gapMs: number | null = null;
    if (this.arrivalCount > 0) {
      gapMs = event.gapMs;
      // Still no datagram since the window began: the silence lasts until now.
      const lastMs = this.lastArrivalMs();
      if (event.open && nowMs >= event.windowStartMs && lastMs <= event.windowEndMs) {
        gapMs = Math.max(gapMs, nowMs - Math.max(lastMs, event.windowStartMs));
      }
    }
    let lost = 0;
    for (const source of this.sources.values()) lost += source.sequence.lostBetween(event.windowStartMs, event.windowEndMs);
    const report: MeshEventReport = {
      kind: event.input.kind,
      atMs: round3(event.startMs),
      durationMs: round3(event.endMs - event.startMs),
      gapMs: gapMs === null ? null : round3(gapMs),
      lost,
      from: event.input.from,
      to: event.input.to,
    };
    if (event.input.reason !== undefined) report.reason = event.input.reason;
    return report;
  }
}

/** What a sender reports it sent: its SSRC (8 hex digits) and the sequence number of its last datagram. */
export interface SenderTotal {
  ssrc: string;
  /** Null when it sent nothing. */
  lastSequence: number | null;
}

/**
 * A receiver's report with the loss at the end of each stream added: datagrams its sender says it sent
 * after the last one this receiver got (a receiver cut off for the last seconds saw no hole, since no
 * later datagram revealed one). Sources without a sender report are left as they are. Pure, so a harness
 * can apply it to the JSON reports of separate `rmesh client` processes.
 */
export function countTailLoss(received: ReceptionReport, senders: readonly SenderTotal[]): ReceptionReport {
  const sources = received.sources.map((s) => withTail(s, senders));
  const expected = sources.reduce((n, s) => n + s.expected, 0);
  const lost = sources.reduce((n, s) => n + s.lost, 0);
  return { ...received, expected, lost, lossPct: percent(lost, expected), sources };
}

function withTail(source: SourceReport, senders: readonly SenderTotal[]): SourceReport {
  const sender = senders.find((s) => s.ssrc === source.ssrc);
  if (!sender || sender.lastSequence === null) return source;
  // Forward distance on the 16-bit circle; a sender "behind" what was received (half the circle or
  // more) is a stale report, not 65 000 lost datagrams.
  const ahead = (sender.lastSequence - source.lastSequence + 0x1_0000) % 0x1_0000;
  const tail = ahead < 0x8000 ? ahead - source.tailLost : 0;
  if (tail <= 0) return source;
  const expected = source.expected + tail;
  const lost = source.lost + tail;
  return { ...source, expected, lost, tailLost: source.tailLost + tail, lossPct: percent(lost, expected) };
}

function sourceReport(source: Source): SourceReport {
  const spanMs = source.lastMs - source.firstMs;
  const { sequence } = source;
  return {
    ssrc: source.ssrc.toString(16).padStart(8, '0'),
    clientId: source.clientId.toString(16).padStart(12, '0'),
    datagrams: source.datagrams,
    bytes: source.bytes,
    // The first datagram opens the interval; its bytes were sent before it.
    bitrateBps: spanMs > 0 ? Math.round(((source.bytes - source.firstBytes) * 8 * 1000) / spanMs) : 0,
    expected: sequence.expected,
    lost: sequence.lost,
    tailLost: 0,
    lastSequence: sequence.highestExtended & 0xffff,
    lossPct: percent(sequence.lost, sequence.expected),
    duplicates: sequence.duplicates,
    reordered: sequence.reordered,
    latencyMs: latencySummary(source.latencyUs),
    jitterMs: round3(source.jitter.ms),
    firstMs: round3(source.firstMs),
    lastMs: round3(source.lastMs),
  };
}

function latencySummary(histogram: RecordableHistogram): LatencySummary {
  if (histogram.count === 0) return { p50: 0, p90: 0, p99: 0, max: 0, mean: 0 };
  const ms = (us: number): number => round3(us / 1000);
  return {
    p50: ms(histogram.percentile(50)),
    p90: ms(histogram.percentile(90)),
    p99: ms(histogram.percentile(99)),
    max: ms(histogram.max),
    mean: ms(histogram.mean),
  };
}

function percent(part: number, whole: number): number {
  return whole > 0 ? round3((100 * part) / whole) : 0;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}
