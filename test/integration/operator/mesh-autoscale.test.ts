// Model mode against real reflectors: the operator sizes the mesh from the clients the reflectors
// report, with the capacity model: clients join until one reflector no longer fits and the operator
// scales up by itself; they leave and it scales down after the scale-down delay, draining first.
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReflectorMesh } from '../../../operator/api/v1alpha1/index.js';
import { MeshController } from '../../../operator/controller/controller.js';
import { EventRecorder } from '../../../operator/controller/events.js';
import { httpReflectorAdmin } from '../../../operator/controller/reflector-admin.js';
import { Informer, type ListWatchSource } from '../../../operator/informers/informer.js';
import { closeClients, joinClients, type TestClient } from '../../support/mesh-traffic.js';
import { sleep, waitFor } from '../../support/reflector-process.js';
import { InMemoryCluster } from './in-memory-cluster.js';

const NODES = ['127.0.2.21', '127.0.2.22', '127.0.2.23'];
const DATA_PORT = 25204;
const CONTROL_PORT = 25300;
const KEY = 'media/conf';
const TOKEN = 'operator-autoscale-token';

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

function staticSource<T>(items: () => T[]): ListWatchSource<T> {
  return { name: 'memory', list: async () => Promise.resolve({ items: items(), resourceVersion: '1' }), watch: async () => Promise.resolve({ abort() {} }) };
}

