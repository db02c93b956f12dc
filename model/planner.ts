// The planner: how many reflectors a mesh needs for its clients, and how many clients each mesh
// size can take, within one reflector's outbound budget. Capacity is not monotonic in the number of
// reflectors m (every extra reflector is one more peer copy of every stream), so the planner
// evaluates every m in the allowed range and never assumes that more reflectors serve more clients.
import { placeCounts } from './placement.js';
import type { RoleCounts } from '../protocol/roles.js';
import { assertRoleCounts, roleCounts, totalClients } from '../protocol/roles.js';

/** One reflector's outbound budget, as a rate and as a number of streams. */
export interface Budget {
  /** The stream bitrate, Mbit/s. */
  bitrateMbps: number;
  /** What one reflector may send, Mbit/s (for example 905 on 1 GbE). */
  capacityMbps: number;
  /** The fraction of the capacity kept free, in [0, 1). */
  headroom: number;
  /** capacityMbps · (1 − headroom): the rate the planner may use. */
  budgetMbps: number;
  /** ⌊budgetMbps / bitrateMbps⌋: the streams one reflector may send. */
  budgetStreams: number;
}

/** The capacity numbers of one mesh size. */
export interface SizeOption {
  /** m. */
  reflectors: number;
  /** nr = ⌈n/m⌉ for the planned clients. */
  clientsPerReflector: number;
  /** The peak outbound streams of one reflector, for the planned clients placed as well as possible. */
  peakOutboundStreams: number;
  /** peakOutboundStreams · bitrateMbps. */
  peakOutboundMbps: number;
  /** peakOutboundMbps / capacityMbps (the whole capacity, headroom included). */
  utilisation: number;
  /** Whether the peak is within the budget. */
  fits: boolean;
  /** The most clients m reflectors can serve within the budget (see maxClients). */
  maxClients: number;
}

export interface PlanInput {
  /** The clients to serve, by role. */
  clients: RoleCounts;
  bitrateMbps: number;
  capacityMbps: number;
  /** Fraction of the capacity kept free; 0 unless given. */
  headroom?: number;
  /** Bounds on m (inclusive); the lower bound defaults to 1. */
  minReflectors?: number;
  maxReflectors: number;
}

/**
 * The planner's answer: the chosen size's numbers, and why. `fits` is true when some m in the
 * bounds fits, and `reflectors` is then the smallest such m; when false the mesh is over capacity
 * and `reflectors` is the m with the lowest peak (the smallest on ties).
 */
export interface Plan extends SizeOption {
  /** Why this m, in words. */
  reason: string;
  /** n. */
  clients: number;
  budget: Budget;
  /** Every m in the bounds, ascending. */
  options: SizeOption[];
}

const EPSILON = 1e-9;

