// Rebalance plans: when reflectors join, leave or fail, the fewest client migrations that bring
// every reflector back to nr or nr−1 clients; among those, one whose peak outbound streams is low.
//
// Fewest migrations: a client stays only where its reflector remains and is within that
// reflector's target (nr or nr−1), so the most clients that can stay is Σ min(current, target),
// largest when the bigger targets go to the reflectors that have the most clients now (min(c, t)
// has increasing differences, so matching sorted to sorted is optimal). Every other client moves
// exactly once.
//
// Lowest peak among those: which clients leave an over-full reflector, where the movers go, and
// which reflectors take nr rather than nr−1 are free choices. With two distinct role weights (the
// usual mix: sendrecv plus recvonly) rebalance-exact.ts finds the lowest peak exactly. With three,
// a local search swaps clients between pairs of reflectors while the number of migrations stays
// minimal and the busier of the two gets lighter: a good heuristic (the general problem is a
// partition problem). With one weight every minimal plan has the same peak.
import { clientsPerReflector, roleWeights, senders } from './capacity.js';
import type { Role, RoleCounts } from '../protocol/roles.js';
import { ROLES, isRole, roleCounts, totalClients } from '../protocol/roles.js';
import { lowestPeakTwoWeights } from './rebalance-exact.js';

/** Move one client from one reflector to another (make before break is the operator's job). */
export interface Migration {
  client: string;
  from: string;
  to: string;
}

export interface RebalanceInput {
  /** Reflector id → the ids of its clients now, including reflectors that are going away. */
  current: Readonly<Record<string, readonly string[]>>;
  /** The reflectors of the mesh after the change: kept ones, and new ones (without clients yet). */
  reflectors: readonly string[];
  /** Client id → role; clients not listed send and receive. */
  roles?: Readonly<Record<string, Role>>;
}

export interface RebalancePlan {
  /** nr for the new mesh. */
  clientsPerReflector: number;
  /** The fewest migrations, clients of removed reflectors first. Empty when already balanced. */
  migrations: Migration[];
  /** Reflector id → its clients after the migrations, for every reflector of the new mesh. */
  assignment: Record<string, string[]>;
  /** Reflector id → outbound streams after the migrations. */
  outboundStreams: Record<string, number>;
  peakOutboundStreams: number;
}

interface Bin {
  id: string;
  /** Clients it has now, by role, in the given order. */
  own: Record<Role, string[]>;
  ownCounts: RoleCounts;
  /** Clients it will have, by role. */
  final: RoleCounts;
}

function validate(input: RebalanceInput): void {
  if (new Set(input.reflectors).size !== input.reflectors.length) {
    throw new RangeError('rebalance: the new reflector ids must be unique');
  }
  const seen = new Map<string, string>();
  for (const [reflector, clients] of Object.entries(input.current)) {
    for (const client of clients) {
      const other = seen.get(client);
      if (other !== undefined) {
        throw new RangeError(`rebalance: client ${client} is assigned to both ${other} and ${reflector}`);
      }
      seen.set(client, reflector);
      const role = input.roles?.[client];
      if (role !== undefined && !isRole(role)) throw new RangeError(`rebalance: client ${client} has an unknown role "${String(role)}"`);
    }
  }
  if (seen.size > 0 && input.reflectors.length === 0) {
    throw new RangeError(`rebalance: ${seen.size} clients but no reflector left to serve them`);
  }
}

function byRole(clients: readonly string[], roles: Readonly<Record<string, Role>> | undefined): Record<Role, string[]> {
  const own: Record<Role, string[]> = { sendrecv: [], recvonly: [], sendonly: [] };
  for (const client of clients) own[roles?.[client] ?? 'sendrecv'].push(client);
  return own;
}

function countsOf(own: Record<Role, string[]>): RoleCounts {
  return { sendrecv: own.sendrecv.length, recvonly: own.recvonly.length, sendonly: own.sendonly.length };
}

/** The clients of a bin that must leave it: those beyond its final count, per role. */
function leavers(bin: Bin): number {
  let sum = 0;
  for (const role of ROLES) sum += Math.max(0, bin.ownCounts[role] - bin.final[role]);
  return sum;
}

/**
 * Gives every reflector its final clients by role: it keeps its own first (sendrecv, then recvonly,
 * then sendonly) up to `keep[role]`, then takes movers from the pool until it has `target[role]`.
 */
