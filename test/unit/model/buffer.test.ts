// The capacity buffer (model/buffer.ts): free client slots by mesh size, and the smallest mesh whose
// slots cover a buffer, searched over every size because capacity is not monotonic in m.
import { describe, expect, it } from 'vitest';
import { budgetOf, maxClients, planBuffer, type BufferTarget } from '../../../model/index.js';
import { bufferClients, bufferOption } from '../../../model/buffer.js';
import { roleCounts, type RoleCounts } from '../../../protocol/roles.js';

/** A budget of exactly `streams` streams (1 Mbit/s each, no headroom). */
const streams = (n: number) => budgetOf(1, n, 0);
const sendrecv = (n: number) => roleCounts({ sendrecv: n });

describe('free client slots', () => {
  // 20 streams, all sendrecv, formula (4) nr·(m+n−2) ≤ 20: by hand, meshes of 1..6 take 5, 6, 6, 8, 7, 6.
  it.each([
    [1, 5],
    [2, 6],
    [3, 6],
    [4, 8],
    [5, 7],
    [6, 6],
  ])('a 20-stream budget: %i reflectors serve %i clients (not monotonic in m)', (m, most) => {
    expect(bufferOption(m, sendrecv(0), streams(20))).toEqual({ reflectors: m, maxClients: most, freeClientSlots: most, fits: true });
  });

  it.each<[string, RoleCounts, number, number, number]>([
    // [what, clients, m, budget streams, free slots]
    ['3 of the 8 taken', sendrecv(3), 4, 20, 5],
    ['full', sendrecv(8), 4, 20, 0],
    ['over capacity: 0, not negative', sendrecv(9), 4, 20, 0],
    // Roles count: 4 sendrecv on m = 2 leave 2 slots (6 fit); with 2 of them recvonly (weight S, no
    // peer copies, not a sender) e sendrecv + 2 fit while ⌈(e+2)/2⌉·e ≤ 20, so e = 5: 7 fit, 3 free.
    ['4 sendrecv on 2 reflectors', sendrecv(4), 2, 20, 2],
    ['2 of them recvonly leave more room', roleCounts({ sendrecv: 2, recvonly: 2 }), 2, 20, 3],
    // The headroom is counted: 0.5 of 40 Mbit/s at 1 Mbit/s is the 20-stream budget.
    ['headroom included', sendrecv(3), 4, -1, 5],
  ])('%s', (_what, clients, m, budgetStreams, free) => {
    const budget = budgetStreams < 0 ? budgetOf(1, 40, 0.5) : streams(budgetStreams);
    expect(bufferOption(m, clients, budget).freeClientSlots).toBe(free);
  });

  it('matches the planner\'s maxClients with roles (one definition of capacity)', () => {
    for (let m = 1; m <= 6; m++) {
      const clients = roleCounts({ sendrecv: 1, recvonly: 2, sendonly: 1 });
      const expected = Math.max(0, maxClients(m, 40, clients) - 4);
      expect(bufferOption(m, clients, streams(40)).freeClientSlots).toBe(expected);
    }
  });

  it('caps the slots by the admission limits', () => {
    expect(bufferOption(4, sendrecv(3), streams(20), { maxClients: 6 }).freeClientSlots).toBe(3);
    expect(bufferOption(4, sendrecv(3), streams(20), { maxClientsPerReflector: 1 }).freeClientSlots).toBe(1);
  });
});

describe('bufferClients', () => {
  it.each<[BufferTarget, number, number]>([
    [{ clients: 5 }, 100, 5],
    [{ clients: 0 }, 7, 0],
    [{ percent: 20 }, 50, 10],
    [{ percent: 20 }, 51, 11],
    [{ percent: 10 }, 0, 0],
    [{ percent: 150 }, 4, 6],
  ])('%o of %i clients is %i', (target, n, k) => {
    expect(bufferClients(target, n)).toBe(k);
  });

  it('refuses a negative buffer with a clear error', () => {
    expect(() => bufferClients({ clients: -1 }, 0)).toThrow(/whole number of clients >= 0/);
  });
});

