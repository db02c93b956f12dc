// Model mode against real reflectors: the operator sizes the mesh from the clients the reflectors
// report, with the capacity model: clients join until one reflector no longer fits and the operator
// scales up by itself; they leave and it scales down after the scale-down delay, draining first.
import { describe, expect, it } from 'vitest';
import { controllerLoopFor } from './controller-loop.js';
import { closeClients, joinClients, type TestClient } from '../../support/mesh-traffic.js';
import { waitFor } from '../../support/wait.js';

const NODES = ['127.0.2.21', '127.0.2.22', '127.0.2.23'];

describe('Model mode sizes the mesh from the reported clients', () => {
  let clients: TestClient[] = [];
  const operator = controllerLoopFor(
    { nodes: NODES },
    {
      // 1 Mbit/s streams and a 10 Mbit/s budget: one reflector serves 3 clients (3·2 = 6 streams),
      // 4 need two (nr 2: 2·(2+4−2) = 8 streams); 4 is also the most any size up to 3 serves.
      scaling: { mode: 'Model', minReplicas: 1, maxReplicas: 3, scaleDownDelaySeconds: 2 },
      capacity: { outboundMbps: 10, headroom: 0 },
      stream: { rtp: false, bitrateMbps: 1 },
      reflector: { dataPlane: 'js' },
    },
    () => closeClients(clients),
  );
  const { cluster, kubelet } = operator;

  it('starts at the least size, and tells the reflector the most clients the mesh may admit', async () => {
    await operator.waitReady();
    expect(operator.podNames()).toHaveLength(1);
    expect(operator.status()).toMatchObject({ desiredReplicas: 1, plan: { reflectors: 1, maxClients: 3, fits: true } });
    const env = cluster.pods.get(operator.podNames()[0]!)!.spec!.containers[0]!.env!;
    expect(env.find((e) => e.name === 'RMESH_MAX_CLIENTS')?.value).toBe('4');
  });

  it('scales up by itself when the clients no longer fit, and spreads them', async () => {
    const first = operator.reflectorOf(operator.podNames()[0]!);
    clients = await joinClients(3, (i) => ({ token: operator.clientToken(), join: `${first}:${operator.controlPort}`, bindAddress: `127.0.2.${140 + i}` }));
    await waitFor(() => operator.status()?.clients === 3, { timeoutMs: 10_000, what: 'three clients reported' });
    expect(operator.podNames()).toHaveLength(1);
    clients.push(...(await joinClients(1, () => ({ token: operator.clientToken(), join: `${first}:${operator.controlPort}`, bindAddress: '127.0.2.143' }))));
    await waitFor(async () => operator.podNames().length === 2 && (await operator.clientCounts().catch(() => [])).sort().join() === '2,2', {
      timeoutMs: 30_000,
      what: `two reflectors serving 2 and 2 (${operator.lastError})`,
    });
    expect(cluster.events.map((e) => e.reason)).toContain('ScalingUp');
    await waitFor(() => operator.status()?.plan?.reflectors === 2 && operator.status()?.plan?.peakOutboundStreams === 8, { timeoutMs: 10_000, what: 'the plan for 2' });
    // A fifth client fits no size within maxReplicas: admission control refuses it.
    await expect(joinClients(1, () => ({ token: operator.clientToken(), join: `${first}:${operator.controlPort}`, bindAddress: '127.0.2.144' }))).rejects.toThrow(/full/i);
  });

  it('scales down after the delay once fewer reflectors suffice, draining first', async () => {
    const leaving = clients.splice(0, 2);
    for (const c of leaving) await c.client.leave();
    await waitFor(() => operator.status()?.clients === 2, { timeoutMs: 10_000, what: 'two clients reported' });
    await waitFor(() => operator.podNames().length === 1 && kubelet.processes.size === 1, { timeoutMs: 30_000, what: `one reflector again (${operator.lastError})` });
    expect(cluster.events.map((e) => e.reason)).toContain('ScalingDown');
    await waitFor(async () => (await operator.clientCounts().catch(() => [])).join() === '2', { timeoutMs: 10_000, what: 'both clients on the last reflector' });
    expect(operator.status()?.scaleDownSince).toBeUndefined();
  });
});
