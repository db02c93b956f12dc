// Reading what an autoscaling scenario sampled, pure (unit-tested in test/unit/e2e/samples.test.ts):
// the reflector count and the pods removed, the changes of a count sampled every second, the flaps among them (a removal followed by an addition
// within the scale-down window: the mesh giving back a reflector it then needed again), the loss a
// client saw outside its migrations' make-before-break windows, and a summary line of durations.
import type { ClientReport } from './mesh.js';

/** One reading of a mesh: its pods (not being deleted) and its status, at a time (ms). */
export interface MeshSample {
  atMs: number;
  pods: { name: string; ready: boolean }[];
  desiredReplicas: number | undefined;
  /** status.reflectors: the clients each reflector reported at the operator's last pass. */
  reflectors: { name: string; clients: number; draining: boolean }[];
}

/** The reflector count (pods not being deleted) of each sample. */
export function reflectorCounts(samples: readonly MeshSample[]): CountSample[] {
  return samples.map((s) => ({ atMs: s.atMs, count: s.pods.length }));
}

/** status.desiredReplicas of each sample that has one. */
export function desiredCounts(samples: readonly MeshSample[]): CountSample[] {
  return samples.flatMap((s) => (s.desiredReplicas === undefined ? [] : [{ atMs: s.atMs, count: s.desiredReplicas }]));
}

/** A pod present in one sample and gone from the next: when, and the last sample that had it. */
export interface Removal {
  pod: string;
  atMs: number;
  lastSeen: MeshSample;
}

export function removedPods(samples: readonly MeshSample[]): Removal[] {
  const removals: Removal[] = [];
  for (let i = 1; i < samples.length; i++) {
    const [before, after] = [samples[i - 1]!, samples[i]!];
    const now = new Set(after.pods.map((p) => p.name));
    for (const p of before.pods) if (!now.has(p.name)) removals.push({ pod: p.name, atMs: after.atMs, lastSeen: before });
  }
  return removals;
}

/** The longest time between two samples, ms (0 with fewer than two). */
export function longestSampleGapMs(samples: readonly { atMs: number }[]): number {
  let gap = 0;
  for (let i = 1; i < samples.length; i++) gap = Math.max(gap, samples[i]!.atMs - samples[i - 1]!.atMs);
  return gap;
}

/** One reading of a count (reflectors, desired replicas) at a time, ms. */
export interface CountSample {
  atMs: number;
  count: number;
}

export interface CountChange {
  atMs: number;
  from: number;
  to: number;
}

/** A removal followed by an addition less than the window later. */
export interface Flap {
  removal: CountChange;
  addition: CountChange;
}

/** Every change of the count from one sample to the next, at the later sample's time. */
export function countChanges(samples: readonly CountSample[]): CountChange[] {
  const changes: CountChange[] = [];
  for (let i = 1; i < samples.length; i++) {
    const [before, after] = [samples[i - 1]!, samples[i]!];
    if (after.count !== before.count) changes.push({ atMs: after.atMs, from: before.count, to: after.count });
  }
  return changes;
}

/**
 * Each addition that came less than `windowMs` after a removal, paired with the latest such removal.
 * Samples must be in time order (they are taken in turn).
 */
export function findFlaps(samples: readonly CountSample[], windowMs: number): Flap[] {
  if (!Number.isFinite(windowMs) || windowMs < 0) throw new RangeError(`the flap window must be a duration in ms >= 0, got ${windowMs}`);
  const flaps: Flap[] = [];
  let lastRemoval: CountChange | undefined;
  for (const change of countChanges(samples)) {
    if (change.to < change.from) lastRemoval = change;
    else if (lastRemoval && change.atMs - lastRemoval.atMs < windowMs) flaps.push({ removal: lastRemoval, addition: change });
  }
  return flaps;
}

/** The count's history as "1 → 2 at 12.3 s, ..." (times from `originMs`), for a scenario's log. */
export function describeChanges(samples: readonly CountSample[], originMs: number): string {
  const changes = countChanges(samples);
  const first = samples[0];
  if (!first) return 'no samples';
  const steps = changes.map((c) => `${c.from} → ${c.to} at ${((c.atMs - originMs) / 1000).toFixed(1)} s`);
  return `${first.count} at first${steps.length > 0 ? `, then ${steps.join(', ')}` : ', unchanged'} (${samples.length} samples)`;
}

/**
 * Datagrams the client lost outside its migrations: every loss it counted minus what went missing around
 * each migration (the make-before-break window the protocol allows). Failovers are not subtracted.
 */
export function lossOutsideMigrations(report: Pick<ClientReport, 'received' | 'migrations'>): number {
  return report.received.lost - report.migrations.reduce((n, m) => n + m.lost, 0);
}

/** "n 4: 9.1 s min, 11.0 s median, 14.2 s max" for a list of durations in ms. */
export function summariseDurations(valuesMs: readonly number[]): string {
  if (valuesMs.length === 0) return 'n 0';
  const sorted = [...valuesMs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(mid)]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return `n ${sorted.length}: ${s(sorted[0]!)} min, ${s(median)} median, ${s(sorted[sorted.length - 1]!)} max`;
}
