// Scenario: a reflector lost while real clients stream through a mesh of three. First its pod is
// deleted (`kubectl delete pod`): the kubelet sends SIGTERM, the reflector hands its clients to its
// peers (migrations, not failovers: nothing is lost), the operator creates a replacement. Then, on fresh clients, the reflector's process is killed
// with SIGKILL through the simulated container runtime: its clients hear nothing more and fail over by
// themselves, the kubelet restarts the container (or the pod fails and the operator replaces it). Each
// time: the clients that were on it end up on other reflectors, every client still hears every other,
// the gap is measured and printed, and the mesh heals — ready replicas back, every reflector peered
// with every other, the clients spread over all of them again.
import { describe, expect, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { existingClusterKubeconfig, waitFor } from './harness/cluster.js';
import { applyMesh, exampleMesh, meshBalanced, meshPods, type ClientReport, type RunningClient } from './harness/mesh.js';
import { describeMoves, expectEveryoneHearsEveryone, longestGapMs, sourceOf } from './harness/reports.js';
import { meshScenario } from './harness/scenario.js';

const ports = { data: 30600, control: 30610 };
const name = 'failover';
const replicas = 3;
const clientCount = 6;

describe('a reflector lost under live traffic', () => {
  const scenario = meshScenario({ nodes: 4 });
  const balanced = () => meshBalanced(scenario.cluster, { name, controlPort: ports.control, replicas, clients: clientCount });

  /** Six clients joined round-robin through the reflectors, one after another, their data sockets from `firstAddress` on. */
  async function startClients(pods: V1Pod[], prefix: string, firstAddress: number): Promise<RunningClient[]> {
    const addresses = pods.map((p) => p.status?.hostIP ?? '');
    return scenario.startClientsInTurn(
      Array.from({ length: clientCount }, (_, i) => ({
        join: `${addresses[i % addresses.length]}:${ports.control}`,
        bind: `127.0.3.${firstAddress + i}`,
        duration: '10m',
        name: `${prefix}${i}`,
      })),
      { addresses, controlPort: ports.control },
    );
  }

  /** Lets the clients stream a little longer after the mesh healed, then ends them and reads their reports. */
  async function finish(clients: RunningClient[]): Promise<ClientReport[]> {
    await new Promise((r) => setTimeout(r, 3_000));
    expect(clients.filter((c) => c.exited)).toEqual([]);
    for (const c of clients) c.stop();
    return Promise.all(clients.map((c) => c.report));
  }

  it('replaces a deleted reflector pod; its clients move to the others without loss and everyone keeps hearing everyone', async () => {
    const mesh = exampleMesh('mesh.yaml', { ports, replicas });
    mesh.metadata.name = name;
    await applyMesh(scenario.cluster, mesh);
    const before = await meshBalanced(scenario.cluster, { name, controlPort: ports.control, replicas, clients: 0 });
    const clients = await startClients(before.pods, 'd', 80);
    const { pods, clients: served } = await balanced();

    const victim = pods.find((p) => (served.get(p.metadata?.name ?? '')?.length ?? 0) > 0)!;
    const victimName = victim.metadata?.name ?? '';
    const moved = served.get(victimName) ?? [];
    await scenario.cluster.kubectl(['delete', 'pod', victimName, '--wait=false']);

    const healed = await balanced();
    expect(healed.pods.map((p) => p.metadata?.uid)).not.toContain(victim.metadata?.uid);
    const reports = await finish(clients);
    console.log(`[failover] kubectl delete pod ${victimName} (served ${moved.join(', ')}):\n${describeMoves(reports)}`);

    for (const r of reports) {
      if (moved.includes(r.name ?? '')) {
        // On SIGTERM the reflector drains: its clients are migrated to its peers, make before break.
        expect(r.migrations.some((e) => e.from === victimName), `${r.name} migrated off ${victimName}`).toBe(true);
      }
      expect(r.reflector).not.toBe(victimName);
      // A graceful deletion loses nothing: the reflector stays its peers' peer while it hands over.
      expect(r.failovers, `${r.name} failed over`).toEqual([]);
      expect(r.received.lost, `${r.name} lost datagrams`).toBe(0);
    }
    expectEveryoneHearsEveryone(reports);
    console.log(
      `[failover] delete pod: longest migration gap ${longestGapMs(reports, 'migration') ?? '-'} ms, ` +
        `longest failover gap ${longestGapMs(reports, 'failover') ?? '-'} ms, lost ${reports.map((r) => r.received.lost).join('/')}`,
    );
  });

  // Killing a process needs the simulator's container runtime, which an existing cluster has not.
  it.skipIf(existingClusterKubeconfig() !== undefined)(
    'recovers from a SIGKILLed reflector process; its clients fail over and everyone keeps hearing everyone',
    async () => {
      const { pods } = await meshBalanced(scenario.cluster, { name, controlPort: ports.control, replicas, clients: 0 });
      const clients = await startClients(pods, 'k', 88);
      const { pods: serving, clients: served } = await balanced();

      const victim = serving.find((p) => (served.get(p.metadata?.name ?? '')?.length ?? 0) > 0)!;
      const victimName = victim.metadata?.name ?? '';
      const failed = served.get(victimName) ?? [];
      const exit = await scenario.cluster.simulator?.killPod('default', victimName);
      expect(exit?.signal).toBe('SIGKILL');

      // The container dies: the kubelet restarts it in the same pod (restartPolicy Always), or the pod
      // fails and the operator replaces it. Either way the mesh is whole again.
      const restarted = await waitFor('the killed reflector restarted or replaced', async () => {
        const p = (await meshPods(scenario.cluster, name)).find((x) => x.metadata?.uid === victim.metadata?.uid);
        const restarts = p?.status?.containerStatuses?.[0]?.restartCount ?? 0;
        return restarts >= 1 ? `restarted in place (restartCount ${restarts})` : p === undefined || p.metadata?.deletionTimestamp ? 'replaced' : undefined;
      });
      const healed = await balanced();
      const reports = await finish(clients);
      console.log(`[failover] SIGKILL of ${victimName} (served ${failed.join(', ')}), ${restarted}:\n${describeMoves(reports)}`);

      for (const r of reports) {
        if (failed.includes(r.name ?? '')) {
          // Nobody told them: they noticed the silence and moved to another reflector by themselves.
          expect(r.failovers.some((e) => e.from === victimName), `${r.name} failed over from ${victimName}`).toBe(true);
          expect(r.failovers.every((e) => e.gapMs !== null)).toBe(true);
        } else {
          expect(r.failovers, `${r.name} was not on the killed reflector`).toEqual([]);
        }
      }
      expectEveryoneHearsEveryone(reports);
      // The clients on the reflectors that lived lose nothing from each other: one reflector's death
      // costs only the streams that went through it, for the length of the failover.
      const stayed = reports.filter((r) => !failed.includes(r.name ?? ''));
      for (const receiver of stayed) for (const sender of stayed) if (sender !== receiver) expect(sourceOf(receiver, sender)?.lost).toBe(0);
      expect(healed.pods).toHaveLength(replicas);
      console.log(
        `[failover] SIGKILL: longest failover gap ${longestGapMs(reports, 'failover') ?? '-'} ms, ` +
          `lost ${reports.map((r) => r.received.lost).join('/')}, dropped while failing over ${reports.map((r) => r.sender.droppedDuringFailover).join('/')}`,
      );
    },
  );
});
