// The operator's controller run against real reflector processes, with the Kubernetes API and the
// kubelet played in memory (test/support/fake-kube.ts, fake-kubelet.ts): the set-up the operator
// integration tests share (start() with the parts of the spec a test is about, stop()). A pass
// every 300 ms stands in for the work queue; informer caches are refreshed before each pass as a watch
// would refresh them.
import { randomBytes } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll } from 'vitest';
import type { ReflectorMesh } from '../../../operator/api/v1alpha1/index.js';
import { MeshController } from '../../../operator/controller/controller.js';
import { EventRecorder } from '../../../operator/controller/events.js';
import { httpReflectorAdmin, type ReflectorAdmin } from '../../../operator/controller/reflector-admin.js';
import { Informer, type ListWatchSource } from '../../../operator/informers/informer.js';
import { sleep, waitFor } from '../../support/wait.js';
import { MESH_KEY_SECRET_KEY } from '../../../operator/controller/mesh-key-secret.js';
import { parseMeshKeyBase64 } from '../../../protocol/security/mesh-key.js';
import { mintClientTokenWithMeshKey } from '../../../protocol/security/client-token.js';
import { FakeKube } from '../../support/fake-kube.js';
import { FakeKubelet } from '../../support/fake-kubelet.js';
import { freePorts } from '../../support/ports.js';

/** The one mesh every test drives: media/conf. */
export const MESH_KEY = 'media/conf';
const PASS_INTERVAL_MS = 300;

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

/** A list-only source over the fake API's maps (the loop refreshes the caches as a watch would). */
export function staticSource<T>(items: () => T[]): ListWatchSource<T> {
  return { name: 'memory', list: async () => Promise.resolve({ items: items(), resourceVersion: '1' }), watch: async () => Promise.resolve({ abort() {} }) };
}

export interface ControllerLoopOptions {
  nodes: string[];
  /** The admin token the reflectors get (from the mesh's admin Secret); a random one by default. */
  token?: string;
}

type MeshSpec = ReflectorMesh['spec'];
/** The parts of a mesh's spec a test is about (the API server's defaults fill in the rest). */
export type TestMeshSpec = { [K in keyof MeshSpec]?: Partial<MeshSpec[K]> };

/** Fast timings every test mesh gets unless its spec says otherwise. */
const TEST_TIMEOUTS = { keepaliveIntervalMs: 200, peerTimeoutMs: 1500, clientIdleTimeoutMs: 3000, drainTimeoutSeconds: 20 };

export class ControllerLoop {
  readonly cluster = new FakeKube();
  readonly kubelet: FakeKubelet;
  readonly meshes: Informer<ReflectorMesh>;
  readonly pods: Informer<V1Pod>;
  /** The last reconcile error, '' after a clean pass; tests put it in their wait messages. */
  lastError = '';
  /** The mesh's ports, asked of the OS by start(). */
  dataPort = 0;
  controlPort = 0;
  /**
   * Reflector addresses whose next status call(s) fail as a timeout would (the count per address): a
   * reflector the operator could not reach in a pass, as a loaded cluster sees now and then.
   */
  readonly unanswered = new Map<string, number>();
  private readonly http = httpReflectorAdmin({ timeoutMs: 2000, migrateTimeoutMs: 10_000 });
  private readonly admin: ReflectorAdmin = {
    ...this.http,
    status: async (target) => {
      const left = this.unanswered.get(target.address) ?? 0;
      if (left <= 0) return this.http.status(target);
      this.unanswered.set(target.address, left - 1);
      throw new Error(`GET http://${target.address}/v1/status: timed out (the test's fault)`);
    },
  };
  private controller: MeshController | undefined;
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  /** The admin token of the mesh's reflectors. */
  readonly token: string;

  constructor(private readonly options: ControllerLoopOptions) {
    this.token = options.token ?? `operator-test-${randomBytes(8).toString('hex')}`;
    this.kubelet = new FakeKubelet(this.cluster, options.nodes, 'process');
    this.meshes = new Informer(staticSource(() => [...this.cluster.meshes.values()]), { resyncMs: 0, silenceMs: 60_000 });
    this.pods = new Informer(staticSource(() => [...this.cluster.pods.values()]), { resyncMs: 0, silenceMs: 60_000 });
  }

