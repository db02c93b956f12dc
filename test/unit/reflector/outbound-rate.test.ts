// The outbound rate's window: bits over a second and the stream count they are to be divided by, which
// must not be the count of one instant when clients come and go inside the second.
import { describe, expect, it } from 'vitest';
import { OutboundRate } from '../../../reflector/outbound-rate.js';

/** Bytes that `streams` streams of `mbps` each send in `seconds`. */
const bytesOf = (streams: number, mbps: number, seconds: number) => (streams * mbps * 1e6 * seconds) / 8;

describe('OutboundRate', () => {
  it('reads zeros before its first window', () => {
    expect(new OutboundRate(0, 0, 0).current).toEqual({ bitsPerSecond: 0, streams: 0 });
  });

  it('measures a steady second exactly', () => {
    const rate = new OutboundRate(0, 18, 0);
    rate.sample(bytesOf(18, 2, 1), 18, 1000);
    expect(rate.current).toEqual({ bitsPerSecond: 36e6, streams: 18 });
  });

  it.each([
    // [what, streams at the window's start, streams at its end, streams·seconds actually sent in it]
    ['four of six clients leave half-way (18 streams to 2)', 18, 2, 18 * 0.5 + 2 * 0.5],
    ['they leave at the very end', 18, 2, 18],
    ['they leave at the very start', 18, 2, 2],
    ['clients join half-way (2 streams to 18)', 2, 18, 2 * 0.5 + 18 * 0.5],
  ])('never reads a stream heavier than it is when the count moves inside the window: %s', (_what, before, after, streamSeconds) => {
    const mbps = 2;
    const rate = new OutboundRate(1_000_000, before, 5000);
    rate.sample(1_000_000 + bytesOf(streamSeconds, mbps, 1), after, 6000);
    const { bitsPerSecond, streams } = rate.current;
    expect(streams).toBe(Math.max(before, after));
    expect(bitsPerSecond / streams / 1e6).toBeLessThanOrEqual(mbps);
  });

  it('divides by the time that really passed, and keeps the last window when no time has', () => {
    const rate = new OutboundRate(0, 4, 0);
    rate.sample(bytesOf(4, 1, 1.5), 4, 1500); // a late timer: 1.5 s
    expect(rate.current).toEqual({ bitsPerSecond: 4e6, streams: 4 });
    rate.sample(bytesOf(4, 1, 1.5) + 999, 9, 1500);
    expect(rate.current).toEqual({ bitsPerSecond: 4e6, streams: 4 });
  });

  it('starts the next window from the end of the last: a leave counts in one window only', () => {
    const rate = new OutboundRate(0, 18, 0);
    rate.sample(bytesOf(10, 1, 1), 2, 1000);
    rate.sample(bytesOf(10, 1, 1) + bytesOf(2, 1, 1), 2, 2000);
    expect(rate.current).toEqual({ bitsPerSecond: 2e6, streams: 2 });
  });
});
