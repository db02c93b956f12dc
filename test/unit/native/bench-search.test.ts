// The benchmark's saturation search: finds the largest clean rate within the refinement step, repeats a
// lossy trial once before believing it, and reports 0 when even the first rate loses.
import { describe, expect, it } from 'vitest';
import { saturation } from '../../../bench/dataplane/search.js';

const plan = { start: 1000, factor: 2, max: 1_000_000, refinements: 4 };

describe('saturation search', () => {
  it('closes in on the limit of a forwarder that loses above 37,000/s', async () => {
    const tried: number[] = [];
    const found = await saturation(plan, (rate) => {
      tried.push(rate);
      return Promise.resolve(rate > 37_000 ? 0.05 : 0);
    });
    // 64,000 loses; halving the gap: 48,000 loses, 40,000 loses, 36,000 is clean, 38,000 loses.
    expect(found).toBe(36_000);
    expect(tried.slice(0, 6)).toEqual([1000, 2000, 4000, 8000, 16000, 32000]);
  });

  it('repeats a lossy trial once: a single burst from a neighbour does not end the search', async () => {
    let calls = 0;
    const found = await saturation({ ...plan, max: 4000, refinements: 0 }, (rate) => {
      calls++;
      return Promise.resolve(rate === 2000 && calls === 2 ? 0.5 : 0);
    });
    expect(found).toBe(4000);
  });

  it('reports 0 when the first rate already loses', async () => {
    expect(await saturation(plan, () => Promise.resolve(0.01))).toBe(0);
  });
});
