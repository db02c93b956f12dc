import { describe, expect, it } from 'vitest';
import { Analyzer } from '../../../tools/generator/analyzer.js';
import { formatJsonReport, formatProgress, formatTextReport, type ClientReport } from '../../../tools/generator/report.js';

function sample(role = 'sendrecv'): ClientReport {
  const analyzer = new Analyzer({ startNs: 0n });
  for (let i = 0; i < 100; i++) {
    if (i === 50) continue;
    analyzer.onDatagram({ ssrc: 0xabcdef01, sequence: i, rtpTimestamp: i * 900, sentNs: BigInt(i * 10e6), clientId: 5 }, 1000, BigInt(i * 10e6 + 1e6));
  }
  analyzer.addEvent({ kind: 'migration', startNs: 490_000_000n, endNs: 500_000_000n, from: 'r1', to: 'r2' });
  const a = analyzer.report(1_000_000_000n);
  return {
    name: 'n1',
    role,
    clientId: '000000000007',
    reflector: 'r2',
    durationMs: 1000,
    sent: 10,
    sentBytes: 10_000,
    sender: { ssrc: '00000001', packetSize: 1000, targetBitrateBps: 80_000, bitrateBps: 80_000, packetsPerSecond: 10, droppedOnPurpose: 1, droppedDuringFailover: 0, behindSchedule: 0, lastSequence: 9 },
    received: a.received,
    lossPct: a.received.lossPct,
    latencyMs: a.received.latencyMs,
    jitterMs: a.received.jitterMs,
    migrations: a.migrations,
    failovers: a.failovers,
  };
}

describe('client reports', () => {
  it('JSON: one document with the contract fields', () => {
    const doc = JSON.parse(formatJsonReport(sample())) as Record<string, unknown>;
    expect(doc).toMatchObject({ sent: 10, lossPct: 1, received: { total: 99, sources: [{ ssrc: 'abcdef01', lost: 1 }] } });
    expect(doc.latencyMs).toMatchObject({ p50: 1, p99: 1 });
    expect(doc.migrations).toEqual([expect.objectContaining({ from: 'r1', to: 'r2', lost: 1, gapMs: 20 })]);
    expect(doc.failovers).toEqual([]);
  });

  it('text: a readable summary with sources and events', () => {
    const text = formatTextReport(sample());
    expect(text).toContain('loss      1 of 100 (1.00%)');
    expect(text).toContain('source abcdef01');
    expect(text).toContain('dropped on purpose 1');
    expect(text).toMatch(/migration at 0\.5s: r1 -> r2, took 10\.0 ms, gap 20\.0 ms, lost 1/);
    expect(formatTextReport(sample('recvonly'))).toContain('sent      nothing (recvonly)');
  });

  it('progress: rates since the previous line', () => {
    const now = sample();
    const before = { ...now, durationMs: 500, sentBytes: 5000, received: { ...now.received, bytes: 0 } };
    expect(formatProgress(now, before)).toMatch(/1\.0s {2}sent 0\.08 Mbit\/s {2}recv 1\.58 Mbit\/s {2}loss 1\.00% {2}p99 1\.00 ms {2}migrations 1 {2}failovers 0/);
  });
});
