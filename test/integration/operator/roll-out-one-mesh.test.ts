// An operator upgrade changes the default reflector image, so every mesh that pins none needs a
// roll-out: the operator (its real controller, work queue and two workers) rolls them out one mesh at a
// time, the oldest first, against real `rmesh reflector` processes (the Kubernetes API and the kubelet
// played in memory, test/support/fake-kube.ts and fake-kubelet.ts). The other mesh says what it waits for.
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import type { ReflectorMesh } from '../../../operator/api/v1alpha1/index.js';
import { MeshController } from '../../../operator/controller/controller.js';
import { EventRecorder } from '../../../operator/controller/events.js';
import { LABEL_TEMPLATE_HASH } from '../../../operator/controller/labels.js';
import { httpReflectorAdmin } from '../../../operator/controller/reflector-admin.js';
import { Informer } from '../../../operator/informers/informer.js';
import { FakeKube } from '../../support/fake-kube.js';
import { FakeKubelet } from '../../support/fake-kubelet.js';
import { freePorts } from '../../support/ports.js';
import { sleep, waitFor } from '../../support/wait.js';
import { staticSource } from './controller-loop.js';

const NODES = ['127.0.2.41', '127.0.2.42', '127.0.2.43'];
const MESHES = ['media/a', 'media/b'];
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

describe('an operator upgrade rolls out one mesh at a time', () => {
  const cluster = new FakeKube();
  const kubelet = new FakeKubelet(cluster, NODES, 'process');
  const meshes = new Informer<ReflectorMesh>(staticSource(() => [...cluster.meshes.values()]), { resyncMs: 0, silenceMs: 60_000 });
  const pods = new Informer<V1Pod>(staticSource(() => [...cluster.pods.values()]), { resyncMs: 0, silenceMs: 60_000 });
  let controller: MeshController | undefined;
  let running = true;
  /** Every ~100 ms: which meshes have old and new reflectors running side by side (rolling out). */
  const rollingAtOnce: string[][] = [];
  let loop: Promise<void> = Promise.resolve();

  /** The operator as a Deployment runs it: the real queue and workers, here with `image` as its default reflector image. */
  function startOperator(image: string): MeshController {
    const c = new MeshController({
      meshes, pods, kube: cluster,
      admin: httpReflectorAdmin({ timeoutMs: 2000, migrateTimeoutMs: 10_000 }),
      recorder: new EventRecorder(cluster, 'integration'),
      log: quiet, defaultImage: image, workers: 2, statusRefreshMs: 1000,
    });
    c.start();
    for (const key of MESHES) c.queue.add(key);
    return c;
  }

  /** What a watch does: caches follow the API, and a change to a mesh's pods queues the mesh. */
  async function tick(): Promise<void> {
    await kubelet.sync();
    for (const p of cluster.pods.values()) pods.recordWrite(structuredClone(p));
    for (const known of pods.list()) if (!cluster.pods.has(known.metadata!.name!)) pods.recordDelete(`media/${known.metadata!.name}`);
    for (const m of cluster.meshes.values()) meshes.recordWrite(structuredClone(m));
    for (const key of MESHES) controller?.queue.add(key);
    rollingAtOnce.push(MESHES.filter((key) => {
      const hashes = new Set(live(key).map((p) => p.metadata!.labels![LABEL_TEMPLATE_HASH]));
      return hashes.size > 1;
    }));
  }

  const live = (key: string) => [...cluster.pods.values()].filter((p) => `media/${p.metadata!.labels!['rmesh.io/mesh']}` === key && !p.metadata!.deletionTimestamp);
  const status = (key: string) => cluster.mesh(key).status;
  const progressing = (key: string) => status(key)?.conditions?.find((c) => c.type === 'Progressing');
  /** Two live reflectors, all on one template, Ready. */
  const settled = (key: string) => live(key).length === 2 && new Set(live(key).map((p) => p.metadata!.labels![LABEL_TEMPLATE_HASH])).size === 1 && status(key)?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';

  afterAll(async () => {
    running = false;
    await loop;
    await controller?.stop();
    await kubelet.stop();
  });

  it('makes two meshes on the operator\'s default image (a is the older)', async () => {
    const ports = await freePorts(4);
    MESHES.forEach((key, i) => {
      const [namespace, name] = key.split('/') as [string, string];
      cluster.addMesh({
        apiVersion: 'rmesh.io/v1alpha1',
        kind: 'ReflectorMesh',
        metadata: { name, namespace, uid: `uid-${name}`, generation: 1, resourceVersion: '1', creationTimestamp: new Date(Date.now() - (10 - i) * 60_000) },
        spec: {
          replicas: 2,
          stream: { rtp: false },
          ports: { data: ports[2 * i]!, control: ports[2 * i + 1]! },
          reflector: { dataPlane: 'js' },
          timeouts: { keepaliveIntervalMs: 200, peerTimeoutMs: 1500, clientIdleTimeoutMs: 3000, drainTimeoutSeconds: 20 },
        } as ReflectorMesh['spec'],
      });
    });
    controller = startOperator('rmesh:1.0');
    loop = (async () => {
      while (running) {
        await tick();
        await sleep(100); // the watch's pace
      }
    })();
    await waitFor(() => MESHES.every(settled), { timeoutMs: 60_000, what: 'both meshes Ready on one template' });
  });

  it('after an upgrade to a new default image, rolls out a, then b, never both at once', async () => {
    const before = new Map(MESHES.map((key) => [key, live(key).map((p) => p.metadata!.labels![LABEL_TEMPLATE_HASH])[0]]));
    await controller!.stop();
    rollingAtOnce.length = 0;
    controller = startOperator('rmesh:1.1');
    await waitFor(() => progressing('media/b')?.reason === 'RollOutQueued', { timeoutMs: 30_000, what: `b waiting for its turn (${progressing('media/b')?.message})` });
    expect(progressing('media/b')?.message).toContain('waiting for mesh media/a');
    await waitFor(() => MESHES.every((key) => settled(key) && live(key)[0]!.metadata!.labels![LABEL_TEMPLATE_HASH] !== before.get(key)), { timeoutMs: 90_000, what: 'both meshes rolled out' });
    expect(rollingAtOnce.filter((r) => r.length > 1)).toEqual([]);
    // a first: once b had started, a was never seen rolling again.
    const firstB = rollingAtOnce.findIndex((r) => r.includes('media/b'));
    const lastA = rollingAtOnce.findLastIndex((r) => r.includes('media/a'));
    expect(firstB).toBeGreaterThan(lastA);
    expect(lastA).toBeGreaterThanOrEqual(0);
  });
});