function assertPositive(name: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a number > 0, got ${value}`);
}

/** The outbound budget of one reflector, in Mbit/s and in streams. */
export function budgetOf(bitrateMbps: number, capacityMbps: number, headroom = 0): Budget {
  assertPositive('the stream bitrate (Mbit/s)', bitrateMbps);
  assertPositive('the reflector capacity (Mbit/s)', capacityMbps);
  if (!Number.isFinite(headroom) || headroom < 0 || headroom >= 1) {
    throw new RangeError(`the headroom must be a fraction in [0, 1), got ${headroom}`);
  }
  const budgetMbps = capacityMbps * (1 - headroom);
  // The epsilon keeps 600 / 30 at 20 streams despite floating-point rounding.
  const budgetStreams = Math.floor(budgetMbps / bitrateMbps + EPSILON);
  return { bitrateMbps, capacityMbps, headroom, budgetMbps, budgetStreams };
}

/** The lowest peak outbound streams m reflectors can reach for these clients. */
export function lowestPeak(m: number, clients: RoleCounts): number {
  return placeCounts(m, clients).peakOutboundStreams;
}

/**
 * The most clients m reflectors can serve with at most `budgetStreams` outbound streams each: the
 * given recvonly and sendonly clients plus as many sendrecv clients (the default role of a new
 * client) as fit. 0 when even the given recvonly and sendonly clients do not fit.
 *
 * Exact by search over the number of sendrecv clients e, which is sound because the lowest peak
 * never falls when a sendrecv client is added: take the best placement with e+1 and remove a
 * sendrecv client from a reflector of the largest size; if none holds one, remove it elsewhere and
 * move any client from a largest reflector into its place. The sizes are then nr/nr−1 for e, no
 * reflector gained a heavier client (for m ≥ 2 sendrecv is the heaviest role), and every role's
 * weight fell or stayed (there is one sender fewer). With m = 1 the load is a plain sum, which grows.
 * test/unit/model/planner.test.ts checks this property and compares against a linear scan.
 */
export function maxClients(m: number, budgetStreams: number, others: Partial<Pick<RoleCounts, 'recvonly' | 'sendonly'>> = {}): number {
  if (!Number.isSafeInteger(budgetStreams) || budgetStreams < 0) {
    throw new RangeError(`the stream budget must be a whole number >= 0, got ${budgetStreams}`);
  }
  const fixed = roleCounts({ recvonly: others.recvonly ?? 0, sendonly: others.sendonly ?? 0 });
  assertRoleCounts(fixed);
  const fits = (e: number): boolean => lowestPeak(m, { ...fixed, sendrecv: e }) <= budgetStreams;
  if (!fits(0)) return 0;
  let lo = 0; // fits
  let hi = 1; // grows until it does not fit
  while (fits(hi)) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) lo = mid;
    else hi = mid;
  }
  return lo + fixed.recvonly + fixed.sendonly;
}

/** The capacity numbers of m reflectors for these clients and this budget. */
export function sizeOption(m: number, clients: RoleCounts, budget: Budget): SizeOption {
  const placement = placeCounts(m, clients);
  const peakOutboundStreams = placement.peakOutboundStreams;
  const peakOutboundMbps = peakOutboundStreams * budget.bitrateMbps;
  return {
    reflectors: m,
    clientsPerReflector: placement.clientsPerReflector,
    peakOutboundStreams,
    peakOutboundMbps,
    utilisation: peakOutboundMbps / budget.capacityMbps,
    fits: peakOutboundStreams <= budget.budgetStreams,
    maxClients: maxClients(m, budget.budgetStreams, clients),
  };
}

function assertBounds(min: number, max: number): void {
  if (!Number.isSafeInteger(min) || min < 1) throw new RangeError(`the least number of reflectors must be a whole number >= 1, got ${min}`);
  if (!Number.isSafeInteger(max) || max < min) {
    throw new RangeError(`the most reflectors must be a whole number >= the least (${min}), got ${max}`);
  }
}

function listOf(values: number[]): string {
  if (values.length <= 1) return values.join('');
  return `${values.slice(0, -1).join(', ')} and ${values[values.length - 1]}`;
}

function describeFit(chosen: SizeOption, options: SizeOption[], n: number, budget: Budget): string {
  const head =
    `${chosen.reflectors === 1 ? '1 reflector serves' : `${chosen.reflectors} reflectors serve`} ${n} client${n === 1 ? '' : 's'} with at most ` +
    `${chosen.clientsPerReflector} per reflector; the busiest sends ${chosen.peakOutboundStreams} streams ` +
    `(${round(chosen.peakOutboundMbps)} Mbit/s, ${percent(chosen.utilisation)} of ${round(budget.capacityMbps)}), ` +
    `within the budget of ${budget.budgetStreams} streams (${round(budget.budgetMbps)} Mbit/s)`;
  const smaller = options.filter((o) => o.reflectors < chosen.reflectors);
  const tail = smaller.length === 0 ? '' : `; fewer reflectors (${listOf(smaller.map((o) => o.reflectors))}) would exceed it`;
  const worse = options.filter((o) => o.reflectors > chosen.reflectors && !o.fits);
  const note = worse.length === 0 ? '' : `; note that more reflectors do not always help: ${listOf(worse.map((o) => o.reflectors))} would not fit`;
  return `${head}${tail}${note}.`;
}

function describeOverCapacity(best: SizeOption, options: SizeOption[], n: number, budget: Budget): string {
  const range = `${options[0]!.reflectors}–${options[options.length - 1]!.reflectors}`;
  const most = options.reduce((a, b) => (b.maxClients > a.maxClients ? b : a));
  return (
    `over capacity: no mesh of ${range} reflectors keeps ${n} clients within ${budget.budgetStreams} streams ` +
    `(${round(budget.budgetMbps)} Mbit/s) per reflector; the lowest peak is ${best.peakOutboundStreams} streams ` +
    `(${round(best.peakOutboundMbps)} Mbit/s) with ${best.reflectors} reflectors, and the most clients any size ` +
    `can serve is ${most.maxClients} (with ${most.reflectors}).`
  );
}

function round(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

/**
 * Sizes a mesh: the smallest m in the bounds whose peak fits the budget, or, when none fits, the
 * m with the lowest peak and `fits: false` (over capacity). Every m in the bounds is evaluated.
 */
export function plan(input: PlanInput): Plan {
  assertRoleCounts(input.clients);
  const min = input.minReflectors ?? 1;
  assertBounds(min, input.maxReflectors);
  const budget = budgetOf(input.bitrateMbps, input.capacityMbps, input.headroom ?? 0);
  const n = totalClients(input.clients);
  const options: SizeOption[] = [];
  for (let m = min; m <= input.maxReflectors; m++) options.push(sizeOption(m, input.clients, budget));
  const smallestFit = options.find((o) => o.fits);
  if (smallestFit) {
    return { ...smallestFit, reason: describeFit(smallestFit, options, n, budget), clients: n, budget, options };
  }
  const best = options.reduce((a, b) => (b.peakOutboundStreams < a.peakOutboundStreams ? b : a));
  return { ...best, reason: describeOverCapacity(best, options, n, budget), clients: n, budget, options };
}
