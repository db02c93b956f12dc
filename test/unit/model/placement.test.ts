// Placement: nr/nr−1 clients per reflector with the lowest peak, checked against exhaustive search.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  clientsPerReflector,
  meshOutboundStreams,
  meshPeakOutboundStreams,
  peakOutboundStreams,
  placeClients,
  placeCounts,
  reflectorSizes,
  roleCounts,
  type Client,
  type Role,
  type RoleCounts,
} from '../../../model/index.js';

/** Every way to give each reflector (of the given sizes) clients by role, with the given totals. */
function* distributions(sizes: number[], left: RoleCounts): Generator<RoleCounts[]> {
  if (sizes.length === 0) {
    if (left.sendrecv === 0 && left.recvonly === 0 && left.sendonly === 0) yield [];
    return;
  }
  const [t, ...rest] = sizes as [number, ...number[]];
  for (let a = 0; a <= Math.min(t, left.sendrecv); a++) {
    for (let b = 0; b <= Math.min(t - a, left.recvonly); b++) {
      const c = t - a - b;
      if (c > left.sendonly) continue;
      const here = { sendrecv: a, recvonly: b, sendonly: c };
      const remaining = { sendrecv: left.sendrecv - a, recvonly: left.recvonly - b, sendonly: left.sendonly - c };
      for (const tail of distributions(rest, remaining)) yield [here, ...tail];
    }
  }
}

function bruteForcePeak(m: number, clients: RoleCounts): number {
  const n = clients.sendrecv + clients.recvonly + clients.sendonly;
  let best = Infinity;
  for (const d of distributions(reflectorSizes(n, m), clients)) best = Math.min(best, meshPeakOutboundStreams(d));
  return best;
}

function expectValid(m: number, clients: RoleCounts, perReflector: RoleCounts[]): void {
  const n = clients.sendrecv + clients.recvonly + clients.sendonly;
  const nr = clientsPerReflector(n, m);
  expect(perReflector).toHaveLength(m);
  for (const r of perReflector) {
    const size = r.sendrecv + r.recvonly + r.sendonly;
    expect(size === nr || size === nr - 1 || (n === 0 && size === 0)).toBe(true);
  }
  for (const role of ['sendrecv', 'recvonly', 'sendonly'] as const) {
    expect(perReflector.reduce((s, r) => s + r[role], 0)).toBe(clients[role]);
  }
}