  /**
   * Creates the admin Secret and the mesh media/conf with `spec` (on the loop's ports, unreliable
   * datagrams, fast timeouts unless it says otherwise), and starts the controller's loop.
   */
  async start(partial: TestMeshSpec): Promise<void> {
    const [dataPort, controlPort] = await freePorts(2);
    this.dataPort = dataPort!;
    this.controlPort = controlPort!;
    const spec = {
      stream: { rtp: false },
      ports: { data: this.dataPort, control: this.controlPort },
      timeouts: TEST_TIMEOUTS,
      ...partial,
    } as ReflectorMesh['spec'];
    this.cluster.secrets.set('media/rmesh-admin', { token: this.token });
    // Opted in to be used by meshes (operator/controller/secret-use.ts).
    this.cluster.secretMeta.set('media/rmesh-admin', { labels: { 'rmesh.io/admin-token': 'true' }, ownerUids: [] });
    this.cluster.addMesh({
      apiVersion: 'rmesh.io/v1alpha1',
      kind: 'ReflectorMesh',
      metadata: { name: 'conf', namespace: 'media', uid: 'uid-conf', generation: 1, resourceVersion: '1' },
      spec: { ...spec, auth: { adminTokenSecretRef: { name: 'rmesh-admin', key: 'token' } } },
    });
    this.startController();
  }

  /**
   * The operator replaced (its pod deleted, a new one from its Deployment): the pass under way ends, a
   * new controller with an empty memory (drains seen, removals) takes over.
   */
  async restartOperator(): Promise<void> {
    await this.stopLoop();
    this.startController();
  }

  private startController(): void {
    this.controller = new MeshController({
      meshes: this.meshes,
      pods: this.pods,
      kube: this.cluster,
      admin: this.admin,
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

  /** Stops the loop and kills every reflector. */
  async stop(): Promise<void> {
    await this.stopLoop();
    await this.kubelet.stop();
  }

  /** One pass with caches as fresh as the watch would make them. */
  async pass(): Promise<void> {
    const cluster = this.cluster;
    await this.kubelet.sync();
    for (const p of cluster.pods.values()) this.pods.recordWrite(structuredClone(p));
    for (const known of this.pods.list()) if (!cluster.pods.has(known.metadata!.name!)) this.pods.recordDelete(`media/${known.metadata!.name}`);
    this.meshes.recordWrite(structuredClone(cluster.mesh(MESH_KEY)));
    try {
      await this.controller!.reconcile(MESH_KEY);
      this.lastError = '';
    } catch (err) {
      this.lastError = err instanceof Error ? err.message : String(err);
    }
  }

  /** Waits until the mesh reports Ready (30 s at most). */
  async waitReady(): Promise<void> {
    await waitFor(() => this.status()?.conditions?.find((c) => c.type === 'Ready')?.status === 'True', { timeoutMs: 30_000, what: `Ready (${this.lastError})` });
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
    const r = await fetch(`http://${address}:${this.controlPort}${path}`, {
      headers: { authorization: `Bearer ${this.token}` },
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

  /** A client token for the mesh (naming it: the operator sets --mesh-name), minted with the key in the Secret the operator made (as its user would), with a subject of its own. */
  clientToken(): string {
    const [namespace, name] = MESH_KEY.split('/') as [string, string];
    const text = this.cluster.secrets.get(`${namespace}/${name}-mesh-key`)?.[MESH_KEY_SECRET_KEY];
    if (text === undefined) throw new Error(`the operator has not created the Secret ${namespace}/${name}-mesh-key yet`);
    // A token per client, as docs/security.md advises: the reflectors cap sessions per token subject.
    return mintClientTokenWithMeshKey(parseMeshKeyBase64(text, 'the mesh key Secret'), { ttlSeconds: 86_400, mesh: name, subject: `client-${++this.tokensMinted}` });
  }
}

/**
 * A ControllerLoop for the tests of a describe block: started with `spec` before them, and after them
 * `beforeStop` (closing the test's clients) then stopped.
 */
export function controllerLoopFor(options: ControllerLoopOptions, spec: TestMeshSpec, beforeStop: () => void = () => {}): ControllerLoop {
  const operator = new ControllerLoop(options);
  beforeAll(async () => operator.start(spec));
  afterAll(async () => {
    beforeStop();
    await operator.stop();
  });
  return operator;
}
