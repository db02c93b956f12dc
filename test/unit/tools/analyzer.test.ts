import { describe, expect, it } from 'vitest';
import { Analyzer, countTailLoss } from '../../../tools/generator/analyzer.js';
import { GENERATOR_CLOCK_RATE, type GeneratorPacket } from '../../../tools/generator/rtp-packet.js';

const START_NS = 5_000_000_000n;
const ns = (ms: number): bigint => START_NS + BigInt(Math.round(ms * 1e6));

/** A sender of `ssrc` sending every `intervalMs`; `deliver` says when (or whether) datagram i arrives. */
function stream(
  analyzer: Analyzer,
  ssrc: number,
  count: number,
  intervalMs: number,
  deliver: (i: number, sentMs: number) => number | undefined,
  bytes = 1200,
): void {
  const arrivals: { at: number; packet: GeneratorPacket }[] = [];
  for (let i = 0; i < count; i++) {
    const sentMs = i * intervalMs;
    const at = deliver(i, sentMs);
    if (at === undefined) continue;
    arrivals.push({
      at,
      packet: {
        ssrc,
        sequence: (65_500 + i) & 0xffff,
        rtpTimestamp: (0xfff00000 + Math.round((sentMs * GENERATOR_CLOCK_RATE) / 1000)) >>> 0,
        sentNs: ns(sentMs),
        clientId: 0xabc,
      },
    });
  }
  arrivals.sort((a, b) => a.at - b.at);
  for (const a of arrivals) analyzer.onDatagram(a.packet, bytes, ns(a.at));
}

