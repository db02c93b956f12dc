// The one fake of the Kubernetes API (operator/kube/kube-api.ts) for unit tests, the operator's
// integration tests and its benchmark: meshes, pods, Secrets, Events, PodDisruptionBudgets and nodes
// held in maps. It is only the API server's part; what a kubelet does (run pods, mount Secrets) is fake-kubelet.ts's, or
// runPods() below for unit tests that need no process at all.
/* eslint-disable @typescript-eslint/require-await -- an in-memory API implements the async interface synchronously */
import type { CoreV1Event, V1Node, V1Pod, V1PodDisruptionBudget, V1Secret } from '@kubernetes/client-node';
import type { ReflectorMesh, ReflectorMeshStatus } from '../../operator/api/v1alpha1/index.js';
import { nodeOf } from '../../operator/controller/node-pin.js';
import { statusMergePatch, type KubeApi, type SecretView } from '../../operator/kube/kube-api.js';

/** What a kubelet attached to the fake wants to hear of (fake-kubelet.ts). */
export interface KubeletHooks {
  /** A pod was deleted: resolves when its containers are gone (the pod then disappears), or undefined when none runs. */
  podDeleted(pod: V1Pod): Promise<void> | undefined;
  /** A Secret's data changed: mounted copies follow. */
  secretWritten(id: string, data: Record<string, string>): void;
}

export class FakeKube implements KubeApi {
  /** Pods by name (names are unique across namespaces: the suffix is a counter). */
  readonly pods = new Map<string, V1Pod>();
  readonly events: CoreV1Event[] = [];
  /** Secrets' data, decoded, by "namespace/name". */
  readonly secrets = new Map<string, Record<string, string>>();
  /** Labels and owner uids of each Secret (who may use it: operator/controller/secret-use.ts). */
  readonly secretMeta = new Map<string, { labels: Record<string, string>; ownerUids: string[] }>();
  /** Each Secret's resourceVersion, by "namespace/name". */
  private readonly secretVersions = new Map<string, string>();
  /** Every Secret createSecret made, as sent. */
  readonly createdSecrets: V1Secret[] = [];
  /** The cluster's nodes (the operator reads them through a node informer over this list). */
  nodes: V1Node[] = [];
  /** PodDisruptionBudgets by "namespace/name". */
  readonly budgets = new Map<string, V1PodDisruptionBudget>();
  statusWrites = 0;
  /** The next this many createPod calls fail (an admission webhook that says no). */
  failCreates = 0;
  kubelet: KubeletHooks | undefined;
  private seq = 0;
  private rv = 1;

  /** `meshes`: ReflectorMeshes by "namespace/name" (a test may hold the map and edit it). */
  constructor(readonly meshes = new Map<string, ReflectorMesh>()) {}

  addMesh(mesh: ReflectorMesh): void {
    this.meshes.set(`${mesh.metadata.namespace}/${mesh.metadata.name}`, mesh);
  }

  mesh(key: string): ReflectorMesh {
    const m = this.meshes.get(key);
    if (!m) throw new Error(`no ReflectorMesh ${key} in the fake cluster (addMesh it first)`);
    return m;
  }

  /** Edits a mesh's spec as `kubectl` would (a new generation). */
  editSpec(key: string, edit: (spec: ReflectorMesh['spec']) => void): void {
    const m = this.mesh(key);
    edit(m.spec);
    m.metadata.generation = (m.metadata.generation ?? 1) + 1;
    m.metadata.resourceVersion = this.nextResourceVersion();
  }

  /** A resource version newer than every one handed out (informers drop older ones). */
  nextResourceVersion(): string {
    return String(++this.rv);
  }

  async createPod(namespace: string, pod: V1Pod): Promise<V1Pod> {
    if (this.failCreates > 0) {
      this.failCreates--;
      throw new Error('admission webhook said no');
    }
    const name = `${pod.metadata!.generateName}${(++this.seq).toString(36).padStart(5, '0')}`;
    const created: V1Pod = structuredClone(pod);
    created.metadata = { ...created.metadata, name, namespace, uid: `uid-${name}`, resourceVersion: this.nextResourceVersion(), creationTimestamp: new Date() };
    created.status = { phase: 'Pending' };
    this.pods.set(name, created);
    return structuredClone(created);
  }

  async deletePod(_namespace: string, name: string, uid: string): Promise<V1Pod | undefined> {
    const pod = this.pods.get(name);
    if (!pod || pod.metadata!.uid !== uid) return undefined;
    const gone = this.kubelet?.podDeleted(pod);
    if (!gone) {
      this.pods.delete(name);
      return undefined;
    }
    // Terminating until its containers exit, as a real pod is.
    pod.metadata!.deletionTimestamp = new Date();
    pod.metadata!.resourceVersion = this.nextResourceVersion();
    void gone.then(() => this.pods.delete(name));
    return structuredClone(pod);
  }