describe('planBuffer', () => {
  it.each<[string, RoleCounts, BufferTarget, number, number, number, boolean]>([
    // [what, clients, buffer, min, max, chosen m, covered]; 20-stream budget (capacities 5, 6, 6, 8, 7, 6)
    ['no clients, room for 5: one reflector', sendrecv(0), { clients: 5 }, 1, 6, 1, true],
    ['room for 6: two', sendrecv(0), { clients: 6 }, 1, 6, 2, true],
    // 3 and 2 cannot hold 8; the first size that can is 4, and 5 and 6 hold fewer again.
    ['room for 8 skips 3 and lands on 4', sendrecv(0), { clients: 8 }, 1, 6, 4, true],
    ['4 clients + 4 more: 4 reflectors', sendrecv(4), { clients: 4 }, 1, 6, 4, true],
    // Above the sizes that shrink the capacity: from min 5, 5 covers 7, 6 would not.
    ['min 5: 5 covers 7', sendrecv(0), { clients: 7 }, 5, 6, 5, true],
    ['min 5, room for 8: not covered, the most room (5)', sendrecv(0), { clients: 8 }, 5, 6, 5, false],
    ['room for 9 nowhere: 4 has the most', sendrecv(0), { clients: 9 }, 1, 6, 4, false],
    ['percent: 50 % of 4 = 2 more, 6 clients: two', sendrecv(4), { percent: 50 }, 1, 6, 2, true],
    ['zero buffer is plain fitting: 7 clients need 4', sendrecv(7), { clients: 0 }, 1, 6, 4, true],
  ])('%s', (_what, clients, target, min, max, m, covered) => {
    const p = planBuffer({ clients, budget: streams(20), target, minReflectors: min, maxReflectors: max });
    expect(p.reflectors).toBe(m);
    expect(p.covered).toBe(covered);
    expect(p.options.map((o) => o.reflectors)).toEqual(Array.from({ length: max - min + 1 }, (_, i) => min + i));
  });

  it('says why, including that more reflectors do not always help', () => {
    const p = planBuffer({ clients: sendrecv(0), budget: streams(20), target: { clients: 8 }, minReflectors: 1, maxReflectors: 6 });
    expect(p.reason).toBe(
      '4 reflectors serve 0 clients and leave 8 free client slots, covering the buffer of 8; fewer reflectors leave at most 6; more reflectors do not always help: 5, 6 would leave fewer than 8.',
    );
    const none = planBuffer({ clients: sendrecv(0), budget: streams(20), target: { clients: 9 }, minReflectors: 1, maxReflectors: 6 });
    expect(none.reason).toMatch(/cannot be covered within 1–6 reflectors: .* is 8, with 4 reflectors; raise scaling.maxReplicas/);
  });

  it('agrees with a brute-force search over random meshes', () => {
    let seed = 7;
    const rand = (k: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % k;
    };
    for (let i = 0; i < 200; i++) {
      const clients = roleCounts({ sendrecv: rand(12), recvonly: rand(4), sendonly: rand(3) });
      const budget = streams(10 + rand(120));
      const target = { clients: rand(15) };
      const p = planBuffer({ clients, budget, target, minReflectors: 1, maxReflectors: 8 });
      const n = clients.sendrecv + clients.recvonly + clients.sendonly;
      const free = (m: number) => maxClients(m, budget.budgetStreams, clients) - n;
      const covering = [1, 2, 3, 4, 5, 6, 7, 8].filter((m) => free(m) >= target.clients);
      if (covering.length > 0) expect(p.reflectors).toBe(Math.min(...covering));
      else expect(p.covered).toBe(false);
    }
  });

  it('refuses bounds the wrong way round', () => {
    expect(() => planBuffer({ clients: sendrecv(0), budget: streams(20), target: { clients: 1 }, minReflectors: 3, maxReflectors: 2 })).toThrow(/1 <= min <= max/);
  });
});
