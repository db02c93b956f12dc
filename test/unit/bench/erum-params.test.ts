// The Erum experiment's pure parts (bench/erum/params.ts): the scaled rates keep the report's ratio
// with headers counted as tc counts them, the model's n is the planner's, and the search from the
// model's n ends with n passing and n+1 failing, whichever side of the model the truth lies.
import { describe, expect, it } from 'vitest';
import { maxClients } from '../../../model/index.js';
import {
  BUDGET_STREAMS,
  LINK_PAYLOAD_BPS,
  LINK_WIRE_BPS,
  STREAM_BPS,
  measuredClients,
  modelClients,
  modelPeakStreams,
  nextCandidate,
  verdict,
} from '../../../bench/erum/params.js';

describe('Erum parameters', () => {
  it('keeps B/b = 905/30 and counts IP, UDP and Ethernet headers on the wire', () => {
    expect(LINK_PAYLOAD_BPS / STREAM_BPS).toBeCloseTo(905 / 30, 10);
    expect(BUDGET_STREAMS).toBe(30);
    expect(LINK_WIRE_BPS / LINK_PAYLOAD_BPS).toBeCloseTo(1482 / 1440, 10);
  });

  it('takes the model\'s n from the planner with one receive-only client, and its peak fits at n but not at n+1', () => {
    for (let m = 1; m <= 16; m++) {
      const n = modelClients(m);
      expect(n).toBe(maxClients(m, 30, { recvonly: 1 }));
      expect(modelPeakStreams(m, n)).toBeLessThanOrEqual(30);
      expect(modelPeakStreams(m, n + 1)).toBeGreaterThan(30);
    }
    expect([1, 2, 3, 4, 5, 6].map(modelClients)).toEqual([6, 8, 9, 9, 10, 12]);
  });
});

/** Runs the search against a mesh whose true capacity is `truth`, with `repeats` trials per n. */
function search(model: number, truth: number, repeats: number, loss: (n: number) => number = (n) => (n <= truth ? 0.001 : 0.2)): { measured: number; tried: number[] } {
  const trials = new Map<number, number[]>();
  const tried: number[] = [];
  for (let n = nextCandidate(model, trials, repeats, 40); n !== undefined; n = nextCandidate(model, trials, repeats, 40)) {
    tried.push(n);
    trials.set(n, [...(trials.get(n) ?? []), loss(n)]);
    expect(tried.length).toBeLessThan(100);
  }
  return { measured: measuredClients(trials, repeats), tried };
}

describe('the search for the largest passing n', () => {
  it.each([
    { model: 9, truth: 9, tried: [9, 9, 9, 10] },
    { model: 9, truth: 11, tried: [9, 9, 9, 10, 10, 10, 11, 11, 11, 12] },
    { model: 9, truth: 7, tried: [9, 8, 7, 7, 7] },
  ])('model $model, truth $truth', ({ model, truth, tried }) => {
    expect(search(model, truth, 3)).toEqual({ measured: truth, tried });
  });

  it('repeats a candidate whose first trial is near the limit, and passes it on the mean', () => {
    const losses = [0.015, 0.004, 0.004];
    let k = 0;
    const result = search(5, 5, 3, (n) => (n === 5 ? losses[k++]! : n < 5 ? 0 : 0.3));
    expect(result).toEqual({ measured: 5, tried: [5, 5, 5, 6] });
    expect(verdict([0.012, 0.012, 0.008], 3)).toBe('fail');
  });

  it('reports 0 when even one client fails', () => {
    expect(search(2, 0, 1)).toEqual({ measured: 0, tried: [2, 1] });
  });
});
