import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chooseReflectors, planDrain, planRedistribution, predictedOutboundStreams } from '../../../reflector/admission.js';

const open = { maxClientsPerReflector: 0, maxClients: 0 };

describe('chooseReflectors', () => {
  it('prefers the fewest clients, ties to the reflector asked', () => {
    const self = { id: 'b', clients: 2, draining: false };
    const decision = chooseReflectors(self, [
      { id: 'a', clients: 2, draining: false },
      { id: 'c', clients: 1, draining: false },
    ], open);
    expect(decision).toEqual({ admit: true, order: ['c', 'b', 'a'] });
    const tie = chooseReflectors({ id: 'z', clients: 1, draining: false }, [{ id: 'a', clients: 1, draining: false }], open);
    expect(tie).toEqual({ admit: true, order: ['z', 'a'] });
  });

  it('skips draining and full reflectors', () => {
    const decision = chooseReflectors({ id: 's', clients: 0, draining: true }, [
      { id: 'a', clients: 4, draining: false },
      { id: 'b', clients: 3, draining: false },
    ], { maxClientsPerReflector: 4, maxClients: 0 });
    expect(decision).toEqual({ admit: true, order: ['b'] });
  });

  it('refuses with a reason when the mesh or every reflector is full, or all drain', () => {
    const mesh = chooseReflectors({ id: 's', clients: 3, draining: false }, [{ id: 'a', clients: 3, draining: false }], { maxClientsPerReflector: 0, maxClients: 6 });
    expect(mesh).toMatchObject({ admit: false, code: 'RMESH_MESH_FULL' });
    expect(mesh.admit === false && mesh.message).toContain('6 of 6');
    const each = chooseReflectors({ id: 's', clients: 2, draining: false }, [{ id: 'a', clients: 2, draining: false }], { maxClientsPerReflector: 2, maxClients: 0 });
    expect(each).toMatchObject({ admit: false, code: 'RMESH_REFLECTOR_FULL' });
    const drain = chooseReflectors({ id: 's', clients: 0, draining: true }, [], open);
    expect(drain).toMatchObject({ admit: false, code: 'RMESH_DRAINING' });
  });

  it('spreads successive joins so every reflector serves nr or nr-1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 60 }), fc.nat(), (m, n, asked) => {
        const counts = new Array<number>(m).fill(0);
        for (let k = 0; k < n; k++) {
          const self = (asked + k) % m;
          const d = chooseReflectors(
            { id: `r${self}`, clients: counts[self]!, draining: false },
            counts.flatMap((c, i) => (i === self ? [] : [{ id: `r${i}`, clients: c, draining: false }])),
            open,
          );
          if (!d.admit) throw new Error('refused');
          counts[Number(d.order[0]!.slice(1))]!++;
        }
        const nr = Math.ceil(n / m);
        return counts.every((c) => c === nr || c === nr - 1 || (n < m && c <= 1));
      }),
    );
  });
});

describe('planRedistribution', () => {
  it('gives a newcomer clients from the most loaded until all are within one', () => {
    const plan = planRedistribution(0, [
      { id: 'a', clients: 3, draining: false },
      { id: 'b', clients: 3, draining: false },
      { id: 'c', clients: 3, draining: false },
    ]);
    expect([...plan.values()].reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('balances any load to nr or nr-1', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 7 }), (loads) => {
        // Start from a balanced mesh, as admission keeps it.
        const total = loads.reduce((a, b) => a + b, 0);
        const m = loads.length;
        const balanced = loads.map((_, i) => Math.floor(total / m) + (i < total % m ? 1 : 0));
        const peers = balanced.map((c, i) => ({ id: `p${i}`, clients: c, draining: false }));
        const plan = planRedistribution(0, peers);
        const after = [...peers.map((p) => p.clients - (plan.get(p.id) ?? 0)), [...plan.values()].reduce((a, b) => a + b, 0)];
        const nr = Math.ceil(total / (m + 1));
        return after.every((c) => c === nr || c === nr - 1 || (total === 0 && c === 0));
      }),
    );
  });
});

describe('planDrain', () => {
  it('sends clients to the least loaded open peers, counting as it goes', () => {
    const targets = planDrain(4, [
      { id: 'a', clients: 1, draining: false },
      { id: 'b', clients: 3, draining: false },
      { id: 'x', clients: 0, draining: true },
    ], open);
    expect(targets).toEqual(['a', 'a', 'a', 'b']);
  });

  it('leaves clients without a target when every peer is full', () => {
    expect(planDrain(2, [{ id: 'a', clients: 1, draining: false }], { maxClientsPerReflector: 2, maxClients: 0 })).toEqual(['a', undefined]);
  });
});

describe('predictedOutboundStreams', () => {
  it('follows out = nr(m+n-2)', () => {
    expect(predictedOutboundStreams(4, 8)).toBe(20);
    expect(predictedOutboundStreams(1, 1)).toBe(0);
    expect(predictedOutboundStreams(3, 0)).toBe(0);
  });
});
