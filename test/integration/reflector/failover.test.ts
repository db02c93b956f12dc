// A reflector killed with SIGKILL: its clients notice the silence and move to the other reflectors by
// themselves, traffic resumes between everyone, and the surviving reflectors drop it from their peer
// lists (and tell their clients).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, stopAll, type ReflectorProcess } from '../../support/reflector-process.js';
import { waitFor } from '../../support/wait.js';
import { closeClients, joinClients, sendRounds, type TestClient } from '../../support/mesh-traffic.js';
import type { FailoverEvent } from '../../../client/mesh-client.js';

describe('a reflector killed with SIGKILL', () => {
  let mesh: ReflectorProcess[] = [];
  let clients: TestClient[] = [];
  const failovers: FailoverEvent[] = [];

  beforeAll(async () => {
    mesh = await startMesh({ size: 3, addressPrefix: '127.0.1.', firstHost: 21 });
    clients = await joinClients(6, (i) => ({ join: mesh[i % 3]!.controlAddress, bindAddress: `127.0.1.${140 + i}`, failoverTimeoutMs: 1000 }));
    for (const c of clients) c.client.on('failover', (e) => failovers.push(e));
  });

  afterAll(async () => {
    closeClients(clients);
    await stopAll(mesh);
  });

  it('moves its clients to the others, traffic resumes, and the peers drop it', async () => {
    const victim = mesh[1]!;
    const survivors = [mesh[0]!, mesh[2]!];
    const orphans = clients.filter((c) => c.client.reflector?.id === victim.id);
    expect(orphans).toHaveLength(2);

    await sendRounds(clients, 0, 50);
    const killed = await victim.kill('SIGKILL');
    expect(killed.signal).toBe('SIGKILL');

    await waitFor(() => orphans.every((c) => c.client.reflector !== undefined && c.client.reflector.id !== victim.id), {
      timeoutMs: 10_000,
      what: 'the orphaned clients to fail over',
    });
    expect(failovers).toHaveLength(2);
    for (const f of failovers) {
      expect(f.from.id).toBe(victim.id);
      expect(survivors.map((s) => s.id)).toContain(f.to.id);
      expect(f.reason).toBe('silent');
    }
    for (const c of clients) expect(c.client.reflector?.id).not.toBe(victim.id);

    await waitFor(
      async () => {
        const views = await Promise.all(survivors.map((s) => s.json<{ peers: { id: string }[] }>('/v1/peers')));
        return views.every((v) => v.peers.length === 1 && v.peers[0]!.id !== victim.id);
      },
      { timeoutMs: 10_000, what: 'the survivors to drop the dead peer' },
    );
    await waitFor(() => clients.every((c) => c.client.reflectors.length === 2), { timeoutMs: 5000, what: 'clients told the new reflector list' });
    const counts = await Promise.all(survivors.map(async (s) => (await s.status()).clients.length));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(6);

    // Traffic resumes between everyone, exactly once.
    await sendRounds(clients, 1000, 1100);
    await waitFor(() => clients.every((r) => clients.every((s) => s === r || r.countFrom(s.index, 1000, 1100) === 100)), {
      timeoutMs: 10_000,
      what: 'traffic after the failover',
    }).catch(() => undefined);
    for (const r of clients) {
      for (const s of clients) if (s !== r) expect(r.missingFrom(s.index, 1000, 1100), `at ${r.index} from ${s.index}`).toEqual([]);
    }
  });
});
