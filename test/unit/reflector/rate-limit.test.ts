// The per-client token bucket (protocol/token-bucket.ts): what it admits over any arrival pattern
// is bounded by burst + rate x elapsed, a sender at its rate loses nothing, and each limit works alone.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RatePolicer, TokenBucket } from '../../../protocol/token-bucket.js';
import { rateLimitOn } from '../../../reflector/mirror/engine.js';

describe('RatePolicer', () => {
  it('starts full: a burst of burstMs at the rate passes, the next datagram does not', () => {
    const p = new RatePolicer({ packetsPerSecond: 1000, bitsPerSecond: 0, burstMs: 100 }, 1472);
    const b = new TokenBucket();
    let passed = 0;
    for (let i = 0; i < 500; i++) if (p.admit(b, 100, 1000)) passed++;
    expect(passed).toBe(100);
    // 10 ms later 10 more tokens
    for (let i = 0; i < 50; i++) if (p.admit(b, 100, 1010)) passed++;
    expect(passed).toBe(110);
  });

  it('a sender at its rate loses nothing; one at ten times its rate keeps about a tenth', () => {
    const p = new RatePolicer({ packetsPerSecond: 0, bitsPerSecond: 8_000_000, burstMs: 200 }, 1472);
    const fair = new TokenBucket();
    const abusive = new TokenBucket();
    let fairPassed = 0;
    let abusivePassed = 0;
    // 10 s: fair sends 1000-byte datagrams at 1 MB/s (1 per ms), abusive 10 per ms.
    for (let ms = 1; ms <= 10_000; ms++) {
      if (p.admit(fair, 1000, ms)) fairPassed++;
      for (let k = 0; k < 10; k++) if (p.admit(abusive, 1000, ms)) abusivePassed++;
    }
    expect(fairPassed).toBe(10_000);
    // rate x time + burst (200 ms at 1 MB/s = 200 datagrams)
    expect(abusivePassed).toBeLessThanOrEqual(10_000 + 200);
    expect(abusivePassed).toBeGreaterThanOrEqual(10_000 - 1);
  });

  it('the bytes bucket holds at least one largest datagram, so a tiny limit still lets datagrams through', () => {
    const p = new RatePolicer({ packetsPerSecond: 0, bitsPerSecond: 8, burstMs: 1 }, 1472);
    expect(p.admit(new TokenBucket(), 1472, 5)).toBe(true);
  });

  it('never admits more than burst + rate x elapsed, whatever the arrivals (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 0, max: 200_000_000 }),
        fc.integer({ min: 1, max: 2000 }),
        fc.array(fc.record({ gapMs: fc.double({ min: 0, max: 50, noNaN: true }), size: fc.integer({ min: 1, max: 1472 }) }), { maxLength: 400 }),
        (pps, bps, burstMs, arrivals) => {
          const limit = { packetsPerSecond: pps, bitsPerSecond: bps, burstMs };
          const p = new RatePolicer(limit, 1472);
          const b = new TokenBucket();
          let now = 1;
          let packets = 0;
          let bytes = 0;
          for (const a of arrivals) {
            now += a.gapMs;
            if (p.admit(b, a.size, now)) {
              packets++;
              bytes += a.size;
            }
          }
          const elapsed = now - 1;
          const eps = 1e-6;
          expect(packets).toBeLessThanOrEqual(p.burstPackets + (elapsed * pps) / 1000 + eps);
          if (bps > 0) expect(bytes).toBeLessThanOrEqual(p.burstBytes + (elapsed * bps) / 8000 + eps);
        },
      ),
    );
  });

  it('rateLimitOn is false when both limits are 0', () => {
    expect(rateLimitOn(undefined)).toBe(false);
    expect(rateLimitOn({ packetsPerSecond: 0, bitsPerSecond: 0, burstMs: 500 })).toBe(false);
    expect(rateLimitOn({ packetsPerSecond: 1, bitsPerSecond: 0, burstMs: 500 })).toBe(true);
  });
});
