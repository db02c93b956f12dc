// Healing bookkeeping (reflector/lost-peers.ts, protocol/backoff.ts) and what /readyz says about the
// mesh (PeerMesh.membershipProblem): pure, no sockets.
import { describe, expect, it } from 'vitest';
import { backoffDelayMs } from '../../../protocol/backoff.js';
import { LostPeers } from '../../../reflector/lost-peers.js';
import { PeerMesh } from '../../../reflector/peers.js';

const info = (id: string, n: number) => ({ id, address: `192.0.2.${n}`, dataPort: 5004, controlPort: 7400, rtp: false });
const policy = { initialMs: 200, maxMs: 1500 };

describe('backoffDelayMs', () => {
  it.each([
    [0, 100, 200],
    [1, 200, 400],
    [2, 400, 800],
    [3, 750, 1500],
    [30, 750, 1500],
    [1000, 750, 1500],
  ])('after %i failures: between %i and %i ms (half fixed, half jitter, capped)', (failures, low, high) => {
    expect(backoffDelayMs(policy, failures, () => 0)).toBe(low);
    expect(backoffDelayMs(policy, failures, () => 0.999999)).toBeCloseTo(high, 0);
  });

  it('without jitter, is the capped doubling itself whatever the random source says', () => {
    const plain = { ...policy, jitter: 'none' } as const;
    expect([0, 1, 2, 3, 30, 1000].map((f) => backoffDelayMs(plain, f, () => 0))).toEqual([200, 400, 800, 1500, 1500, 1500]);
    expect(backoffDelayMs(plain, 1, () => 0.5)).toBe(400);
  });

  it('treats a negative failure count as none', () => {
    expect(backoffDelayMs(policy, -3, () => 0)).toBe(100);
  });
});

describe('LostPeers', () => {
  it('is due at once when lost, then backs off on each failure up to the cap', () => {
    const lost = new LostPeers(policy, 60_000, () => 1);
    lost.lost(info('b', 2), 1000);
    expect(lost.due(1000).map((e) => e.info.id)).toEqual(['b']);
    const delays: number[] = [];
    let now = 1000;
    for (let i = 0; i < 6; i++) {
      lost.failed('b', now);
      const next = [...Array(5000).keys()].find((d) => lost.due(now + d).length > 0)!;
      delays.push(next);
      now += next;
    }
    expect(delays).toEqual([200, 400, 800, 1500, 1500, 1500]);
  });

  it('says hello now when the lost peer speaks to us, and forgets peers that are back or left', () => {
    const lost = new LostPeers(policy, 60_000, () => 1);
    lost.lost(info('b', 2), 0);
    lost.failed('b', 0);
    expect(lost.due(10)).toHaveLength(0);
    expect(lost.retryNow('b', 10)).toBe(true);
    expect(lost.due(10)).toHaveLength(1);
    expect(lost.retryNow('x', 10)).toBe(false);
    lost.clear('b');
    expect(lost.size).toBe(0);
  });

  it('forgets a peer lost for too long, unless kept (the operator still lists it)', () => {
    const lost = new LostPeers(policy, 60_000);
    lost.lost(info('b', 2), 0);
    lost.lost(info('c', 3), 0);
    lost.due(60_001, (id) => id === 'c');
    expect(lost.ids()).toEqual(['c']);
  });
});

describe('PeerMesh.membershipProblem (/readyz)', () => {
  const self = info('a', 1);
  const mesh = (awaitPeerList = false) =>
    new PeerMesh({ self: () => ({ info: self, clients: 0, draining: false, generation: 0 }), adminToken: undefined, keepaliveIntervalMs: 200, peerTimeoutMs: 1500, requestTimeoutMs: 1000, awaitPeerList });

  it('a reflector alone from the start is a mesh of one, not a problem', () => {
    expect(mesh().membershipProblem()).toBeUndefined();
  });

  it('is cut off once every peer went silent, fine again when one is back; a bye is not a loss', () => {
    const m = mesh();
    for (const [id, n] of [['b', 2], ['c', 3]] as const) {
      m.add(info(id, n));
      m.heard(id);
    }
    m.remove('b', 'silent', true);
    expect(m.membershipProblem()).toBeUndefined();
    m.remove('c', 'silent', true);
    expect(m.membershipProblem()).toMatch(/cut off from the mesh: lost every peer \(b, c\)/);
    m.add(info('c', 3));
    expect(m.membershipProblem()).toBeUndefined();
    // c leaves on purpose: nothing to retry there, but b is still lost.
    m.remove('c', 'said bye');
    expect(m.membershipProblem()).toMatch(/lost every peer \(b\)/);
  });

  it('with --await-peer-list: not ready until the operator\'s first list, even an empty one; peers met by hello are not it', () => {
    const m = mesh(true);
    expect(m.awaitingPeerList).toBe(true);
    expect(m.membershipProblem()).toMatch(/waiting for the operator's peer list/);
    m.add(info('b', 2));
    m.heard('b');
    expect(m.membershipProblem()).toMatch(/waiting for the operator's peer list/);
    m.replace([]);
    expect(m.awaitingPeerList).toBe(false);
    expect(m.membershipProblem()).toBeUndefined();
    // Latched: later lists and losses are the other problems, never this one again.
    m.replace([info('c', 3)]);
    m.heard('c');
    m.remove('c', 'silent', true);
    expect(m.membershipProblem()).toMatch(/1 of 1 peers in the peer list unreachable \(c\)/);
  });

  it('without --await-peer-list, a reflector never waits for a list', () => {
    expect(mesh().awaitingPeerList).toBe(false);
  });

  it('with the operator\'s list: not ready while a listed peer is missing', () => {
    const m = mesh();
    m.replace([info('b', 2), info('c', 3), info('d', 4)]);
    m.heard('b');
    m.heard('c');
    expect(m.membershipProblem()).toBeUndefined();
    m.remove('c', 'silent', true);
    // d never answered (its pod may not run yet): not counted as lost.
    m.remove('d', 'silent', true);
    expect(m.membershipProblem()).toMatch(/1 of 3 peers in the peer list unreachable \(c\)/);
  });
});
