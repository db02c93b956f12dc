import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SequenceTracker } from '../../../tools/generator/sequence-tracker.js';

function feed(tracker: SequenceTracker, sequences: number[]): string[] {
  return sequences.map((s, i) => tracker.record(s & 0xffff, i));
}

describe('SequenceTracker', () => {
  it('counts a clean stream as no loss', () => {
    const t = new SequenceTracker();
    feed(t, Array.from({ length: 1000 }, (_, i) => 500 + i));
    expect([t.expected, t.received, t.lost, t.duplicates, t.reordered]).toEqual([1000, 1000, 0, 0, 0]);
  });

  it('counts gaps as loss across the 16-bit wrap-around', () => {
    const t = new SequenceTracker();
    const sent = Array.from({ length: 3000 }, (_, i) => 65000 + i); // wraps after 536 datagrams
    const received = sent.filter((_, i) => i % 10 !== 5); // every 10th lost
    feed(t, received);
    expect(t.expected).toBe(3000);
    expect(t.lost).toBe(300);
    expect(t.duplicates).toBe(0);
  });

  it('a late arrival fills its hole: reordered, not lost', () => {
    const t = new SequenceTracker();
    expect(feed(t, [1, 2, 4, 5, 3, 6])).toEqual(['next', 'next', 'next', 'next', 'late', 'next']);
    expect([t.expected, t.lost, t.reordered, t.duplicates]).toEqual([6, 0, 1, 0]);
  });

  it('recognises duplicates, including of late arrivals and across the wrap', () => {
    const t = new SequenceTracker();
    expect(feed(t, [65534, 65535, 1, 0, 0, 1, 65535, 2])).toEqual([
      'next', 'next', 'next', 'late', 'duplicate', 'duplicate', 'duplicate', 'next',
    ]);
    expect([t.expected, t.received, t.lost, t.duplicates, t.reordered]).toEqual([5, 5, 0, 3, 1]);
  });

  it('a datagram older than the first one seen extends the stream backwards', () => {
    const t = new SequenceTracker();
    feed(t, [10, 11, 7]);
    expect([t.expected, t.lost, t.reordered]).toEqual([5, 2, 1]); // 8 and 9 missing
  });

  it('attributes still-missing datagrams to the time their hole opened', () => {
    const t = new SequenceTracker();
    t.record(1, 0);
    t.record(2, 10);
    t.record(6, 500); // 3..5 missing, between 10 ms and 500 ms
    t.record(7, 510);
    t.record(4, 520); // 4 arrives late
    t.record(20, 2000); // 8..19 missing, between 510 ms and 2000 ms
    expect(t.lostBetween(100, 400)).toBe(2);
    expect(t.lostBetween(600, 700)).toBe(12);
    expect(t.lostBetween(2100, 3000)).toBe(0);
    expect(t.lost).toBe(14);
  });

  it('property: lost, duplicates and reordered agree with a model of any shuffled, lossy, duplicating stream', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.array(fc.record({ keep: fc.boolean(), copies: fc.integer({ min: 1, max: 3 }) }), { minLength: 1, maxLength: 400 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (start, plan, swaps) => {
          // The arrival order: the kept datagrams, some duplicated, then a few adjacent swaps (small reordering).
          const arrivals: number[] = [];
          plan.forEach((p, i) => {
            if (p.keep) for (let c = 0; c < p.copies; c++) arrivals.push(i);
          });
          fc.pre(arrivals.length > 0);
          for (const s of swaps) {
            const i = s % arrivals.length;
            if (i + 1 < arrivals.length) [arrivals[i], arrivals[i + 1]] = [arrivals[i + 1]!, arrivals[i]!];
          }
          const t = new SequenceTracker();
          arrivals.forEach((i, at) => t.record((start + i) & 0xffff, at));
          const unique = new Set(arrivals);
          const lowest = Math.min(...unique);
          const highest = Math.max(...unique);
          expect(t.expected).toBe(highest - lowest + 1);
          expect(t.received).toBe(unique.size);
          expect(t.lost).toBe(highest - lowest + 1 - unique.size);
          expect(t.duplicates).toBe(arrivals.length - unique.size);
        },
      ),
    );
  });
});
