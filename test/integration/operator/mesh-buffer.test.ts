// The capacity buffer (spec.scaling.buffer) against real reflectors: the operator keeps room for 2 more
// clients; clients join until the buffer is used and it grows 1 → 2 → 3; two leave and, after the
// scale-down window, it shrinks back to one reflector, draining first.
import { describe, expect, it } from 'vitest';
import { controllerLoopFor } from './controller-loop.js';
import { closeClients, joinClients, type TestClient } from '../../support/mesh-traffic.js';
import { waitFor } from '../../support/wait.js';

const NODES = ['127.0.2.31', '127.0.2.32', '127.0.2.33'];

describe('a buffer policy sizes the mesh for room to spare', () => {
  const clients: TestClient[] = [];
  const operator = controllerLoopFor(
    { nodes: NODES },
    {
      // 1 Mbit/s streams, 30 Mbit/s: 1, 2, 3 reflectors serve 6, 7, 9 clients.
      scaling: {
        mode: 'Model', minReplicas: 1, maxReplicas: 3,
        buffer: { clients: 2, scaleUpStabilizationSeconds: 0, scaleDownStabilizationSeconds: 3, scaleUpReflectors: 4, scaleDownReflectors: 1, ratePeriodSeconds: 1 },
      },
      capacity: { outboundMbps: 30, headroom: 0 },
      stream: { rtp: false, bitrateMbps: 1 },
      reflector: { dataPlane: 'js' },
    },
    () => closeClients(clients),
  );

  it('grows to 3 for six clients and shrinks back to 1 after the window when two leave', async () => {
    await operator.waitReady();
    const first = operator.reflectorOf(operator.podNames()[0]!);
    for (let i = 0; i < 6; i++) {
      const joined = await joinClients(1, () => ({ token: operator.clientToken(), join: `${first}:${operator.controlPort}`, bindAddress: `127.0.2.${150 + i}` }));
      clients.push(...joined);
      await waitFor(() => operator.status()?.clients === i + 1, { timeoutMs: 15_000, what: `${i + 1} clients reported (${operator.lastError})` });
      await waitFor(() => operator.podNames().length === [1, 1, 1, 1, 2, 3][i], { timeoutMs: 30_000, what: `size for ${i + 1} (${operator.lastError})` });
    }
    const leaving = clients.splice(4, 2);
    for (const c of leaving) await c.client.leave();
    await waitFor(() => operator.status()?.clients === 4, { timeoutMs: 10_000, what: 'four clients reported' });
    await waitFor(() => operator.podNames().length === 1, {
      timeoutMs: 60_000,
      what: `one reflector again (${operator.lastError}; ${JSON.stringify(operator.status())})`,
    });
    expect(operator.cluster.events.map((e) => e.reason)).toContain('Draining');
  });
});
