// The operator's controller against real `rmesh reflector` processes on 127.0.2.x and real clients:
// the Kubernetes API and the kubelet are played in memory (the end-to-end suite uses a real API
// server), everything the operator says to reflectors goes over their real admin API.
import { describe, expect, it } from 'vitest';
import { controllerLoopFor, MESH_KEY } from './controller-loop.js';
import { closeClients, delivered, flowing, joinClients, sendRounds, type TestClient } from '../../support/mesh-traffic.js';
import { waitFor } from '../../support/wait.js';

const NODES = ['127.0.2.11', '127.0.2.12', '127.0.2.13', '127.0.2.14'];

describe('the operator drives real reflectors', () => {
  let clients: TestClient[] = [];
  const operator = controllerLoopFor(
    { nodes: NODES },
    {
      replicas: 3,
      reflector: { dataPlane: 'js' },
    },
    () => closeClients(clients),
  );
  const { cluster, kubelet } = operator;

  it('creates the reflectors, wires the full mesh with the admin token and reports Ready', async () => {
    await operator.waitReady();
    expect(operator.podNames()).toHaveLength(3);
    for (const name of operator.podNames()) {
      const { peers } = await operator.adminGet<{ peers: { id: string }[] }>(operator.reflectorOf(name), '/v1/peers');
      expect(peers.map((p) => p.id).sort()).toEqual(operator.podNames().filter((n) => n !== name).sort());
    }
    // The admin API refuses calls without the token: the operator's calls carried it.
    const anonymous = await fetch(`http://${operator.reflectorOf(operator.podNames()[0]!)}:${operator.controlPort}/v1/peers`);
    expect(anonymous.status).toBe(401);
    expect(operator.status()).toMatchObject({ replicas: 3, readyReplicas: 3, desiredReplicas: 3, selector: 'app.kubernetes.io/component=reflector,rmesh.io/mesh=conf' });
  });

  it('reports the clients, then scales down by draining one reflector without losing a datagram', async () => {
    const first = operator.reflectorOf(operator.podNames()[0]!);
    clients = await joinClients(6, (i) => ({ token: operator.clientToken(), join: `${first}:${operator.controlPort}`, bindAddress: `127.0.2.${120 + i}` }));
    await waitFor(() => operator.status()?.clients === 6, { timeoutMs: 10_000, what: 'status.clients = 6' });
    expect((await operator.clientCounts()).sort()).toEqual([2, 2, 2]);

    const ROUNDS = 1500;
    const traffic = sendRounds(clients, 0, ROUNDS, 4);
    await flowing(clients);
    const before = operator.podNames();
    cluster.editSpec(MESH_KEY, (spec) => (spec.replicas = 2));
    await waitFor(() => operator.podNames().length === 2 && kubelet.processes.size === 2, { timeoutMs: 30_000, what: `two reflectors (${operator.lastError})` });
    await traffic;
    await delivered(clients, 0, ROUNDS);
    for (const r of clients) {
      for (const s of clients) if (s !== r) expect(r.missingFrom(s.index, 0, ROUNDS), `lost at ${r.index} from ${s.index}`).toEqual([]);
    }
    const gone = before.filter((n) => !operator.podNames().includes(n));
    expect(gone).toHaveLength(1);
    const reasons = cluster.events.map((e) => `${e.reason}`);
    expect(reasons).toEqual(expect.arrayContaining(['ScalingDown', 'Draining', 'ReflectorRemoved']));
    expect((await operator.clientCounts()).sort()).toEqual([3, 3]);
  });

  it('scales up and moves clients onto the new reflector (its own migrations) without losing a datagram', async () => {
    const ROUNDS = 2500;
    const FROM = 100_000;
    const traffic = sendRounds(clients, FROM, FROM + ROUNDS, 4);
    cluster.editSpec(MESH_KEY, (spec) => (spec.replicas = 3));
    await waitFor(async () => operator.podNames().length === 3 && (await operator.clientCounts().catch(() => [])).sort().join() === '2,2,2', {
      timeoutMs: 40_000,
      what: `clients spread 2/2/2 (${operator.lastError})`,
    });
    await traffic;
    await delivered(clients, FROM, FROM + ROUNDS);
    for (const r of clients) {
      for (const s of clients) if (s !== r) expect(r.missingFrom(s.index, FROM, FROM + ROUNDS), `lost at ${r.index} from ${s.index}`).toEqual([]);
    }
    // Reflectors wired by PUT /v1/peers do not redistribute by themselves: the operator moved them.
    expect(cluster.events.map((e) => e.reason)).toEqual(expect.arrayContaining(['ScalingUp', 'Rebalancing']));
    await waitFor(() => operator.status()?.readyReplicas === 3 && operator.status()?.clients === 6, { timeoutMs: 10_000, what: 'status caught up' });
  });

  it('replaces a reflector that crashed, and the mesh heals', async () => {
    const victim = operator.podNames()[0]!;
    await kubelet.crash(victim);
    // The test polls while passes run, so it waits for the status to show the healed mesh.
    await waitFor(
      () => {
        const rows = operator.status()?.reflectors ?? [];
        return !operator.podNames().includes(victim) && rows.length === 3 && rows.every((r) => r.ready && r.name !== victim);
      },
      { timeoutMs: 40_000, what: `a replacement (${operator.lastError})` },
    );
    expect(cluster.events.map((e) => e.reason)).toContain('ReflectorFailed');
    await waitFor(async () => {
      for (const name of operator.podNames()) {
        const { peers } = await operator.adminGet<{ peers: { id: string }[] }>(operator.reflectorOf(name), '/v1/peers');
        if (peers.map((p) => p.id).sort().join() !== operator.podNames().filter((n) => n !== name).sort().join()) return false;
      }
      return true;
    }, { timeoutMs: 20_000, what: 'the healed full mesh' });
    // Clients of the crashed reflector failed over by themselves; the operator evens the load again.
    await waitFor(async () => (await operator.clientCounts().catch(() => [])).sort().join() === '2,2,2', { timeoutMs: 40_000, what: 'clients even again' });
  });
});
