// Placement: spread clients with roles over m reflectors, nr or nr−1 each, so that the busiest
// reflector sends as few streams as possible. Where the non-sending clients sit changes the peak.
// (Placement in this project means clients on reflectors; the ReflectorMesh's spec.placement, which
// node a reflector pod goes to, is the operator's: operator/controller/node-choice.ts.)
//
// Each client adds a fixed number of streams to its reflector's outbound total, set by its role
// (see roleWeights), so placement is: fill m bins of fixed sizes (m−k bins of nr, k of nr−1) with
// items of at most three weights, minimising the heaviest bin. Greedy filling is not optimal for
// three weights (weights 3, 3, 2, 2, 2, 0 in two bins of three: greedy gives 7, the optimum is 6), so
// this searches the smallest feasible peak and checks each candidate exactly with a small dynamic
// programme over the bins.
import { clientsPerReflector, roleWeights, senders } from './capacity.js';
import type { Client, Role, RoleCounts } from '../protocol/roles.js';
import { ROLES, assertRoleCounts, roleCounts, totalClients } from '../protocol/roles.js';

/** A placement of role counts on m reflectors. */
export interface CountPlacement {
  /** nr = ⌈n/m⌉. */
  clientsPerReflector: number;
  /** The clients of each reflector by role, busiest sizes first: m−k reflectors of nr, then k of nr−1. */
  perReflector: RoleCounts[];
  /** The outbound streams of each reflector, in the same order. */
  outboundStreams: number[];
  /** The largest of outboundStreams: the lowest peak any nr/nr−1 distribution can reach. */
  peakOutboundStreams: number;
}

/** A placement of named clients on named reflectors. */
export interface ClientPlacement {
  clientsPerReflector: number;
  /** Reflector id → the ids of its clients. Every given reflector has an entry. */
  assignment: Record<string, string[]>;
  /** Reflector id → its outbound streams. */
  outboundStreams: Record<string, number>;
  peakOutboundStreams: number;
}

/** The sizes of the m reflectors under nr/nr−1: the bigger ones first. */
export function reflectorSizes(n: number, m: number): number[] {
  const nr = clientsPerReflector(n, m);
  const big = n - m * (nr - 1); // how many reflectors serve nr rather than nr−1
  return Array.from({ length: m }, (_, j) => (j < big ? nr : nr - 1));
}

interface Kind {
  role: Role;
  weight: number;
  count: number;
}

/** One reflector's share: how many of the heaviest (x) and middle (y) kinds it takes. */
interface Share {
  x: number;
  y: number;
}

/**
 * The shares that keep every reflector at or under `peak` streams, or undefined when none exist.
 * Weights count above the lightest kind: dx > dy > 0 are the heavy and middle kinds' excess.
 *
 * A dynamic programme over the reflectors on one kind's running total ("primary"), keeping the
 * most of the other kind ("secondary") that fits beside it. Taking the most is enough because any
 * surplus can be swapped for lighter clients without raising a load. The primary is the kind with
 * fewer clients, which keeps the table small.
 */
function sharesUnder(peak: number, sizes: readonly number[], base: number, dx: number, dy: number, cx: number, cy: number): Share[] | undefined {
  const room = sizes.map((t) => peak - t * base);
  if (room.some((r) => r < 0)) return undefined;
  const xPrimary = cx <= cy;
  const [dp, dq, cp, cq] = xPrimary ? [dx, dy, cx, cy] : [dy, dx, cy, cx];
  const mostQ = (t: number, r: number, p: number): number => Math.min(t - p, Math.floor((r - p * dp) / dq));
  // best[sp]: the most secondary clients the reflectors so far can take while taking sp primary ones.
  let best = new Array<number>(cp + 1).fill(-1);
  best[0] = 0;
  const choices: Int32Array[] = [];
  for (let j = 0; j < sizes.length; j++) {
    const t = sizes[j]!;
    const r = room[j]!;
    const next = new Array<number>(cp + 1).fill(-1);
    const choice = new Int32Array(cp + 1).fill(-1);
    const maxP = Math.min(t, Math.floor(r / dp));
    for (let sp = 0; sp <= cp; sp++) {
      const before = best[sp]!;
      if (before < 0) continue;
      for (let p = 0; p <= maxP && sp + p <= cp; p++) {
        const q = before + mostQ(t, r, p);
        if (q > next[sp + p]!) {
          next[sp + p] = q;
          choice[sp + p] = p;
        }
      }
    }
    choices.push(choice);
    best = next;
  }
  if (best[cp]! < cq) return undefined;
  // Walk back through the choices to each reflector's primary share, then hand out the secondary.
  const primary = new Array<number>(sizes.length);
  let sp = cp;
  for (let j = sizes.length - 1; j >= 0; j--) {
    primary[j] = choices[j]![sp]!;
    sp -= primary[j]!;
  }
  let qLeft = cq;
  return sizes.map((t, j) => {
    const p = primary[j]!;
    const q = Math.min(qLeft, mostQ(t, room[j]!, p));
    qLeft -= q;
    return xPrimary ? { x: p, y: q } : { x: q, y: p };
  });
}

/** The smallest peak in [lo, hi] for which `under` finds shares (hi must be feasible). */
function lowestPeak(lo: number, hi: number, under: (peak: number) => Share[] | undefined): Share[] {
  let found = under(hi);
  if (!found) throw new Error(`placement: no shares under the upper bound ${hi} (a bug in the model)`);
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const shares = under(mid);
    if (shares) {
      hi = mid;
      found = shares;
    } else {
      lo = mid + 1;
    }
  }
  return found;
}

