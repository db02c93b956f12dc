import { describe, expect, it } from 'vitest';
import { MAX_REPORTED_CLIENTS } from '../../../protocol/api-schemas.js';
import { PeerMesh } from '../../../reflector/peers.js';

const self = { id: 'a', address: '192.0.2.1', dataPort: 5004, controlPort: 7400, rtp: false };
const info = (id: string, n: number) => ({ id, address: `192.0.2.${n}`, dataPort: 5004, controlPort: 7400, rtp: false });

function mesh() {
  const m = new PeerMesh({
    self: () => ({ info: self, clients: 0, draining: false, generation: 0 }),
    adminToken: undefined,
    keepaliveIntervalMs: 1000,
    peerTimeoutMs: 5000,
    requestTimeoutMs: 1000,
  });
  const changes: string[] = [];
  const removed: string[] = [];
  m.on('changed', (reason) => changes.push(reason));
  m.on('removed', (peer, reason) => removed.push(`${peer.info.id}: ${reason}`));
  return { m, changes, removed };
}

describe('PeerMesh', () => {
  it('adds peers once, ignores itself, and reports address changes', () => {
    const { m, changes } = mesh();
    expect(m.add(info('b', 2))).toBe(true);
    expect(m.add(info('b', 2))).toBe(false);
    expect(m.add(self)).toBe(false);
    expect(m.add({ ...info('b', 2), dataPort: 6000 })).toBe(true);
    expect(m.forwardingPeers()).toEqual([{ id: 'b', address: '192.0.2.2', dataPort: 6000 }]);
    expect(changes).toHaveLength(2);
  });

  it('replaces the whole list, keeping what it knew of peers that stay', () => {
    const { m, removed } = mesh();
    m.add(info('b', 2));
    m.add(info('c', 3));
    m.heard('c', 4, true);
    m.replace([info('c', 3), info('d', 4), self]);
    expect(m.all().map((p) => p.info.id).sort()).toEqual(['c', 'd']);
    expect(m.get('c')).toMatchObject({ clients: 4, draining: true });
    expect(removed).toEqual(['b: not in the peer list']);
  });

  it('keeps the newest client count: a report of an older generation is ignored', () => {
    const { m } = mesh();
    m.add(info('b', 2));
    expect(m.heard('b', 3, false, 5)).toBe(true);
    m.heard('b', 1, false, 4); // a late answer
    expect(m.get('b')?.clients).toBe(3);
    m.heard('b', 2, false, 6);
    expect(m.get('b')?.clients).toBe(2);
    expect(m.heard('zz', 1)).toBe(false);
  });

  it('takes no client count out of range from a peer\'s answer (answers are not schema-checked)', () => {
    const { m } = mesh();
    m.add(info('b', 2), Number.MAX_SAFE_INTEGER);
    expect(m.get('b')?.clients).toBe(0);
    m.heard('b', 7);
    for (const bad of [MAX_REPORTED_CLIENTS + 1, -1, 2.5, Number.NaN, '3' as unknown as number]) m.heard('b', bad);
    expect(m.get('b')?.clients).toBe(7);
    m.heard('b', MAX_REPORTED_CLIENTS);
    expect(m.get('b')?.clients).toBe(MAX_REPORTED_CLIENTS);
  });
});