describe('placement', () => {
  it('sizes reflectors nr and nr−1, the bigger first', () => {
    expect(reflectorSizes(8, 4)).toEqual([2, 2, 2, 2]);
    expect(reflectorSizes(10, 4)).toEqual([3, 3, 2, 2]);
    expect(reflectorSizes(2, 4)).toEqual([1, 1, 0, 0]);
    expect(reflectorSizes(0, 3)).toEqual([0, 0, 0]);
  });

  it('matches (4) when every client sends and receives', () => {
    for (let m = 1; m <= 12; m++) {
      for (let n = 0; n <= 60; n++) {
        expect(placeCounts(m, roleCounts({ sendrecv: n })).peakOutboundStreams).toBe(peakOutboundStreams(m, n));
      }
    }
  });

  it('is never worse than any other distribution (exhaustive, m ≤ 4, n ≤ 9)', () => {
    let cases = 0;
    for (let m = 1; m <= 4; m++) {
      for (let a = 0; a <= 9; a++) {
        for (let b = 0; a + b <= 9; b++) {
          for (let c = 0; a + b + c <= 9; c++) {
            const clients = { sendrecv: a, recvonly: b, sendonly: c };
            const placed = placeCounts(m, clients);
            expectValid(m, clients, placed.perReflector);
            expect(placed.outboundStreams).toEqual(meshOutboundStreams(placed.perReflector));
            expect(placed.peakOutboundStreams, `m=${m} ${JSON.stringify(clients)}`).toBe(bruteForcePeak(m, clients));
            cases++;
          }
        }
      }
    }
    expect(cases).toBe(4 * 220);
  });

  it('beats greedy filling where greedy is wrong', () => {
    // m = 2, one recvonly and two sendonly clients: 2 senders, so the recvonly weighs 2 streams and
    // each sendonly 1 (its peer copy). Heaviest-first into the lightest reflector with room puts the
    // recvonly on the reflector of two, then a sendonly beside it: 3. The optimum is 2: the
    // recvonly alone, the two sendonly together.
    const placed = placeCounts(2, roleCounts({ recvonly: 1, sendonly: 2 }));
    expect(placed.peakOutboundStreams).toBe(2);
    expect(placed.perReflector).toEqual([roleCounts({ sendonly: 2 }), roleCounts({ recvonly: 1 })]);
  });

  it('puts receive-only clients where they lower the peak', () => {
    // m = 2, 6 sendrecv + 2 recvonly: recvonly weigh S = 6, sendrecv S+m−2 = 6 too: no difference.
    expect(placeCounts(2, roleCounts({ sendrecv: 6, recvonly: 2 })).peakOutboundStreams).toBe(4 * 6);
    // m = 4, 8 sendrecv + 2 recvonly (sizes 3, 3, 2, 2): sendrecv weigh 10, recvonly 8. One
    // recvonly on each reflector of three gives 28; both on one, or on the small ones, gives 30.
    const placed = placeCounts(4, roleCounts({ sendrecv: 8, recvonly: 2 }));
    expect(placed.peakOutboundStreams).toBe(28);
    expect(placed.perReflector.map((r) => r.recvonly)).toEqual([1, 1, 0, 0]);
  });

  it('holds on larger random cases: valid, consistent, and at least the lower bounds', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.nat(80), fc.nat(40), fc.nat(40), (m, a, b, c) => {
        const clients = { sendrecv: a, recvonly: b, sendonly: c };
        const placed = placeCounts(m, clients);
        expectValid(m, clients, placed.perReflector);
        expect(placed.outboundStreams).toEqual(meshOutboundStreams(placed.perReflector));
        // Never above the all-sendrecv bound (4) for the same n, since no role weighs more than
        // sendrecv when m ≥ 2 (with m = 1 a recvonly weighs one more, but then nothing is placed).
        if (m >= 2) expect(placed.peakOutboundStreams).toBeLessThanOrEqual(peakOutboundStreams(m, a + b + c));
        const total = placed.outboundStreams.reduce((s, x) => s + x, 0);
        expect(placed.peakOutboundStreams).toBeGreaterThanOrEqual(Math.ceil(total / m));
      }),
      { numRuns: 300 },
    );
  });

  it('places named clients, keeping ids and roles', () => {
    const roles: Role[] = ['sendrecv', 'recvonly', 'sendrecv', 'sendonly', 'sendrecv', 'recvonly', 'sendrecv'];
    const clients: Client[] = roles.map((role, i) => ({ id: `c${i}`, role }));
    const placed = placeClients(['r1', 'r2', 'r3'], clients);
    const all = Object.values(placed.assignment).flat().sort();
    expect(all).toEqual(clients.map((c) => c.id).sort());
    expect(Object.values(placed.assignment).map((ids) => ids.length)).toEqual([3, 2, 2]);
    expect(placed.peakOutboundStreams).toBe(placeCounts(3, roleCounts({ sendrecv: 4, recvonly: 2, sendonly: 1 })).peakOutboundStreams);
    const roleOf = new Map(clients.map((c) => [c.id, c.role]));
    for (const [reflector, ids] of Object.entries(placed.assignment)) {
      const counts = roleCounts();
      for (const id of ids) counts[roleOf.get(id)!] += 1;
      const perReflector = Object.values(placed.assignment).map((list) => {
        const rc = roleCounts();
        for (const id of list) rc[roleOf.get(id)!] += 1;
        return rc;
      });
      const index = Object.keys(placed.assignment).indexOf(reflector);
      expect(placed.outboundStreams[reflector]).toBe(meshOutboundStreams(perReflector)[index]);
    }
  });

  it('rejects clients without reflectors and duplicate ids', () => {
    expect(() => placeClients([], [{ id: 'a', role: 'sendrecv' }])).toThrow(/no reflector/);
    expect(() => placeClients(['r', 'r'], [])).toThrow(/unique/);
    expect(() => placeClients(['r'], [{ id: 'a', role: 'sendrecv' }, { id: 'a', role: 'recvonly' }])).toThrow(/unique/);
    expect(() => placeCounts(2, { sendrecv: -1, recvonly: 0, sendonly: 0 })).toThrow(/whole number/);
  });
});
