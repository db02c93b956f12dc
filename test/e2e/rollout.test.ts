// Scenario: an image roll-out under live traffic. Six real clients stream through a mesh of three
// while the user changes spec.reflector.image. The operator rolls the reflectors one at a time: a
// surge reflector on the new template first, then the oldest old one drained (its clients migrated
// make-before-break, the old reflector still delivering for a moment after each move) and deleted, and
// so on. Nothing is dropped: no client fails over, no staying client loses a datagram, every pod ends
// on the new image, and the mesh never has more than one reflector down.
//
// The simulated kubelet runs the same `rmesh` (dist/cli/rmesh.js) whatever the image string says, so
// the roll-out exercises the operator's template change and the data plane's hand-over, not a new
// binary; that is what this scenario is about.
import { describe, expect, it } from 'vitest';
import { CoreV1Api } from '@kubernetes/client-node';
import { existingClusterKubeconfig, waitFor } from './harness/cluster.js';
import { applyMesh, exampleMesh, meshBalanced, meshPods, podReady, readMesh, type RunningClient } from './harness/mesh.js';
import { describeMoves, expectEveryoneHearsEveryone, longestGapMs } from './harness/reports.js';
import { meshScenario } from './harness/scenario.js';

const ports = { data: 30700, control: 30710 };
const name = 'rollout';
const replicas = 3;
const clientCount = 6;
const oldImage = 'registry.example/reflector-mesh:1.0.0';
const newImage = 'registry.example/reflector-mesh:1.1.0';

interface Sample {
  /** Reflectors that serve: pod Ready, not terminating, not draining. */
  serving: number;
  draining: string[];
  terminating: string[];
  /** Each pod as name:ready/not-ready, for the record of a low sample. */
  pods: string[];
}

describe('an image roll-out under live traffic', () => {
  const scenario = meshScenario({ nodes: 4 });

  // The new image must exist for a real cluster's kubelet; the simulator runs rmesh whatever it says.
  it.skipIf(existingClusterKubeconfig() !== undefined)(
    'replaces the reflectors one at a time, draining each, without a failover or a lost datagram',
    async () => {
      const { cluster } = scenario;
      const mesh = exampleMesh('mesh.yaml', { ports, replicas, reflector: { image: oldImage } });
      mesh.metadata.name = name;
      await applyMesh(cluster, mesh);
      const { pods: before } = await meshBalanced(cluster, { name, controlPort: ports.control, replicas, clients: 0 });
      expect(before.map((p) => p.spec?.containers[0]?.image)).toEqual(Array(replicas).fill(oldImage));

      const addresses = before.map((p) => p.status?.hostIP ?? '');
      const clients: RunningClient[] = await scenario.startClientsInTurn(
        Array.from({ length: clientCount }, (_, i) => ({
          join: `${addresses[i % addresses.length]}:${ports.control}`,
          bind: `127.0.3.${100 + i}`,
          duration: '10m',
          name: `r${i}`,
        })),
        { addresses, controlPort: ports.control },
      );
      await meshBalanced(cluster, { name, controlPort: ports.control, replicas, clients: clientCount });

      // Watch the mesh through the roll-out: pods from the API server, draining from the mesh's status.
      const samples: Sample[] = [];
      let watching = true;
      const watcher = (async () => {
        while (watching) {
          try {
            const [pods, status] = await Promise.all([meshPods(cluster, name), readMesh(cluster, name).then((m) => m.status)]);
            const draining = (status?.reflectors ?? []).filter((r) => r.draining).map((r) => r.name);
            const terminating = pods.filter((p) => p.metadata?.deletionTimestamp).map((p) => p.metadata?.name ?? '');
            const serving = pods.filter((p) => podReady(p) && !p.metadata?.deletionTimestamp && !draining.includes(p.metadata?.name ?? '')).length;
            const views = pods.map((p) => `${p.metadata?.name}:${podReady(p) ? 'ready' : 'not-ready'}${p.metadata?.deletionTimestamp ? ':terminating' : ''}`);
            samples.push({ serving, draining, terminating, pods: views });
          } catch {
            // The API server busy for a moment: the next sample will do.
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      })();

      await cluster.kubectl(['patch', `rmesh/${name}`, '--type=merge', '-p', JSON.stringify({ spec: { reflector: { image: newImage } } })]);
      const rolled = await waitFor(
        'every reflector on the new image, the mesh balanced',
        async () => {
          const result = await meshBalanced(cluster, { name, controlPort: ports.control, replicas, clients: clientCount });
          return result.pods.every((p) => p.spec?.containers[0]?.image === newImage) ? result : undefined;
        },
        { timeoutMs: 300_000, intervalMs: 1_000 },
      );
      watching = false;
      await watcher;

      // Every old reflector went, drained first: the operator's events name each one.
      expect(rolled.pods.map((p) => p.metadata?.uid).filter((uid) => before.some((b) => b.metadata?.uid === uid))).toEqual([]);
      const events = await cluster.kc.makeApiClient(CoreV1Api).listNamespacedEvent({
        namespace: 'default',
        fieldSelector: `involvedObject.kind=ReflectorMesh,involvedObject.name=${name}`,
      });
      const drained = events.items.filter((e) => e.reason === 'Draining').map((e) => e.message ?? '');
      for (const old of before) expect(drained.some((m) => m.includes(old.metadata?.name ?? '')), `${old.metadata?.name} drained`).toBe(true);

      // Never more than one reflector down: at every sample at least replicas - 1 served, and at most
      // one was draining or terminating.
      const minServing = Math.min(...samples.map((s) => s.serving));
      const maxGoing = Math.max(...samples.map((s) => new Set([...s.draining, ...s.terminating]).size));
      const low = samples.filter((s) => s.serving < replicas).map((s) => `${s.pods.join(' ')} draining [${s.draining.join(' ')}]`);
      console.log(
        `[rollout] ${samples.length} samples: fewest reflectors serving ${minServing} of ${replicas}, most going at once ${maxGoing}` +
          (low.length > 0 ? `; ${low.length} samples below ${replicas}, e.g.\n  ${low.slice(0, 3).join('\n  ')}` : ''),
      );
      expect(samples.length).toBeGreaterThan(0);
      expect(minServing).toBeGreaterThanOrEqual(replicas - 1);
      expect(maxGoing).toBeLessThanOrEqual(1);

      await new Promise((r) => setTimeout(r, 2_000));
      expect(clients.filter((c) => c.exited)).toEqual([]);
      for (const c of clients) c.stop();
      const reports = await Promise.all(clients.map((c) => c.report));
      console.log(`[rollout] ${oldImage} -> ${newImage}:\n${describeMoves(reports)}`);
      console.log(`[rollout] longest migration gap ${longestGapMs(reports, 'migration') ?? '-'} ms`);

      // Strict: every client was moved (each old reflector served some), none failed over, and none
      // lost a datagram — the make-before-break migration and the old reflector's delivery overlap
      // after 'moved' cover the hand-over.
      for (const r of reports) {
        expect(r.migrations.length, `${r.name} migrated`).toBeGreaterThanOrEqual(1);
        expect(r.failovers, `${r.name} failed over`).toEqual([]);
        expect(r.sender.droppedDuringFailover).toBe(0);
        expect(r.received.sources).toHaveLength(clientCount - 1);
        expect(r.received.lost, `${r.name} lost datagrams`).toBe(0);
      }
      expectEveryoneHearsEveryone(reports);
    },
  );
});