function settle(bins: Bin[], removed: Bin[], keep: (bin: Bin, j: number) => RoleCounts, take: (bin: Bin, j: number, pool: RoleCounts) => RoleCounts): void {
  const pool = roleCounts();
  for (const bin of removed) for (const role of ROLES) pool[role] += bin.ownCounts[role];
  bins.forEach((bin, j) => {
    const kept = keep(bin, j);
    for (const role of ROLES) {
      bin.final[role] = kept[role];
      pool[role] += bin.ownCounts[role] - kept[role];
    }
  });
  bins.forEach((bin, j) => {
    const taken = take(bin, j, pool);
    for (const role of ROLES) {
      bin.final[role] += taken[role];
      pool[role] -= taken[role];
    }
  });
}

/** Takes up to `amount` clients from `available`, role by role in the given order. */
function takeInOrder(amount: number, available: RoleCounts, roles: readonly Role[]): RoleCounts {
  const taken = roleCounts();
  for (const role of roles) {
    taken[role] = Math.min(amount, available[role]);
    amount -= taken[role];
  }
  return taken;
}

/**
 * A first minimal plan without regard to roles: nr for the reflectors with the most clients now,
 * nr−1 for the others; over-full ones keep their first clients.
 */
function roleBlindFinal(bins: Bin[], removed: Bin[], nr: number, big: number): void {
  const order = bins.map((_, j) => j).sort((a, b) => totalClients(bins[b]!.ownCounts) - totalClients(bins[a]!.ownCounts));
  const targets = new Array<number>(bins.length);
  order.forEach((j, rank) => (targets[j] = rank < big ? nr : nr - 1));
  settle(
    bins,
    removed,
    (bin, j) => takeInOrder(targets[j]!, bin.ownCounts, ROLES),
    (bin, j, pool) => takeInOrder(targets[j]! - totalClients(bin.final), pool, ROLES),
  );
}

/** The exact plan for two weights: sizes and heavy counts from rebalance-exact.ts, then roles. */
function twoWeightFinal(bins: Bin[], removed: Bin[], all: RoleCounts, nr: number, big: number, heavy: Role[], light: Role[], w: Record<Role, number>): void {
  const sum = (c: RoleCounts, roles: Role[]): number => roles.reduce((s, r) => s + c[r], 0);
  const shares = lowestPeakTwoWeights(
    bins.map((bin) => ({ heavy: sum(bin.ownCounts, heavy), light: sum(bin.ownCounts, light) })),
    sum(all, heavy),
    nr,
    big,
    w[heavy[0]!],
    w[light[0]!],
  );
  const wants = (j: number): [number, number] => [shares[j]!.heavy, shares[j]!.size - shares[j]!.heavy];
  settle(
    bins,
    removed,
    (bin, j) => {
      const [h, l] = wants(j);
      const kept = takeInOrder(h, bin.ownCounts, heavy);
      const keptLight = takeInOrder(l, bin.ownCounts, light);
      for (const role of light) kept[role] = keptLight[role];
      return kept;
    },
    (bin, j, pool) => {
      const [h, l] = wants(j);
      const taken = takeInOrder(h - sum(bin.final, heavy), pool, heavy);
      const takenLight = takeInOrder(l - sum(bin.final, light), pool, light);
      for (const role of light) taken[role] = takenLight[role];
      return taken;
    },
  );
}

/** The present roles grouped by weight, heaviest first. */
function weightClasses(all: RoleCounts, w: Record<Role, number>): Role[][] {
  const present = ROLES.filter((role) => all[role] > 0).sort((a, b) => w[b] - w[a]);
  const classes: Role[][] = [];
  for (const role of present) {
    const last = classes[classes.length - 1];
    if (last && w[last[0]!] === w[role]) last.push(role);
    else classes.push([role]);
  }
  return classes;
}

function weightOf(counts: RoleCounts, w: Record<Role, number>): number {
  return counts.sendrecv * w.sendrecv + counts.recvonly * w.recvonly + counts.sendonly * w.sendonly;
}

/**
 * Tries to lighten the busier of bins a and b by moving one client of role `out` from a to b and,
 * unless `back` is undefined, one of role `back` from b to a, keeping the migrations minimal.
 */
function tryMove(a: Bin, b: Bin, out: Role, back: Role | undefined, w: Record<Role, number>): boolean {
  if (a.final[out] === 0 || (back !== undefined && b.final[back] === 0)) return false;
  const before = Math.max(weightOf(a.final, w), weightOf(b.final, w));
  const leaving = leavers(a) + leavers(b);
  a.final[out] -= 1;
  b.final[out] += 1;
  if (back !== undefined) {
    b.final[back] -= 1;
    a.final[back] += 1;
  }
  if (Math.max(weightOf(a.final, w), weightOf(b.final, w)) < before && leavers(a) + leavers(b) === leaving) return true;
  if (back !== undefined) {
    a.final[back] -= 1;
    b.final[back] += 1;
  }
  b.final[out] -= 1;
  a.final[out] += 1;
  return false;
}

