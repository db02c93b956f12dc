// The benchmarks' searches: the mesh suite's integer search for the largest passing client count, the
// data-plane suite's saturation search, and the predictions the measured capacity is put beside.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { budgetFromSingleReflector, largestPassing, modelMaxClients, oneMachineMaxClients } from '../../../bench/mesh/capacity.js';
import { LOSS_LIMIT, saturation } from '../../../bench/dataplane/search.js';

/** A probe that passes up to `limit`, recording what it was asked. */
function threshold(limit: number): { probe: (n: number) => Promise<boolean>; asked: number[] } {
  const asked: number[] = [];
  return { asked, probe: (n) => Promise.resolve((asked.push(n), n <= limit)) };
}

describe('largestPassing', () => {
  it('finds the exact threshold from below and from above the start', async () => {
    for (const [start, limit] of [[4, 17], [30, 17], [17, 17], [18, 17], [1, 1]] as const) {
      expect(await largestPassing({ start, max: 100, resolution: 1 }, threshold(limit).probe)).toBe(limit);
    }
  });

  it('is 0 when even one client fails, and max when max passes', async () => {
    expect(await largestPassing({ start: 10, max: 100, resolution: 1 }, threshold(0).probe)).toBe(0);
    const t = threshold(1000);
    expect(await largestPassing({ start: 10, max: 60, resolution: 1 }, t.probe)).toBe(60);
    expect(Math.max(...t.asked)).toBe(60);
  });

  it('never tries a count twice, never past max, and stays within the resolution below the threshold', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 80 }), fc.integer({ min: 0, max: 90 }), fc.integer({ min: 1, max: 4 }), async (start, limit, resolution) => {
        const t = threshold(limit);
        const found = await largestPassing({ start, max: 80, resolution }, t.probe);
        expect(new Set(t.asked).size).toBe(t.asked.length);
        expect(Math.max(...t.asked)).toBeLessThanOrEqual(80);
        const truth = Math.min(limit, 80);
        expect(found).toBeLessThanOrEqual(truth);
        expect(truth - found).toBeLessThan(resolution);
      }),
    );
  });

  it('refuses a plan that cannot search', async () => {
    await expect(largestPassing({ start: 0, max: 10, resolution: 1 }, threshold(3).probe)).rejects.toThrow(RangeError);
  });
});

describe('the data-plane saturation search', () => {
  it('brackets the loss threshold and refines it, retrying a lossy trial unless told not to', async () => {
    const asked: number[] = [];
    const lossAt = (rate: number): Promise<number> => Promise.resolve((asked.push(rate), rate > 100_000 ? 0.05 : 0));
    const found = await saturation({ start: 25_000, factor: 2, max: 1e6, refinements: 3 }, lossAt);
    expect(found).toBeLessThanOrEqual(100_000);
    expect(found).toBeGreaterThan(80_000); // 100k..200k halved three times: within 12.5k below
    // 200k was lossy: tried twice by default.
    expect(asked.filter((r) => r === 200_000)).toHaveLength(2);
    asked.length = 0;
    await saturation({ start: 25_000, factor: 2, max: 1e6, refinements: 3, retryLossy: false }, lossAt);
    expect(asked.filter((r) => r === 200_000)).toHaveLength(1);
    expect(LOSS_LIMIT).toBe(0.001);
  });
});

describe('the predictions beside the measured capacity', () => {
  it('takes the per-reflector budget from m = 1 as n·(n−1) streams, and the model gives n back at m = 1', () => {
    expect(budgetFromSingleReflector(16)).toBe(240);
    for (const n of [2, 5, 16, 40]) expect(modelMaxClients(1, budgetFromSingleReflector(n))).toBe(n);
  });

  it('lets the model grow with m for a per-reflector budget (out = nr·(m+n−2))', () => {
    const budget = budgetFromSingleReflector(16); // 240 streams
    // m = 2: nr = ⌈n/2⌉, out = ⌈n/2⌉·n ≤ 240 → n = 21 (11·21 = 231; 22: 11·22 = 242).
    expect(modelMaxClients(2, budget)).toBe(21);
    expect(modelMaxClients(3, budget)).toBeGreaterThan(modelMaxClients(2, budget));
  });

  it('shrinks with m on one shared machine: n·(n−1) + n·(m−1) within the machine budget', () => {
    const budget = budgetFromSingleReflector(16);
    expect(oneMachineMaxClients(1, budget)).toBe(16);
    // m = 2: n² ≤ 240 → 15; m = 3: n·(n+1) ≤ 240 → 15 (15·16 = 240); m = 6: n·(n+4) ≤ 240 → 13.
    expect(oneMachineMaxClients(2, budget)).toBe(15);
    expect(oneMachineMaxClients(3, budget)).toBe(15);
    expect(oneMachineMaxClients(6, budget)).toBe(13);
    expect(oneMachineMaxClients(4, 0)).toBe(0);
  });
});
