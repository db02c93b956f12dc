// The planner: smallest fitting m, over capacity with the lowest peak, and the most clients per m,
// including the cases where more reflectors serve fewer clients.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { budgetOf, lowestPeak, maxClients, peakOutboundStreams, plan, roleCounts } from '../../../model/index.js';

/** The most clients by walking n up one at a time until the peak passes the budget for good. */
function linearMaxClients(m: number, budgetStreams: number, recvonly = 0, sendonly = 0): number {
  let best = lowestPeak(m, roleCounts({ recvonly, sendonly })) <= budgetStreams ? recvonly + sendonly : 0;
  for (let e = 1; e <= 400; e++) {
    if (lowestPeak(m, roleCounts({ sendrecv: e, recvonly, sendonly })) <= budgetStreams) best = e + recvonly + sendonly;
  }
  return best;
}

describe('planner', () => {
  it('sizes the example of design §3: 8 clients on 4 reflectors send 20 streams, 600 Mbit/s', () => {
    const p = plan({ clients: roleCounts({ sendrecv: 8 }), bitrateMbps: 30, capacityMbps: 600, minReflectors: 4, maxReflectors: 4 });
    expect(p).toMatchObject({ fits: true, reflectors: 4, clientsPerReflector: 2, peakOutboundStreams: 20, peakOutboundMbps: 600, utilisation: 1 });
    expect(p.budget).toMatchObject({ budgetMbps: 600, budgetStreams: 20 });
  });

  it('finds the most clients per m exactly (905 Mbit/s, 30 Mbit/s streams)', () => {
    const budget = budgetOf(30, 905).budgetStreams;
    expect(budget).toBe(30);
    const most = Array.from({ length: 8 }, (_, i) => maxClients(i + 1, budget));
    expect(most).toEqual([6, 7, 9, 8, 10, 11, 10, 9]);
  });

  it('shows that more reflectors can serve fewer clients', () => {
    const budget = budgetOf(30, 905).budgetStreams;
    expect(maxClients(4, budget)).toBeLessThan(maxClients(3, budget));
    // 9 clients fit on 3 reflectors (3·(3+9−2) = 30 streams) but not on 4 (3·(4+9−2) = 33).
    const p = plan({ clients: roleCounts({ sendrecv: 9 }), bitrateMbps: 30, capacityMbps: 905, maxReflectors: 4 });
    expect(p.reflectors).toBe(3);
    expect(p.options.map((o) => o.fits)).toEqual([false, false, true, false]);
    expect(p.reason).toMatch(/more reflectors do not always help: 4 would not fit/);
    // With only 4 allowed, the planner is over capacity rather than assuming 4 ≥ 3.
    const four = plan({ clients: roleCounts({ sendrecv: 9 }), bitrateMbps: 30, capacityMbps: 905, minReflectors: 4, maxReflectors: 4 });
    expect(four.fits).toBe(false);
  });

  it('maxClients equals a linear scan, with and without receive-only and send-only clients', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 150 }), fc.nat(6), fc.nat(3), (m, budget, recvonly, sendonly) => {
        expect(maxClients(m, budget, { recvonly, sendonly })).toBe(linearMaxClients(m, budget, recvonly, sendonly));
      }),
      { numRuns: 150 },
    );
  });

  it('maxClients for all-sendrecv clients matches (4)', () => {
    for (let m = 1; m <= 16; m++) {
      for (const budget of [0, 1, 2, 30, 100, 905]) {
        let scan = 0;
        for (let n = 1; n <= 200; n++) if (peakOutboundStreams(m, n) <= budget) scan = n;
        expect(maxClients(m, budget)).toBe(scan);
      }
    }
  });

  it('the lowest peak never falls when a sendrecv client joins (so the search over n is exact)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.nat(60), fc.nat(15), fc.nat(15), (m, e, recvonly, sendonly) => {
        const before = lowestPeak(m, roleCounts({ sendrecv: e, recvonly, sendonly }));
        expect(lowestPeak(m, roleCounts({ sendrecv: e + 1, recvonly, sendonly }))).toBeGreaterThanOrEqual(before);
      }),
      { numRuns: 500 },
    );
  });

  it('picks the smallest fitting m, or the lowest peak when none fits', () => {
    fc.assert(
      fc.property(fc.nat(60), fc.nat(10), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 10 }), fc.double({ min: 0, max: 0.5, noNaN: true }), (n, k, min, extra, headroom) => {
        const recvonly = Math.min(k, n);
        const p = plan({ clients: roleCounts({ sendrecv: n - recvonly, recvonly }), bitrateMbps: 2, capacityMbps: 300, headroom, minReflectors: min, maxReflectors: min + extra });
        expect(p.options.map((o) => o.reflectors)).toEqual(Array.from({ length: extra + 1 }, (_, i) => min + i));
        const fitting = p.options.filter((o) => o.fits);
        for (const o of p.options) expect(o.fits).toBe(o.peakOutboundStreams * 2 <= 300 * (1 - headroom) + 1e-9);
        if (fitting.length > 0) {
          expect(p.fits).toBe(true);
          expect(p.reflectors).toBe(fitting[0]!.reflectors);
        } else {
          expect(p.fits).toBe(false);
          expect(p.peakOutboundStreams).toBe(Math.min(...p.options.map((o) => o.peakOutboundStreams)));
          expect(p.reason).toMatch(/^over capacity/);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('reports over capacity with the m of the lowest peak and the most any m can serve', () => {
    const p = plan({ clients: roleCounts({ sendrecv: 20 }), bitrateMbps: 30, capacityMbps: 905, maxReflectors: 16 });
    expect(p.fits).toBe(false);
    expect(p.reflectors).toBe(10); // nr = 2: 2·(10+20−2) = 56 streams, the lowest of m = 1..16
    expect(p.peakOutboundStreams).toBe(56);
    expect(p.reason).toContain('the most clients any size can serve is 16 (with 16)');
  });

  it('keeps the headroom free', () => {
    expect(budgetOf(30, 905, 0.1)).toMatchObject({ budgetMbps: 814.5, budgetStreams: 27 });
    const p = plan({ clients: roleCounts({ sendrecv: 9 }), bitrateMbps: 30, capacityMbps: 905, headroom: 0.1, maxReflectors: 16 });
    expect(p.peakOutboundStreams).toBeLessThanOrEqual(27);
    expect(p.reflectors).toBe(5); // 2·(5+9−2) = 24; m = 3 needs 30
  });

  it('serves more clients when some only receive', () => {
    const budget = budgetOf(30, 905).budgetStreams;
    expect(maxClients(4, budget, { recvonly: 4 })).toBeGreaterThan(maxClients(4, budget));
  });

  it('rejects bad input with a clear error', () => {
    const base = { clients: roleCounts({ sendrecv: 4 }), bitrateMbps: 30, capacityMbps: 905, maxReflectors: 4 };
    expect(() => plan({ ...base, minReflectors: 5 })).toThrow(/most reflectors must be a whole number >= the least \(5\)/);
    expect(() => plan({ ...base, headroom: 1 })).toThrow(/headroom must be a fraction/);
    expect(() => plan({ ...base, bitrateMbps: 0 })).toThrow(/bitrate/);
    expect(() => plan({ ...base, minReflectors: 0 })).toThrow(/least number of reflectors/);
  });
});