describe('Analyzer', () => {
  it('reports a clean stream: no loss, its latency, zero jitter, its bitrate', () => {
    const analyzer = new Analyzer({ startNs: START_NS });
    stream(analyzer, 0x1234, 1001, 5, (_, sent) => sent + 2); // 200/s x 1200 B = 1.92 Mbit/s, 2 ms late
    const { received } = analyzer.report(ns(5000));
    expect(received.total).toBe(1001);
    expect(received.lossPct).toBe(0);
    expect(received.latencyMs.p50).toBeCloseTo(2, 2);
    expect(received.latencyMs.p99).toBeCloseTo(2, 2);
    expect(received.jitterMs).toBeCloseTo(0, 3);
    const [source] = received.sources;
    expect(source).toMatchObject({ ssrc: '00001234', clientId: '000000000abc', datagrams: 1001, expected: 1001, lost: 0 });
    expect(source!.bitrateBps).toBe(1_920_000);
  });

  it('shows a known share of loss, duplicates and reordering per source and in total', () => {
    const analyzer = new Analyzer({ startNs: START_NS });
    stream(analyzer, 1, 1000, 10, (i, sent) => (i % 10 === 3 ? undefined : sent + 1)); // 10% lost
    stream(analyzer, 2, 1000, 10, (i, sent) => sent + 1 + (i % 50 === 7 ? 15 : 0)); // 20 datagrams 15 ms late
    const dup = { ssrc: 2, sequence: (65_500 + 10) & 0xffff, rtpTimestamp: 0, sentNs: ns(100), clientId: 1 };
    analyzer.onDatagram(dup, 1200, ns(10_001));
    const { received } = analyzer.report(ns(10_002));
    const bySsrc = new Map(received.sources.map((s) => [s.ssrc, s]));
    expect(bySsrc.get('00000001')).toMatchObject({ expected: 1000, lost: 100, lossPct: 10, duplicates: 0 });
    expect(bySsrc.get('00000002')).toMatchObject({ expected: 1000, lost: 0, duplicates: 1, reordered: 20 });
    expect(received).toMatchObject({ expected: 2000, lost: 100, lossPct: 5, duplicates: 1, total: 900 + 1000 + 1 });
    expect(received.latencyMs.max).toBeCloseTo(16, 1);
    expect(received.latencyMs.p50).toBeCloseTo(1, 2);
  });

  it('measures jitter from varying transit time', () => {
    const analyzer = new Analyzer({ startNs: START_NS });
    stream(analyzer, 7, 4000, 5, (i, sent) => sent + 1 + (i % 2) * 2);
    const { received } = analyzer.report(ns(20_001));
    expect(received.jitterMs).toBeCloseTo(2, 2);
  });

  it('a migration reported after it completed: the gap around it and no loss', () => {
    const analyzer = new Analyzer({ startNs: START_NS });
    // Datagrams sent 1000-1040 ms arrive late, at 1050 ms (buffered during the switch): a 50 ms gap.
    stream(analyzer, 1, 400, 5, (_, sent) => (sent > 1000 && sent < 1050 ? 1050 : sent + 0.5));
    analyzer.addEvent({ kind: 'migration', startNs: ns(1000), endNs: ns(1020), from: 'r1', to: 'r2' });
    const { migrations, failovers } = analyzer.report(ns(2000));
    expect(failovers).toEqual([]);
    expect(migrations).toEqual([{ kind: 'migration', atMs: 1000, durationMs: 20, gapMs: 49.5, lost: 0, from: 'r1', to: 'r2' }]);
  });

  it('a failover: the gap from the last datagram before to the first after, and the datagrams lost in it', () => {
    const analyzer = new Analyzer({ startNs: START_NS });
    const killMs = 2002;
    const resumeMs = 3500;
    const deliver = (_: number, sent: number): number | undefined => (sent >= killMs && sent < resumeMs ? undefined : sent + 1);
    // Half the stream arrives before the client notices (at 3000 ms), the rest after.
    const send = (from: number, to: number, ssrc: number) =>
      stream(analyzer, ssrc, 1000, 5, (i, sent) => (i >= from && i < to ? deliver(i, sent) : undefined));
    send(0, 600, 9);
    analyzer.addEvent({ kind: 'failover', startNs: ns(1900), endNs: ns(3450), from: 'r1', to: 'r2', reason: 'silent' });
    send(600, 1000, 9);
    const { failovers } = analyzer.report(ns(6000));
    expect(failovers).toHaveLength(1);
    expect(failovers[0]).toMatchObject({ kind: 'failover', atMs: 1900, durationMs: 1550, reason: 'silent' });
    expect(failovers[0]!.gapMs).toBeCloseTo(resumeMs - 2000, 6); // last before at 2001, first after at 3501
    expect(failovers[0]!.lost).toBe((3495 - 2005) / 5 + 1); // sent at 2005 ... 3495 ms, never arrived
  });

  it('a failover after which nothing arrives: the gap lasts until the report', () => {
    const analyzer = new Analyzer({ startNs: START_NS });
    stream(analyzer, 3, 200, 5, (_, sent) => sent + 1); // last arrival at 996 ms
    analyzer.addEvent({ kind: 'failover', startNs: ns(1100), endNs: ns(1200), from: 'a', to: 'b' });
    // From the last arrival (996 ms, inside the window that opens 500 ms before the event) until now.
    expect(analyzer.report(ns(3000)).failovers[0]!.gapMs).toBeCloseTo(3000 - 996, 6);
  });

  it('a receiver that got nothing reports gaps as null and no loss', () => {
    const analyzer = new Analyzer({ startNs: START_NS });
    analyzer.addEvent({ kind: 'migration', startNs: ns(10), endNs: ns(20), from: 'a', to: 'b' });
    const report = analyzer.report(ns(100));
    expect(report.migrations[0]).toMatchObject({ gapMs: null, lost: 0 });
    expect(report.received).toMatchObject({ total: 0, lossPct: 0, expected: 0 });
  });

  it('counts datagrams that are not generator traffic apart', () => {
    const analyzer = new Analyzer({ startNs: START_NS });
    analyzer.onUnrecognized(100, ns(1));
    expect(analyzer.report(ns(1000)).received).toMatchObject({ total: 0, unrecognized: 1, bytes: 100 });
  });

  it('counts the loss at the end of a stream against what the sender says it sent', () => {
    // 10 s at 100/s; the victim received the first 2 s and nothing for the last 8 s.
    const analyzer = new Analyzer({ startNs: START_NS });
    stream(analyzer, 7, 1000, 10, (i, sent) => (i < 200 ? sent + 1 : undefined));
    const alone = analyzer.report(ns(10_500)).received;
    // Seen alone, nothing revealed a hole: this is what reported "lost 0".
    expect(alone.sources[0]).toMatchObject({ expected: 200, lost: 0, tailLost: 0 });
    const lastSequence = (65_500 + 999) & 0xffff; // wrapped past 65535 on the way
    const senders = [
      { ssrc: '00000007', lastSequence },
      { ssrc: '00000099', lastSequence: 5 }, // a sender this receiver never heard: nothing to add
    ];
    const { received } = analyzer.report(ns(10_500), senders);
    expect(received.sources[0]).toMatchObject({ expected: 1000, lost: 800, tailLost: 800, lossPct: 80 });
    expect(received).toMatchObject({ expected: 1000, lost: 800, lossPct: 80 });
    // The same from the JSON reports of separate processes, and applying it twice changes nothing.
    expect(countTailLoss(alone, senders)).toEqual(received);
    expect(countTailLoss(received, senders)).toEqual(received);
    // A sender's report older than what was received (behind it) adds nothing.
    expect(countTailLoss(alone, [{ ssrc: '00000007', lastSequence: (65_500 + 100) & 0xffff }]).lost).toBe(0);
  });
});
