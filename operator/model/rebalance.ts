// Rebalance plans: when reflectors join, leave or fail, the fewest client migrations that bring
// every reflector back to nr or nr−1 clients; among those, one whose peak outbound streams is low.
//
// Fewest migrations: a client stays only where its reflector remains and is within that
// reflector's target (nr or nr−1), so the most clients that can stay is Σ min(current, target),
// largest when the bigger targets go to the reflectors that have the most clients now (min(c, t)
// has increasing differences, so matching sorted to sorted is optimal). Every other client moves
// exactly once.
//
// Lowest peak among those: which clients leave an over-full reflector and where the movers go are
// free choices. A local search swaps roles between pairs of reflectors while the number of
// migrations stays minimal and the busier of the two gets lighter. With one or two distinct role
// weights (the usual case: sendrecv plus recvonly) this reaches the lowest peak; with three it is a
// good heuristic (the general problem is a partition problem).
import { clientsPerReflector, roleWeights, senders } from './capacity.js';
import type { Role, RoleCounts } from './roles.js';
import { ROLES, isRole, roleCounts, totalClients } from './roles.js';

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
 * Targets (nr for the reflectors with the most clients now, nr−1 for the others) and a first
 * choice of who stays: the clients listed first.
 */
function initialFinal(bins: Bin[], removed: Bin[], n: number): void {
  const m = bins.length;
  const nr = clientsPerReflector(n, m);
  const big = n - m * (nr - 1);
  const order = bins.map((_, j) => j).sort((a, b) => totalClients(bins[b]!.ownCounts) - totalClients(bins[a]!.ownCounts));
  const pool = roleCounts();
  for (const bin of removed) for (const role of ROLES) pool[role] += bin.ownCounts[role];
  const targets = new Array<number>(m);
  order.forEach((j, rank) => (targets[j] = rank < big ? nr : nr - 1));
  // Over-full reflectors keep their first clients (sendrecv, then recvonly, then sendonly).
  bins.forEach((bin, j) => {
    let room = targets[j]!;
    for (const role of ROLES) {
      const keep = Math.min(room, bin.ownCounts[role]);
      bin.final[role] = keep;
      pool[role] += bin.ownCounts[role] - keep;
      room -= keep;
    }
  });
  // Under-full ones take the movers.
  bins.forEach((bin, j) => {
    let room = targets[j]! - totalClients(bin.final);
    for (const role of ROLES) {
      const take = Math.min(room, pool[role]);
      bin.final[role] += take;
      pool[role] -= take;
      room -= take;
    }
  });
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
  initialFinal(bins, removed, n);
  const w = roleWeights(bins.length, senders(all));
  lowerPeak(bins, w, nr);
  const { migrations, assignment } = migrationsFor(bins, removed);
  const outboundStreams: Record<string, number> = {};
  for (const bin of bins) outboundStreams[bin.id] = totalClients(bin.final) === 0 ? 0 : weightOf(bin.final, w);
  return { clientsPerReflector: nr, migrations, assignment, outboundStreams, peakOutboundStreams: Math.max(0, ...Object.values(outboundStreams)) };
}
