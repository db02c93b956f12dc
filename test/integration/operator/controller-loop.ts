// The operator's controller run against real reflector processes, with the Kubernetes API and the
// kubelet played in memory (InMemoryCluster): the set-up the operator integration tests share. A pass
// every 300 ms stands in for the work queue; informer caches are refreshed before each pass as a watch
// would refresh them.
import type { V1Pod } from '@kubernetes/client-node';
import type { ReflectorMesh } from '../../../operator/api/v1alpha1/index.js';
import { MeshController } from '../../../operator/controller/controller.js';
import { EventRecorder } from '../../../operator/controller/events.js';
import { httpReflectorAdmin } from '../../../operator/controller/reflector-admin.js';
import { Informer, type ListWatchSource } from '../../../operator/informers/informer.js';
import { sleep } from '../../support/reflector-process.js';
import { MESH_KEY_SECRET_KEY } from '../../../operator/controller/mesh-key-secret.js';
import { parseMeshKeyBase64 } from '../../../protocol/security/mesh-key.js';
import { mintClientTokenWithMeshKey } from '../../../protocol/security/client-token.js';
import { InMemoryCluster } from './in-memory-cluster.js';

/** The one mesh every test drives: media/conf. */
export const MESH_KEY = 'media/conf';
const PASS_INTERVAL_MS = 300;

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

function staticSource<T>(items: () => T[]): ListWatchSource<T> {
  return { name: 'memory', list: async () => Promise.resolve({ items: items(), resourceVersion: '1' }), watch: async () => Promise.resolve({ abort() {} }) };
}

export interface ControllerLoopOptions {
  nodes: string[];
  controlPort: number;
  token: string;
}

export class ControllerLoop {
  readonly cluster: InMemoryCluster;
  readonly meshes: Informer<ReflectorMesh>;
  readonly pods: Informer<V1Pod>;
  /** The last reconcile error, '' after a clean pass; tests put it in their wait messages. */
  lastError = '';
  private controller: MeshController | undefined;
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(private readonly options: ControllerLoopOptions) {
    this.cluster = new InMemoryCluster(options.nodes);
    this.meshes = new Informer(staticSource(() => [...this.cluster.meshes.values()]), { resyncMs: 0, silenceMs: 60_000 });
    this.pods = new Informer(staticSource(() => [...this.cluster.pods.values()]), { resyncMs: 0, silenceMs: 60_000 });
  }

  /** Creates the admin Secret and the mesh media/conf with `spec`, and starts the controller's loop. */
  start(spec: ReflectorMesh['spec']): void {
    this.cluster.secrets.set('media/rmesh-admin', { token: this.options.token });
    // Opted in to be used by meshes (operator/controller/secret-use.ts).
    this.cluster.secretMeta.set('media/rmesh-admin', { labels: { 'rmesh.io/admin-token': 'true' }, ownerUids: [] });
    this.cluster.addMesh({
      apiVersion: 'rmesh.io/v1alpha1',
      kind: 'ReflectorMesh',
      metadata: { name: 'conf', namespace: 'media', uid: 'uid-conf', generation: 1, resourceVersion: '1' },
      spec: { ...spec, auth: { adminTokenSecretRef: { name: 'rmesh-admin', key: 'token' } } },
    });
    this.controller = new MeshController({
      meshes: this.meshes,
      pods: this.pods,
      kube: this.cluster,
      admin: httpReflectorAdmin({ timeoutMs: 2000, migrateTimeoutMs: 10_000 }),
      recorder: new EventRecorder(this.cluster, 'integration'),
      log: quiet,
      defaultImage: 'rmesh:test',
      workers: 1,
      statusRefreshMs: 1000,
    });
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.pass();
        await sleep(PASS_INTERVAL_MS);
      }
    })();
  }

  /** Stops the loop (after the pass under way); the cluster's reflectors keep running until stop(). */
  async stopLoop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** One pass with caches as fresh as the watch would make them. */
  async pass(): Promise<void> {
    const cluster = this.cluster;
    await cluster.kubelet();
    for (const p of cluster.pods.values()) this.pods.upsert(structuredClone(p));
    for (const known of this.pods.list()) if (!cluster.pods.has(known.metadata!.name!)) this.pods.forget(`media/${known.metadata!.name}`);
    this.meshes.upsert(structuredClone(cluster.mesh(MESH_KEY)));
    try {
      await this.controller!.reconcile(MESH_KEY);
      this.lastError = '';
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
    }
  }

  status(): ReflectorMesh['status'] {
    return this.cluster.mesh(MESH_KEY).status;
  }

  /** Names of the mesh's pods that are not being deleted. */
  podNames(): string[] {
    return [...this.cluster.pods.values()].filter((p) => !p.metadata!.deletionTimestamp).map((p) => p.metadata!.name!);
  }

  /** The reflector address of a pod (its node's, on the host network). */
  reflectorOf(name: string): string {
    return this.cluster.pods.get(name)!.status!.hostIP!;
  }

  async adminGet<T>(address: string, path: string): Promise<T> {
    const r = await fetch(`http://${address}:${this.options.controlPort}${path}`, {
      headers: { authorization: `Bearer ${this.options.token}` },
      signal: AbortSignal.timeout(2000),
    });
    return (await r.json()) as T;
  }

  /** Active clients per live pod, in podNames() order. */
  async clientCounts(): Promise<number[]> {
    return Promise.all(
      this.podNames().map(async (n) => (await this.adminGet<{ clients: { state: string }[] }>(this.reflectorOf(n), '/v1/status')).clients.filter((c) => c.state === 'active').length),
    );
  }

  private tokensMinted = 0;

  /** A client token for the mesh, minted with the key in the Secret the operator made (as its user would), with a subject of its own. */
  clientToken(): string {
    const [namespace, name] = MESH_KEY.split('/') as [string, string];
    const text = this.cluster.secrets.get(`${namespace}/${name}-mesh-key`)?.[MESH_KEY_SECRET_KEY];
    if (text === undefined) throw new Error(`the operator has not created the Secret ${namespace}/${name}-mesh-key yet`);
    // A token per client, as docs/security.md advises: the reflectors cap sessions per token subject.
    return mintClientTokenWithMeshKey(parseMeshKeyBase64(text, 'the mesh key Secret'), { ttlSeconds: 86_400, subject: `client-${++this.tokensMinted}` });
  }
}