/** Merges kinds of equal weight so that the search sees only distinct weights (lightest last). */
function distinctKinds(kinds: Kind[]): Kind[][] {
  const groups: Kind[][] = [];
  for (const kind of [...kinds].sort((a, b) => b.weight - a.weight)) {
    const last = groups[groups.length - 1];
    if (last && last[0]!.weight === kind.weight) last.push(kind);
    else groups.push([kind]);
  }
  return groups;
}

/**
 * Places clients given by role counts on m reflectors, nr or nr−1 each, with the lowest possible
 * peak outbound streams.
 */
export function placeCounts(m: number, clients: RoleCounts): CountPlacement {
  assertRoleCounts(clients);
  const n = totalClients(clients);
  const sizes = reflectorSizes(n, m);
  const nr = sizes[0] ?? 0;
  const weights = roleWeights(m, senders(clients));
  const present = ROLES
    .map((role) => ({ role, weight: weights[role], count: clients[role] }))
    .filter((kind) => kind.count > 0);
  const groups = distinctKinds(present);
  // Up to three distinct weights: heavy (x), middle (y) and light (the rest). With fewer, the
  // missing kinds are given a weight in between and a count of zero.
  const light = groups[groups.length - 1] ?? [];
  const heavy = groups.length === 3 ? groups[0]! : [];
  const middle = groups.length >= 2 ? groups[groups.length - 2]! : [];
  const base = light[0]?.weight ?? 0;
  const cx = heavy.reduce((s, k) => s + k.count, 0);
  const cy = middle.reduce((s, k) => s + k.count, 0);
  const dy = (middle[0]?.weight ?? base + 1) - base;
  const dx = heavy.length > 0 ? heavy[0]!.weight - base : dy + 1;
  const totalWeight = present.reduce((s, k) => s + k.count * k.weight, 0);
  const lo = Math.max(nr * base, Math.ceil(totalWeight / m));
  const hi = nr * Math.max(base, ...present.map((k) => k.weight));
  const shares = lowestPeak(lo, hi, (peak) => sharesUnder(peak, sizes, base, dx, dy, cx, cy));
  const perReflector = sizes.map((t, j) => {
    const share = shares[j]!;
    const counts = roleCounts();
    fill(counts, heavy, share.x);
    fill(counts, middle, share.y);
    fill(counts, light, t - share.x - share.y);
    return counts;
  });
  distributeWithinGroups(perReflector, [heavy, middle, light]);
  const outboundStreams = perReflector.map((c) => c.sendrecv * weights.sendrecv + c.recvonly * weights.recvonly + c.sendonly * weights.sendonly);
  return { clientsPerReflector: nr, perReflector, outboundStreams, peakOutboundStreams: Math.max(0, ...outboundStreams) };
}

/** Puts `amount` clients of a group of equal-weight kinds into counts (split later, see below). */
function fill(counts: RoleCounts, group: Kind[], amount: number): void {
  if (amount > 0) counts[group[0]!.role] += amount;
}

/**
 * Kinds of equal weight were placed as one; split each group's share back into its roles so that
 * every role's total is right. Any split keeps the peak, since the weights are equal.
 */
function distributeWithinGroups(perReflector: RoleCounts[], groups: Kind[][]): void {
  for (const group of groups) {
    if (group.length < 2) continue;
    const first = group[0]!.role;
    const left = new Map(group.map((k) => [k.role, k.count]));
    for (const counts of perReflector) {
      let amount = counts[first];
      counts[first] = 0;
      for (const kind of group) {
        const take = Math.min(amount, left.get(kind.role)!);
        counts[kind.role] += take;
        left.set(kind.role, left.get(kind.role)! - take);
        amount -= take;
      }
    }
  }
}

/**
 * Places named clients on the given reflectors with the lowest possible peak. Clients of a role
 * keep their given order; the reflectors listed first take the bigger shares.
 */
export function placeClients(reflectorIds: readonly string[], clients: readonly Client[]): ClientPlacement {
  if (new Set(reflectorIds).size !== reflectorIds.length) throw new RangeError('placement: reflector ids must be unique');
  if (new Set(clients.map((c) => c.id)).size !== clients.length) throw new RangeError('placement: client ids must be unique');
  if (reflectorIds.length === 0) {
    if (clients.length > 0) throw new RangeError(`placement: ${clients.length} clients but no reflector to place them on`);
    return { clientsPerReflector: 0, assignment: {}, outboundStreams: {}, peakOutboundStreams: 0 };
  }
  const counts = roleCounts();
  for (const client of clients) counts[client.role] += 1;
  const placed = placeCounts(reflectorIds.length, counts);
  const queues: Record<Role, string[]> = { sendrecv: [], recvonly: [], sendonly: [] };
  for (const client of clients) queues[client.role].push(client.id);
  const assignment: Record<string, string[]> = {};
  const outboundStreams: Record<string, number> = {};
  reflectorIds.forEach((id, j) => {
    const share = placed.perReflector[j]!;
    assignment[id] = ROLES.flatMap((role) => queues[role].splice(0, share[role]));
    outboundStreams[id] = placed.outboundStreams[j]!;
  });
  return { clientsPerReflector: placed.clientsPerReflector, assignment, outboundStreams, peakOutboundStreams: placed.peakOutboundStreams };
}
