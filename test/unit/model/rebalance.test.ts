// Rebalance plans: the fewest migrations to nr/nr−1, checked against every possible plan on small
// meshes, and a low peak among those.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  clientsPerReflector,
  meshPeakOutboundStreams,
  planRebalance,
  roleCounts,
  roleWeights,
  type RebalanceInput,
  type RebalancePlan,
  type Role,
} from '../../../model/index.js';

interface Optimum {
  migrations: number;
  /** The lowest peak among the plans with the fewest migrations. */
  peak: number;
}

/** Tries every assignment of every client to every new reflector. */
function bruteForce(input: RebalanceInput): Optimum {
  const clients = Object.entries(input.current).flatMap(([from, ids]) => ids.map((id) => ({ id, from, role: input.roles?.[id] ?? 'sendrecv' })));
  const m = input.reflectors.length;
  const n = clients.length;
  const nr = clientsPerReflector(n, m);
  let best: Optimum = { migrations: Infinity, peak: Infinity };
  const to = new Array<number>(n).fill(0);
  const total = m ** n;
  for (let code = 0; code < total; code++) {
    let rest = code;
    for (let i = 0; i < n; i++) {
      to[i] = rest % m;
      rest = Math.floor(rest / m);
    }
    const perReflector = input.reflectors.map(() => roleCounts());
    let migrations = 0;
    clients.forEach((client, i) => {
      perReflector[to[i]!]![client.role] += 1;
      if (input.reflectors[to[i]!] !== client.from) migrations++;
    });
    const sizes = perReflector.map((r) => r.sendrecv + r.recvonly + r.sendonly);
    if (sizes.some((s) => s !== nr && s !== nr - 1)) continue;
    if (migrations > best.migrations) continue;
    const peak = meshPeakOutboundStreams(perReflector);
    if (migrations < best.migrations || peak < best.peak) best = { migrations, peak };
  }
  return best;
}

/** The plan is consistent: every client once, sizes nr/nr−1, migrations match the assignment. */
function expectConsistent(input: RebalanceInput, plan: RebalancePlan): void {
  const before = new Map(Object.entries(input.current).flatMap(([r, ids]) => ids.map((id) => [id, r] as const)));
  const after = new Map(Object.entries(plan.assignment).flatMap(([r, ids]) => ids.map((id) => [id, r] as const)));
  expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
  expect(Object.keys(plan.assignment).sort()).toEqual([...input.reflectors].sort());
  const nr = clientsPerReflector(before.size, input.reflectors.length);
  for (const ids of Object.values(plan.assignment)) expect([nr, nr - 1]).toContain(ids.length);
  const moved = [...after].filter(([id, r]) => before.get(id) !== r).map(([id, r]) => ({ client: id, from: before.get(id)!, to: r }));
  expect([...plan.migrations].sort((a, b) => a.client.localeCompare(b.client))).toEqual(moved.sort((a, b) => a.client.localeCompare(b.client)));
  const roleOf = (id: string): Role => input.roles?.[id] ?? 'sendrecv';
  const perReflector = input.reflectors.map((r) => {
    const counts = roleCounts();
    for (const id of plan.assignment[r]!) counts[roleOf(id)] += 1;
    return counts;
  });
  expect(plan.peakOutboundStreams).toBe(meshPeakOutboundStreams(perReflector));
}

const ROLE_LIST: Role[] = ['sendrecv', 'recvonly', 'sendonly'];

/** A small random mesh change: up to 7 clients on up to 4 reflectors, then up to 4 reflectors. */
const smallChange = (roles: Role[]) =>
  fc
    .record({
      clients: fc.array(fc.record({ on: fc.nat(3), role: fc.constantFrom(...roles) }), { maxLength: 7 }),
      next: fc.subarray(['r0', 'r1', 'r2', 'r3', 'r4', 'r5'], { minLength: 1, maxLength: 4 }),
    })
    .map(({ clients, next }): RebalanceInput => {
      const current: Record<string, string[]> = {};
      const roleOf: Record<string, Role> = {};
      clients.forEach((c, i) => {
        (current[`r${c.on}`] ??= []).push(`c${i}`);
        roleOf[`c${i}`] = c.role;
      });
      return { current, reflectors: next, roles: roleOf };
    });

/** Whether the roles present in a change have at most two distinct weights in the new mesh. */
function atMostTwoWeights(input: RebalanceInput): boolean {
  const ids = Object.values(input.current).flat();
  const roles = new Set(ids.map((id) => input.roles?.[id] ?? 'sendrecv'));
  const senders = ids.filter((id) => (input.roles?.[id] ?? 'sendrecv') !== 'recvonly').length;
  const w = roleWeights(input.reflectors.length, senders);
  return new Set([...roles].map((r) => w[r])).size <= 2;
}

describe('rebalance plan', () => {
  it('moves nothing when the mesh is already balanced', () => {
    const plan = planRebalance({ current: { a: ['1', '2'], b: ['3'] }, reflectors: ['a', 'b'] });
    expect(plan.migrations).toEqual([]);
    expect(plan.assignment).toEqual({ a: ['1', '2'], b: ['3'] });
    expect(plan.peakOutboundStreams).toBe(2 * (2 + 3 - 2));
  });

  it('scales up: a new reflector takes one client from each full one', () => {
    const plan = planRebalance({ current: { a: ['1', '2', '3'], b: ['4', '5', '6'] }, reflectors: ['a', 'b', 'c'] });
    expect(plan.migrations).toHaveLength(2);
    expect(plan.migrations.every((mig) => mig.to === 'c')).toBe(true);
    expect(plan.assignment.c).toHaveLength(2);
  });

  it('scales down and fails over: every client of a removed reflector moves, removed ones first', () => {
    const plan = planRebalance({ current: { a: ['1', '2', '3', '4'], b: ['5', '6'], c: ['7', '8'] }, reflectors: ['a', 'c'] });
    expect(plan.migrations.slice(0, 2).map((mig) => mig.from)).toEqual(['b', 'b']);
    expect(plan.migrations.map((mig) => mig.from).sort()).toEqual(['b', 'b']);
    expect(plan.assignment.a).toEqual(['1', '2', '3', '4']);
  });

  it('is minimal, checked against every plan (all roles)', () => {
    fc.assert(
      fc.property(smallChange(ROLE_LIST), (input) => {
        const plan = planRebalance(input);
        expectConsistent(input, plan);
        const best = bruteForce(input);
        expect(plan.migrations.length).toBe(best.migrations);
        expect(plan.peakOutboundStreams).toBeGreaterThanOrEqual(best.peak);
        if (atMostTwoWeights(input)) expect(plan.peakOutboundStreams).toBe(best.peak);
      }),
      { numRuns: 600 },
    );
  });

  it('reaches the lowest peak among minimal plans with sendrecv and recvonly clients', () => {
    fc.assert(
      fc.property(smallChange(['sendrecv', 'recvonly']), (input) => {
        const plan = planRebalance(input);
        const best = bruteForce(input);
        expect(plan.migrations.length).toBe(best.migrations);
        expect(plan.peakOutboundStreams).toBe(best.peak);
      }),
      { numRuns: 400 },
    );
  });

  it('rejects a client on two reflectors, and clients with nowhere to go', () => {
    expect(() => planRebalance({ current: { a: ['1'], b: ['1'] }, reflectors: ['a'] })).toThrow(/both a and b/);
    expect(() => planRebalance({ current: { a: ['1'] }, reflectors: [] })).toThrow(/no reflector left/);
    expect(() => planRebalance({ current: {}, reflectors: ['a', 'a'] })).toThrow(/unique/);
  });
});