describe('Model mode sizes the mesh from the reported clients', () => {
  const cluster = new InMemoryCluster(NODES);
  let controller: MeshController;
  let meshes: Informer<ReflectorMesh>;
  let pods: Informer<V1Pod>;
  let clients: TestClient[] = [];
  let running = true;
  let loop: Promise<void> = Promise.resolve();
  let lastError = '';

  /** One pass with caches as fresh as the watch would make them. */
  async function pass(): Promise<void> {
    await cluster.kubelet();
    for (const p of cluster.pods.values()) pods.upsert(structuredClone(p));
    for (const known of pods.list()) if (!cluster.pods.has(known.metadata!.name!)) pods.forget(`media/${known.metadata!.name}`);
    meshes.upsert(structuredClone(cluster.mesh(KEY)));
    try {
      await controller.reconcile(KEY);
      lastError = '';
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
  }

  const status = () => cluster.mesh(KEY).status;
  const podNames = () => [...cluster.pods.values()].filter((p) => !p.metadata!.deletionTimestamp).map((p) => p.metadata!.name!);
  const reflectorOf = (name: string) => cluster.pods.get(name)!.status!.hostIP!;
  async function adminGet<T>(address: string, path: string): Promise<T> {
    const r = await fetch(`http://${address}:${CONTROL_PORT}${path}`, { headers: { authorization: `Bearer ${TOKEN}` }, signal: AbortSignal.timeout(2000) });
    return (await r.json()) as T;
  }
  const clientCounts = async () =>
    Promise.all(podNames().map(async (n) => (await adminGet<{ clients: { state: string }[] }>(reflectorOf(n), '/v1/status')).clients.filter((c) => c.state === 'active').length));

  beforeAll(() => {
    cluster.secrets.set('media/rmesh-admin', { token: TOKEN });
    cluster.addMesh({
      apiVersion: 'rmesh.io/v1alpha1',
      kind: 'ReflectorMesh',
      metadata: { name: 'conf', namespace: 'media', uid: 'uid-conf', generation: 1, resourceVersion: '1' },
      spec: {
        // 1 Mbit/s streams and a 10 Mbit/s budget: one reflector serves 3 clients (3·2 = 6 streams),
        // 4 need two (nr 2: 2·(2+4−2) = 8 streams); 4 is also the most any size up to 3 serves.
        scaling: { mode: 'Model', minReplicas: 1, maxReplicas: 3, scaleDownDelaySeconds: 2 },
        capacity: { outboundMbps: 10, headroom: 0 },
        stream: { rtp: false, bitrateMbps: 1 },
        ports: { data: DATA_PORT, control: CONTROL_PORT },
        timeouts: { keepaliveIntervalMs: 200, peerTimeoutMs: 1500, clientIdleTimeoutMs: 3000, drainTimeoutSeconds: 20 },
        auth: { adminTokenSecretRef: { name: 'rmesh-admin', key: 'token' } },
        reflector: { dataPlane: 'js' },
      } as ReflectorMesh['spec'],
    });
    meshes = new Informer(staticSource(() => [...cluster.meshes.values()]), { resyncMs: 0, silenceMs: 60_000 });
    pods = new Informer(staticSource(() => [...cluster.pods.values()]), { resyncMs: 0, silenceMs: 60_000 });
    controller = new MeshController({
      meshes,
      pods,
      kube: cluster,
      admin: httpReflectorAdmin({ timeoutMs: 2000, migrateTimeoutMs: 10_000 }),
      recorder: new EventRecorder(cluster, 'integration'),
      log: quiet,
      defaultImage: 'rmesh:test',
      workers: 1,
      statusRefreshMs: 1000,
    });
    // The controller's loop, as the work queue would run it: a pass every 300 ms.
    loop = (async () => {
      while (running) {
        await pass();
        await sleep(300);
      }
    })();
  });

  afterAll(async () => {
    running = false;
    await loop;
    closeClients(clients);
    await cluster.stop();
  });

  it('starts at the least size, and tells the reflector the most clients the mesh may admit', async () => {
    await waitFor(() => status()?.conditions?.find((c) => c.type === 'Ready')?.status === 'True', { timeoutMs: 30_000, what: `Ready (${lastError})` });
    expect(podNames()).toHaveLength(1);
    expect(status()).toMatchObject({ desiredReplicas: 1, plan: { reflectors: 1, maxClients: 3, fits: true } });
    const env = cluster.pods.get(podNames()[0]!)!.spec!.containers[0]!.env!;
    expect(env.find((e) => e.name === 'RMESH_MAX_CLIENTS')?.value).toBe('4');
  });

  it('scales up by itself when the clients no longer fit, and spreads them', async () => {
    const first = reflectorOf(podNames()[0]!);
    clients = await joinClients(3, (i) => ({ join: `${first}:${CONTROL_PORT}`, bindAddress: `127.0.2.${140 + i}` }));
    await waitFor(() => status()?.clients === 3, { timeoutMs: 10_000, what: 'three clients reported' });
    expect(podNames()).toHaveLength(1);
    clients.push(...(await joinClients(1, () => ({ join: `${first}:${CONTROL_PORT}`, bindAddress: '127.0.2.143' }))));
    await waitFor(async () => podNames().length === 2 && (await clientCounts().catch(() => [])).sort().join() === '2,2', {
      timeoutMs: 30_000,
      what: `two reflectors serving 2 and 2 (${lastError})`,
    });
    expect(cluster.events.map((e) => e.reason)).toContain('ScalingUp');
    await waitFor(() => status()?.plan?.reflectors === 2 && status()?.plan?.peakOutboundStreams === 8, { timeoutMs: 10_000, what: 'the plan for 2' });
    // A fifth client fits no size within maxReplicas: admission control refuses it.
    await expect(joinClients(1, () => ({ join: `${first}:${CONTROL_PORT}`, bindAddress: '127.0.2.144' }))).rejects.toThrow(/full/i);
  });

  it('scales down after the delay once fewer reflectors suffice, draining first', async () => {
    const leaving = clients.splice(0, 2);
    for (const c of leaving) await c.client.leave();
    await waitFor(() => status()?.clients === 2, { timeoutMs: 10_000, what: 'two clients reported' });
    await waitFor(() => podNames().length === 1 && cluster.processes.size === 1, { timeoutMs: 30_000, what: `one reflector again (${lastError})` });
    expect(cluster.events.map((e) => e.reason)).toContain('ScalingDown');
    await waitFor(async () => (await clientCounts().catch(() => [])).join() === '2', { timeoutMs: 10_000, what: 'both clients on the last reflector' });
    expect(status()?.scaleDownSince).toBeUndefined();
  });
});
