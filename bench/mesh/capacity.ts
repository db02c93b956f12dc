// The mesh-capacity suite's pure parts: the search for the largest client count that passes, and the
// two predictions the measurement is put beside.
import { maxClients, peakOutboundStreams } from '../../model/index.js';

export interface IntegerSearch {
  /** First client count tried. */
  start: number;
  /** Never tried above this. */
  max: number;
  /** Stop bisecting when the last pass and the first failure are this close (1: exact). */
  resolution: number;
}

export interface Probe {
  (n: number): Promise<boolean>;
}

/**
 * The largest n in [1, max] for which the probe passes, assuming it passes up to some n and fails past
 * it: from `start`, grow by ×1.5 (at least +1) until a failure, or shrink by ÷1.5 until a pass, then
 * bisect between the last pass and the first failure. 0 when even n = 1 fails. Every probe once.
 */
export async function largestPassing(plan: IntegerSearch, probe: Probe): Promise<number> {
  if (!(plan.start >= 1 && plan.max >= 1 && plan.resolution >= 1)) throw new RangeError('start, max and resolution must be at least 1');
  let good = 0;
  let bad = plan.max + 1;
  let n = Math.min(plan.start, plan.max);
  if (await probe(n)) {
    good = n;
    while (good < plan.max) {
      n = Math.min(plan.max, Math.max(good + 1, Math.ceil(good * 1.5)));
      if (await probe(n)) good = n;
      else {
        bad = n;
        break;
      }
    }
    if (good === plan.max) return good;
  } else {
    bad = n;
    while (bad > 1) {
      n = Math.max(1, Math.min(bad - 1, Math.floor(bad / 1.5)));
      if (await probe(n)) {
        good = n;
        break;
      }
      bad = n;
    }
    if (good === 0) return 0;
  }
  while (bad - good > plan.resolution) {
    const mid = Math.floor((good + bad) / 2);
    if (await probe(mid)) good = mid;
    else bad = mid;
  }
  return good;
}

/**
 * The per-reflector outbound budget, in streams, that the largest passing count at m = 1 shows: one
 * reflector serving n clients sends n·(n−1) streams (formula 4 with m = 1).
 */
export function budgetFromSingleReflector(n1: number): number {
  return peakOutboundStreams(1, n1);
}

/** The model's prediction as on separate machines: each reflector has the budget to itself. */
export function modelMaxClients(m: number, budgetStreams: number): number {
  return maxClients(m, budgetStreams);
}

/**
 * The prediction for m reflectors sharing one machine: the machine forwards a fixed number of streams
 * whatever m is, so what counts is the mesh's total, n·(n−1) deliveries to clients plus n·(m−1) copies
 * between reflectors, against the total one reflector managed (n1·(n1−1), no copies at m = 1). Every
 * forwarded stream is taken to cost the same.
 */
export function oneMachineMaxClients(m: number, machineBudgetStreams: number): number {
  let n = 0;
  while ((n + 1) * n + (n + 1) * (m - 1) <= machineBudgetStreams) n++;
  return n;
}