  async patchMeshStatus(namespace: string, name: string, status: ReflectorMeshStatus, previous: ReflectorMeshStatus | undefined): Promise<ReflectorMesh> {
    this.statusWrites++;
    const m = this.mesh(`${namespace}/${name}`);
    const patch = statusMergePatch(status, previous).status as Record<string, unknown>;
    const next: Record<string, unknown> = { ...(m.status ?? {}), ...patch };
    for (const [k, v] of Object.entries(next)) if (v === null) delete next[k];
    m.status = structuredClone(next) as unknown as ReflectorMeshStatus;
    m.metadata.resourceVersion = this.nextResourceVersion();
    return structuredClone(m);
  }

  async readSecret(namespace: string, name: string): Promise<SecretView | undefined> {
    const id = `${namespace}/${name}`;
    const data = this.secrets.get(id);
    return data && { data, ...(this.secretMeta.get(id) ?? { labels: {}, ownerUids: [] }) };
  }

  /** Stores the Secret's data decoded, as a mounted Secret or a secretKeyRef shows it. */
  async createSecret(namespace: string, secret: V1Secret): Promise<V1Secret | undefined> {
    if (this.secrets.has(`${namespace}/${secret.metadata!.name!}`)) return undefined;
    const { stored } = this.store(namespace, secret);
    this.createdSecrets.push(structuredClone(secret));
    return stored;
  }

  async writeSecret(namespace: string, secret: V1Secret): Promise<V1Secret> {
    const { id, data, stored } = this.store(namespace, secret);
    this.kubelet?.secretWritten(id, data);
    return stored;
  }

  /** The Secrets as the API server would list them (data base64-encoded again), for a Secret informer. */
  listSecrets(): V1Secret[] {
    return [...this.secrets].map(([id, data]) => {
      const [namespace, name] = id.split('/');
      const meta = this.secretMeta.get(id) ?? { labels: {}, ownerUids: [] };
      return {
        metadata: { namespace, name, labels: { ...meta.labels }, ownerReferences: meta.ownerUids.map((uid) => ({ apiVersion: 'rmesh.io/v1alpha1', kind: 'ReflectorMesh', name: '', uid })), resourceVersion: this.secretVersions.get(id) ?? '1' },
        data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')])),
      };
    });
  }

  async createEvent(_namespace: string, event: CoreV1Event): Promise<void> {
    this.events.push(event);
  }

  async writeDisruptionBudget(namespace: string, budget: V1PodDisruptionBudget): Promise<V1PodDisruptionBudget> {
    const id = `${namespace}/${budget.metadata!.name!}`;
    const stored = this.budgets.get(id);
    const rv = budget.metadata?.resourceVersion;
    if (rv === undefined && stored) throw Object.assign(new Error(`poddisruptionbudgets "${budget.metadata!.name}" already exists`), { code: 409 });
    if (rv !== undefined && stored?.metadata?.resourceVersion !== rv) throw Object.assign(new Error('the object has been modified'), { code: stored ? 409 : 404 });
    const written: V1PodDisruptionBudget = structuredClone(budget);
    written.metadata = { ...written.metadata, namespace, resourceVersion: this.nextResourceVersion() };
    this.budgets.set(id, written);
    return structuredClone(written);
  }

  /** A kubelet in a line, for unit tests: every pending pod runs on a node of its own and is Ready. */
  runPods(): void {
    let i = 0;
    for (const p of this.pods.values()) {
      i++;
      if (p.status?.phase !== 'Pending') continue;
      p.spec = { ...p.spec!, nodeName: nodeOf(p) ?? `node-${p.metadata!.name}` };
      p.status = { phase: 'Running', hostIP: `10.1.0.${i}`, conditions: [{ type: 'Ready', status: 'True' }] };
      p.metadata!.resourceVersion = this.nextResourceVersion();
    }
  }

  private store(namespace: string, secret: V1Secret): { id: string; data: Record<string, string>; stored: V1Secret } {
    const id = `${namespace}/${secret.metadata!.name!}`;
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
    for (const [k, v] of Object.entries(secret.stringData ?? {})) data[k] = v;
    this.secrets.set(id, data);
    this.secretMeta.set(id, { labels: secret.metadata?.labels ?? {}, ownerUids: (secret.metadata?.ownerReferences ?? []).map((r) => r.uid) });
    const resourceVersion = this.nextResourceVersion();
    this.secretVersions.set(id, resourceVersion);
    const stored: V1Secret = structuredClone(secret);
    stored.metadata = { ...stored.metadata, namespace, resourceVersion };
    return { id, data, stored };
  }
}

/** Ready nodes named by their address, which is both their InternalIP and their ExternalIP. */
export function nodesAt(addresses: string[]): V1Node[] {
  return addresses.map((address) => ({
    metadata: { name: address },
    status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address }, { type: 'ExternalIP', address }] },
  }));
}