/**
 * Lowers the peak by pairwise moves until none helps. Every accepted move makes the sorted list of
 * reflector loads lexicographically smaller, so the search ends. Single moves (no `back`) go from a
 * reflector of nr to one of nr−1, which keeps the sizes nr/nr−1.
 */
function lowerPeak(bins: Bin[], w: Record<Role, number>, nr: number): void {
  let improved = true;
  while (improved) {
    improved = false;
    for (const a of bins) {
      for (const b of bins) {
        if (a === b || weightOf(a.final, w) <= weightOf(b.final, w)) continue;
        const sizeShift = totalClients(a.final) === nr && totalClients(b.final) === nr - 1;
        for (const out of ROLES) {
          if (sizeShift && tryMove(a, b, out, undefined, w)) improved = true;
          for (const back of ROLES) if (back !== out && tryMove(a, b, out, back, w)) improved = true;
        }
      }
    }
  }
}

/** Turns the final counts into concrete migrations: who leaves (the last listed) and where to. */
function migrationsFor(bins: Bin[], removed: Bin[]): { migrations: Migration[]; assignment: Record<string, string[]> } {
  const pool: Record<Role, { client: string; from: string }[]> = { sendrecv: [], recvonly: [], sendonly: [] };
  for (const bin of [...removed, ...bins]) {
    for (const role of ROLES) {
      const keep = Math.min(bin.ownCounts[role], bin.final[role]);
      for (const client of bin.own[role].slice(keep)) pool[role].push({ client, from: bin.id });
    }
  }
  const migrations: Migration[] = [];
  const assignment: Record<string, string[]> = {};
  for (const bin of bins) {
    const clients: string[] = [];
    for (const role of ROLES) {
      const keep = Math.min(bin.ownCounts[role], bin.final[role]);
      clients.push(...bin.own[role].slice(0, keep));
      for (const mover of pool[role].splice(0, bin.final[role] - keep)) {
        migrations.push({ client: mover.client, from: mover.from, to: bin.id });
        clients.push(mover.client);
      }
    }
    assignment[bin.id] = clients;
  }
  const removedIds = new Set(removed.map((r) => r.id));
  migrations.sort((x, y) => Number(removedIds.has(y.from)) - Number(removedIds.has(x.from)));
  return { migrations, assignment };
}

/**
 * The fewest migrations that take the mesh from `current` to nr/nr−1 clients on each of
 * `reflectors`; clients of reflectors not in `reflectors` always move. Among the minimal plans it
 * prefers one with a low peak outbound streams (see the file comment).
 */
export function planRebalance(input: RebalanceInput): RebalancePlan {
  validate(input);
  const kept = new Set(input.reflectors);
  const bins: Bin[] = input.reflectors.map((id) => {
    const own = byRole(input.current[id] ?? [], input.roles);
    return { id, own, ownCounts: countsOf(own), final: roleCounts() };
  });
  const removed: Bin[] = Object.entries(input.current)
    .filter(([id]) => !kept.has(id))
    .map(([id, clients]) => {
      const own = byRole(clients, input.roles);
      return { id, own, ownCounts: countsOf(own), final: roleCounts() };
    });
  const all = roleCounts();
  for (const bin of [...bins, ...removed]) for (const role of ROLES) all[role] += bin.ownCounts[role];
  const n = totalClients(all);
  if (bins.length === 0) return { clientsPerReflector: 0, migrations: [], assignment: {}, outboundStreams: {}, peakOutboundStreams: 0 };
  const nr = clientsPerReflector(n, bins.length);
  const big = n - bins.length * (nr - 1); // how many reflectors take nr rather than nr−1
  const w = roleWeights(bins.length, senders(all));
  const classes = weightClasses(all, w);
  if (classes.length === 2) {
    twoWeightFinal(bins, removed, all, nr, big, classes[0]!, classes[1]!, w);
  } else {
    roleBlindFinal(bins, removed, nr, big);
    if (classes.length === 3) lowerPeak(bins, w, nr);
  }
  const { migrations, assignment } = migrationsFor(bins, removed);
  const outboundStreams: Record<string, number> = {};
  for (const bin of bins) outboundStreams[bin.id] = totalClients(bin.final) === 0 ? 0 : weightOf(bin.final, w);
  return { clientsPerReflector: nr, migrations, assignment, outboundStreams, peakOutboundStreams: Math.max(0, ...Object.values(outboundStreams)) };
}
