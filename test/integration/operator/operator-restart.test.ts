// The operator replaced while the mesh changes size (the real-cluster scenario "the operator's pod
// deleted"): a new controller with an empty memory takes over a scale 2 → 3 made while it was away,
// then scales back to 2. Real reflector processes and real clients under steady traffic: no client
// fails over and no datagram is lost (a scale-down moves clients make-before-break).
import { describe, expect, it } from 'vitest';
import { controllerLoopFor, MESH_KEY } from './controller-loop.js';
import { closeClients, delivered, flowing, joinClients, lossReport, steadyTraffic, type TestClient } from '../../support/mesh-traffic.js';
import { waitFor } from '../../support/wait.js';

const NODES = ['127.0.2.51', '127.0.2.52', '127.0.2.53'];

describe('the operator replaced while the mesh scales 2 → 3 → 2', () => {
  let clients: TestClient[] = [];
  const operator = controllerLoopFor({ nodes: NODES }, { replicas: 2, reflector: { dataPlane: 'js' } }, () => closeClients(clients));
  const { cluster, kubelet } = operator;
  const counts = async () => (await operator.clientCounts().catch(() => [])).sort().join();

  it('moves every client make-before-break: no failover, nothing lost', async () => {
    await operator.waitReady();
    const first = operator.reflectorOf(operator.podNames()[0]!);
    clients = await joinClients(4, (i) => ({ token: operator.clientToken(), join: `${first}:${operator.controlPort}`, bindAddress: `127.0.2.${150 + i}` }));
    await waitFor(async () => (await counts()) === '2,2', { timeoutMs: 20_000, what: 'clients 2/2' });
    const traffic = steadyTraffic(clients, 10);
    await flowing(clients);

    // The old operator sees the scale before its SIGTERM (a deleted pod is told some time after), acts
    // on it, and is replaced while the new reflector starts and the clients move to it.
    cluster.editSpec(MESH_KEY, (spec) => (spec.replicas = 3));
    await waitFor(() => operator.podNames().length === 3 && (operator.status()?.readyReplicas ?? 0) === 3, { timeoutMs: 20_000, what: 'the third reflector Ready' });
    await operator.restartOperator();
    await waitFor(async () => operator.podNames().length === 3 && (await counts()) === '1,1,2', { timeoutMs: 40_000, what: `clients spread 1/1/2 (${operator.lastError})` });
    cluster.editSpec(MESH_KEY, (spec) => (spec.replicas = 2));
    await waitFor(async () => operator.podNames().length === 2 && kubelet.processes.size === 2 && (await counts()) === '2,2', { timeoutMs: 40_000, what: `two reflectors, 2/2 (${operator.lastError})` });

    const n = await traffic.stop();
    await delivered(clients, 0, n);
    expect(clients.map((c) => c.client.stats().failovers)).toEqual([0, 0, 0, 0]);
    expect(lossReport(clients, n)).toEqual([]);
  });

  it('a reflector that does not answer the operator once during the scale-down still hands its clients over', async () => {
    cluster.editSpec(MESH_KEY, (spec) => (spec.replicas = 3));
    await waitFor(async () => operator.podNames().length === 3 && (await counts()) === '1,1,2', { timeoutMs: 40_000, what: `clients spread 1/1/2 (${operator.lastError})` });
    for (const c of clients) c.received.clear();
    const before = clients.map((c) => c.client.stats().failovers);
    const traffic = steadyTraffic(clients, 10);
    await flowing(clients);
    // The busiest reflector misses the pass that sees the scale-down (a status call timed out).
    const busiest = operator.podNames()[(await operator.clientCounts()).indexOf(2)]!;
    operator.unanswered.set(operator.reflectorOf(busiest), 1);
    cluster.editSpec(MESH_KEY, (spec) => (spec.replicas = 2));
    await waitFor(async () => operator.podNames().length === 2 && kubelet.processes.size === 2 && (await counts()) === '2,2', { timeoutMs: 40_000, what: `two reflectors, 2/2 (${operator.lastError})` });

    const n = await traffic.stop();
    await delivered(clients, 0, n);
    expect(clients.map((c) => c.client.stats().failovers)).toEqual(before);
    expect(lossReport(clients, n)).toEqual([]);
  });
});
