// Formulas (1)–(4) of design §3 and their generalisation to roles, by example and by property.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  allSendRecv,
  budgetOf,
  clientsPerReflector,
  inboundStreams,
  meshOutboundStreams,
  outboundStreams,
  peakOutboundStreams,
  reflectorOutboundStreams,
  roleCounts,
  type RoleCounts,
} from '../../../model/index.js';

/**
 * Streams out of each reflector counted the slow way, datagram by datagram: every sender's stream
 * goes to every other local receiver and to every peer; every stream from a peer goes to every
 * local receiver. Independent of the closed forms under test.
 */
function countByForwarding(perReflector: RoleCounts[]): number[] {
  const m = perReflector.length;
  const clients = perReflector.flatMap((counts, r) =>
    (['sendrecv', 'recvonly', 'sendonly'] as const).flatMap((role) => Array.from({ length: counts[role] }, () => ({ r, role }))),
  );
  const sends = (role: string): boolean => role !== 'recvonly';
  const receives = (role: string): boolean => role !== 'sendonly';
  const out = new Array<number>(m).fill(0);
  clients.forEach((sender, i) => {
    if (!sends(sender.role)) return;
    out[sender.r]! += m - 1; // to every peer
    clients.forEach((receiver, k) => {
      if (k !== i && receives(receiver.role)) out[receiver.r]! += 1; // delivered by the receiver's reflector
    });
  });
  return out;
}

const evenSpread = (n: number, m: number): number[] => {
  const nr = clientsPerReflector(n, m);
  const big = n - m * (nr - 1);
  return Array.from({ length: m }, (_, j) => (j < big ? nr : nr - 1));
};

describe('capacity model, formulas (1)–(4)', () => {
  it('reproduces the example of design §3: m = 4, n = 8', () => {
    expect(clientsPerReflector(8, 4)).toBe(2);
    expect(inboundStreams(8)).toBe(8);
    expect(outboundStreams(2, 4, 8)).toBe(20);
    expect(peakOutboundStreams(4, 8)).toBe(20);
    expect(peakOutboundStreams(4, 8) * 30).toBe(600);
    expect(budgetOf(30, 600).budgetStreams).toBe(20);
  });

  it('gives the single reflector n·(n−1) streams', () => {
    for (let n = 1; n <= 30; n++) expect(peakOutboundStreams(1, n)).toBe(n * (n - 1));
  });

  it('(4) is (3) at s = nr, and (3) at s = nr−1 never exceeds it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 2000 }), (m, n) => {
        const nr = clientsPerReflector(n, m);
        expect(nr).toBe(Math.ceil(n / m));
        expect(peakOutboundStreams(m, n)).toBe(outboundStreams(nr, m, n));
        if (nr >= 1) expect(outboundStreams(nr - 1, m, n)).toBeLessThanOrEqual(peakOutboundStreams(m, n));
      }),
      { numRuns: 2000 },
    );
  });

  it('the generalised form equals (3) and (4) when every client sends and receives', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 400 }), (m, n) => {
        const sizes = evenSpread(n, m);
        const perReflector = sizes.map((s) => allSendRecv(s));
        const out = meshOutboundStreams(perReflector);
        sizes.forEach((s, j) => expect(out[j]).toBe(outboundStreams(s, m, n)));
        expect(Math.max(0, ...out)).toBe(peakOutboundStreams(m, n));
      }),
      { numRuns: 1000 },
    );
  });

  it('the generalised form counts what forwarding sends, for any roles anywhere', () => {
    const reflector = fc.record({ sendrecv: fc.nat(5), recvonly: fc.nat(5), sendonly: fc.nat(5) });
    fc.assert(
      fc.property(fc.array(reflector, { minLength: 1, maxLength: 6 }), (perReflector) => {
        expect(meshOutboundStreams(perReflector)).toEqual(countByForwarding(perReflector));
      }),
      { numRuns: 500 },
    );
  });

  it('counts a receive-only client as S streams and a send-only one as m−1', () => {
    // m = 3, 5 senders in all: a lone recvonly receives 5 streams, a lone sendonly sends 2 peer copies.
    expect(reflectorOutboundStreams(roleCounts({ recvonly: 1 }), 5, 3)).toBe(5);
    expect(reflectorOutboundStreams(roleCounts({ sendonly: 1 }), 5, 3)).toBe(2);
    expect(reflectorOutboundStreams(roleCounts({ sendrecv: 1 }), 5, 3)).toBe(2 + 4);
  });

  it('rejects impossible input with a clear error', () => {
    expect(() => clientsPerReflector(5, 0)).toThrow(/reflectors must be >= 1/);
    expect(() => outboundStreams(9, 2, 8)).toThrow(/cannot serve 9 of only 8/);
    expect(() => reflectorOutboundStreams(roleCounts({ sendrecv: 3 }), 2, 2)).toThrow(/3 local senders of only 2/);
    expect(() => clientsPerReflector(-1, 2)).toThrow(/whole number/);
  });
});
