// What the autoscaling scenario (test/e2e/real-autoscaling.test.ts) concludes from its samples
// (test/e2e/harness/samples.ts): changes of a count sampled every second, flaps within a window, loss
// outside migrations, the durations' summary.
import { describe, expect, it } from 'vitest';
import {
  countChanges, describeChanges, desiredCounts, findFlaps, longestSampleGapMs, lossOutsideMigrations, reflectorCounts, removedPods, summariseDurations,
  type CountSample, type MeshSample,
} from '../../e2e/harness/samples.js';
import type { ClientReport } from '../../e2e/harness/mesh.js';

/** Samples one second apart from t = 0, with these counts. */
const everySecond = (...counts: number[]): CountSample[] => counts.map((count, i) => ({ atMs: i * 1000, count }));

describe('count changes', () => {
  it('lists each change at the later sample, nothing for a steady count', () => {
    expect(countChanges(everySecond(1, 1, 2, 3, 3, 2))).toEqual([
      { atMs: 2000, from: 1, to: 2 },
      { atMs: 3000, from: 2, to: 3 },
      { atMs: 5000, from: 3, to: 2 },
    ]);
    expect(countChanges(everySecond(2, 2, 2))).toEqual([]);
    expect(countChanges([])).toEqual([]);
  });

  it('describes the history from an origin', () => {
    expect(describeChanges(everySecond(1, 2, 2, 1), 1000)).toBe('1 at first, then 1 → 2 at 0.0 s, 2 → 1 at 2.0 s (4 samples)');
    expect(describeChanges(everySecond(3, 3), 0)).toBe('3 at first, unchanged (2 samples)');
    expect(describeChanges([], 0)).toBe('no samples');
  });
});

describe('flaps: a removal followed by an addition within the window', () => {
  it('finds an addition 3 s after a removal with a 25 s window', () => {
    const flaps = findFlaps(everySecond(3, 2, 2, 2, 3), 25_000);
    expect(flaps).toEqual([{ removal: { atMs: 1000, from: 3, to: 2 }, addition: { atMs: 4000, from: 2, to: 3 } }]);
  });

  it('is not a flap when the addition comes at or after the window', () => {
    expect(findFlaps(everySecond(3, 2, 2, 3), 2000)).toEqual([]);
    expect(findFlaps(everySecond(3, 2, 2, 3), 2001)).toHaveLength(1);
  });

  it('grows then shrinks then grows past the window: no flap; additions before any removal never are', () => {
    const samples = [...everySecond(1, 2, 3, 3, 2, 1), { atMs: 40_000, count: 2 }, { atMs: 41_000, count: 3 }];
    expect(findFlaps(samples, 30_000)).toEqual([]);
  });

  it('pairs an addition with the latest removal before it', () => {
    const flaps = findFlaps(everySecond(3, 2, 1, 2), 10_000);
    expect(flaps).toEqual([{ removal: { atMs: 2000, from: 2, to: 1 }, addition: { atMs: 3000, from: 1, to: 2 } }]);
  });

  it('refuses a window that is not a duration', () => {
    expect(() => findFlaps([], -1)).toThrow(/flap window must be a duration in ms >= 0, got -1/);
    expect(() => findFlaps([], Number.NaN)).toThrow(RangeError);
  });
});

describe('loss outside migrations', () => {
  const report = (lost: number, migrationLosses: number[]): Pick<ClientReport, 'received' | 'migrations'> => ({
    received: { lost } as ClientReport['received'],
    migrations: migrationLosses.map((l) => ({ kind: 'migration', atMs: 0, durationMs: 10, gapMs: 5, lost: l, from: 'a', to: 'b' })),
  });

  it('subtracts what went missing around each migration', () => {
    expect(lossOutsideMigrations(report(0, []))).toBe(0);
    expect(lossOutsideMigrations(report(5, [2, 3]))).toBe(0);
    expect(lossOutsideMigrations(report(7, [2, 3]))).toBe(2);
  });
});

describe('summary of durations', () => {
  it('gives count, min, median and max in seconds', () => {
    expect(summariseDurations([12_000, 9_100, 14_200, 10_000])).toBe('n 4: 9.1 s min, 11.0 s median, 14.2 s max');
    expect(summariseDurations([8000])).toBe('n 1: 8.0 s min, 8.0 s median, 8.0 s max');
    expect(summariseDurations([])).toBe('n 0');
  });
});

describe('mesh samples', () => {
  const sample = (atMs: number, pods: string[], desired?: number, clients: Record<string, number> = {}): MeshSample => ({
    atMs,
    pods: pods.map((name) => ({ name, ready: true })),
    desiredReplicas: desired,
    reflectors: Object.entries(clients).map(([name, n]) => ({ name, clients: n, draining: false })),
  });
  const samples = [
    sample(0, ['a'], 1, { a: 4 }),
    sample(1000, ['a', 'b'], 2),
    sample(2500, ['a', 'b'], undefined, { a: 3, b: 2 }),
    sample(3000, ['b', 'c'], 2, { a: 0, b: 2 }),
    sample(4000, [], 0),
  ];

  it('counts the pods and the desired replicas of each sample', () => {
    expect(reflectorCounts(samples)).toEqual([0, 1000, 2500, 3000, 4000].map((atMs, i) => ({ atMs, count: [1, 2, 2, 2, 0][i] })));
    expect(desiredCounts(samples).map((s) => s.count)).toEqual([1, 2, 2, 0]);
  });

  it('finds each pod gone from one sample to the next, with the last sample that had it', () => {
    const removals = removedPods(samples);
    expect(removals.map((r) => [r.pod, r.atMs])).toEqual([['a', 3000], ['b', 4000], ['c', 4000]]);
    expect(removals[0]?.lastSeen.reflectors).toEqual([{ name: 'a', clients: 3, draining: false }, { name: 'b', clients: 2, draining: false }]);
  });

  it('measures the longest gap between samples', () => {
    expect(longestSampleGapMs(samples)).toBe(1500);
    expect(longestSampleGapMs(samples.slice(0, 1))).toBe(0);
  });
});
