// Scenario: autoscaling by the capacity model. A Model-mode mesh with a small budget (30 Mbit/s per
// reflector, 1 Mbit/s streams: one reflector serves at most 6 clients in a full mesh, two serve 7)
// starts at its minimum of one reflector; seven clients join and the operator scales it up by itself;
// five leave and, after the scale-down delay, it scales back to one, draining the reflector that goes
// so the clients that stay keep their streams without failing over or losing a datagram.
import { describe, expect, it } from 'vitest';
import { waitFor } from './harness/cluster.js';
import { applyMesh, meshConverged, readMesh } from './harness/mesh.js';
import { describeMoves } from './harness/reports.js';
import { meshScenario } from './harness/scenario.js';

const ports = { data: 30500, control: 30510 };
const name = 'auto';

describe('autoscaling by the model', () => {
  const scenario = meshScenario({ nodes: 4 });

  it('scales up as clients join and down after its delay when they leave', async () => {
    const { cluster } = scenario;
    await applyMesh(cluster, {
      apiVersion: 'rmesh.io/v1alpha1',
      kind: 'ReflectorMesh',
      metadata: { name },
      spec: {
        stream: { bitrateMbps: 1 },
        capacity: { outboundMbps: 30, headroom: 0 },
        scaling: { mode: 'Model', minReplicas: 1, maxReplicas: 3, scaleDownDelaySeconds: 10 },
        ports,
      },
    });
    const [first] = await meshConverged(cluster, { name, controlPort: ports.control, replicas: 1 });
    const join = `${first?.status?.hostIP}:${ports.control}`;

    // Streams lighter than the declared 1 Mbit/s, so the model plans with the declared rate.
    const clients = Array.from({ length: 7 }, (_, i) =>
      scenario.startClient({ join, bind: `127.0.3.${70 + i}`, duration: '10m', bitrate: '800kbps', name: `a${i}` }),
    );
    const grown = await waitFor(
      'the operator sizing the mesh up for seven clients',
      async () => {
        const mesh = await readMesh(cluster, name);
        const desired = mesh.status?.desiredReplicas ?? 0;
        return mesh.status?.clients === 7 && desired >= 2 ? desired : undefined;
      },
      { timeoutMs: 120_000 },
    );
    await meshConverged(cluster, { name, controlPort: ports.control, replicas: grown });

    const leaving = clients.slice(2);
    for (const c of leaving) c.stop();
    await Promise.all(leaving.map((c) => c.report));
    await waitFor('the mesh counting two clients', async () => (await readMesh(cluster, name)).status?.clients === 2, { timeoutMs: 60_000 });
    await meshConverged(cluster, { name, controlPort: ports.control, replicas: 1 }, 180_000);

    const staying = clients.slice(0, 2);
    expect(staying.filter((c) => c.exited)).toEqual([]);
    for (const c of staying) c.stop();
    const reports = await Promise.all(staying.map((c) => c.report));
    console.log(`[autoscale] the two staying clients:\n${describeMoves(reports)}`);
    const [a, b] = reports;
    // Through the scale-up and the drain on scale-down the two kept receiving each other, neither had
    // to fail over, and neither lost a datagram: the drain migrates make-before-break and the old
    // reflector keeps delivering for a moment after 'moved', so nothing queued behind the hand-over is lost.
    for (const [receiver, sender] of [[a, b], [b, a]] as const) {
      expect(receiver?.received.sources.map((s) => s.ssrc)).toContain(sender?.sender.ssrc);
      expect(receiver?.failovers).toEqual([]);
      expect(receiver?.received.lost).toBe(0);
    }
  });
});
