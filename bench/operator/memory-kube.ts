// The Kubernetes API and the kubelet played in memory for the operator benchmark (no cluster here: the
// e2e harness's kube-apiserver and etcd are built from source, which this machine has not done). The
// same stand-in as test/integration/operator/in-memory-cluster.ts, for many meshes, with two kubelets:
// - 'process': a pod becomes a real `rmesh reflector` process started from the pod's own arguments and
//   environment, Ready once its /healthz answers (time from apply to Ready);
// - 'address': a pod is Ready at once on its node; its reflector is a fake in fake-reflectors.ts (the
//   controller's reconcile cost with 100 meshes, without 300 processes on 2 CPUs).
/* eslint-disable @typescript-eslint/require-await -- an in-memory API implements the async interface synchronously */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CoreV1Event, V1Node, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { ReflectorMesh, ReflectorMeshStatus } from '../../operator/api/v1alpha1/index.js';
import { statusMergePatch, type KubeApi } from '../../operator/kube/kube-api.js';

const RMESH_CLI = fileURLToPath(new URL('../../cli/rmesh.js', import.meta.url));

interface Running {
  child: ChildProcess;
  exited: Promise<void>;
  deleting: boolean;
}

export class MemoryKube implements KubeApi {
  readonly meshes = new Map<string, ReflectorMesh>();
  readonly pods = new Map<string, V1Pod>();
  readonly secrets = new Map<string, Record<string, string>>();
  /** Labels and owner uids of each Secret (who may use it: operator/controller/secret-use.ts). */
  readonly secretMeta = new Map<string, { labels: Record<string, string>; ownerUids: string[] }>();
  readonly processes = new Map<string, Running>();
  events = 0;
  private seq = 0;
  private rv = 1;

  /** `nodes`: a loopback address per simulated node (also its name). */
  constructor(
    readonly nodes: string[],
    readonly kubeletMode: 'process' | 'address',
  ) {}

  apply(mesh: ReflectorMesh): void {
    this.meshes.set(`${mesh.metadata.namespace}/${mesh.metadata.name}`, mesh);
  }

  async createPod(namespace: string, pod: V1Pod): Promise<V1Pod> {
    const name = `${pod.metadata!.generateName}${(++this.seq).toString(36).padStart(5, '0')}`;
    const created: V1Pod = structuredClone(pod);
    created.metadata = { ...created.metadata, name, namespace, uid: `uid-${name}`, resourceVersion: String(++this.rv), creationTimestamp: new Date() };
    created.status = { phase: 'Pending' };
    this.pods.set(`${namespace}/${name}`, created);
    return structuredClone(created);
  }

  async deletePod(namespace: string, name: string, uid: string): Promise<V1Pod | undefined> {
    const key = `${namespace}/${name}`;
    const pod = this.pods.get(key);
    if (!pod || pod.metadata!.uid !== uid) return undefined;
    const running = this.processes.get(key);
    if (!running) {
      this.pods.delete(key);
      return undefined;
    }
    pod.metadata!.deletionTimestamp = new Date();
    running.deleting = true;
    running.child.kill('SIGTERM');
    void running.exited.then(() => {
      this.pods.delete(key);
      this.processes.delete(key);
    });
    return structuredClone(pod);
  }

  async patchMeshStatus(namespace: string, name: string, status: ReflectorMeshStatus, previous: ReflectorMeshStatus | undefined): Promise<ReflectorMesh> {
    const m = this.meshes.get(`${namespace}/${name}`)!;
    const patch = statusMergePatch(status, previous).status as Record<string, unknown>;
    const next: Record<string, unknown> = { ...(m.status ?? {}), ...patch };
    for (const [k, v] of Object.entries(next)) if (v === null) delete next[k];
    m.status = structuredClone(next) as unknown as ReflectorMeshStatus;
    m.metadata.resourceVersion = String(++this.rv);
    return structuredClone(m);
  }

  async readSecret(namespace: string, name: string) {
    const id = `${namespace}/${name}`;
    const data = this.secrets.get(id);
    return data && { data, ...(this.secretMeta.get(id) ?? { labels: {}, ownerUids: [] }) };
  }

  async createSecret(namespace: string, secret: V1Secret): Promise<boolean> {
    const id = `${namespace}/${secret.metadata!.name!}`;
    if (this.secrets.has(id)) return false;
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
    for (const [k, v] of Object.entries(secret.stringData ?? {})) data[k] = v;
    this.secrets.set(id, data);
    this.secretMeta.set(id, { labels: secret.metadata?.labels ?? {}, ownerUids: (secret.metadata?.ownerReferences ?? []).map((r) => r.uid) });
    return true;
  }

  async writeSecret(namespace: string, secret: V1Secret): Promise<void> {
    const id = `${namespace}/${secret.metadata!.name!}`;
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
    this.secrets.set(id, data);
    this.secretMeta.set(id, { labels: secret.metadata?.labels ?? {}, ownerUids: (secret.metadata?.ownerReferences ?? []).map((r) => r.uid) });
  }

  async createEvent(_namespace: string, _event: CoreV1Event): Promise<void> {
    this.events++;
  }

  async listNodes(): Promise<V1Node[]> {
    return this.nodes.map((address) => ({
      metadata: { name: address },
      status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address }, { type: 'ExternalIP', address }] },
    }));
  }

  /** The scheduler and kubelet: place pending pods (one per node per mesh), start them, report them ready. */
  async kubelet(): Promise<void> {
    for (const [key, pod] of this.pods) {
      if (pod.metadata?.deletionTimestamp || pod.status?.phase !== 'Pending') continue;
      if (!pod.spec?.nodeName) {
        const mesh = pod.metadata?.labels?.['rmesh.io/mesh'];
        const used = new Set([...this.pods.values()].filter((p) => p.spec?.nodeName && p.metadata?.labels?.['rmesh.io/mesh'] === mesh && p.metadata?.namespace === pod.metadata?.namespace).map((p) => p.spec!.nodeName!));
        const node = this.nodes.find((n) => !used.has(n));
        if (!node) continue;
        pod.spec = { ...pod.spec!, nodeName: node };
      }
      const node = pod.spec.nodeName!;
      if (this.kubeletMode === 'address') {
        this.markReady(pod, node);
        continue;
      }
      if (!this.processes.has(key)) this.start(key, pod, node);
      const port = pod.spec.containers[0]!.readinessProbe!.httpGet!.port as number;
      const ok = await fetch(`http://${node}:${port}/healthz`, { signal: AbortSignal.timeout(500) }).then((r) => r.ok, () => false);
      if (ok && !this.processes.get(key)!.deleting) this.markReady(pod, node);
    }
  }

  private markReady(pod: V1Pod, node: string): void {
    pod.status = { phase: 'Running', hostIP: node, podIP: node, conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True' }] };
    pod.metadata!.resourceVersion = String(++this.rv);
  }

  private start(key: string, pod: V1Pod, node: string): void {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    for (const e of pod.spec!.containers[0]!.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = pod.metadata!.name!;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'status.hostIP') env[e.name] = node;
      else if (e.valueFrom?.secretKeyRef) {
        const ref = e.valueFrom.secretKeyRef;
        const value = this.secrets.get(`${pod.metadata!.namespace}/${ref.name}`)?.[ref.key];
        if (value !== undefined) env[e.name] = value;
      }
    }
    const child = spawn(process.execPath, [RMESH_CLI, ...(pod.spec!.containers[0]!.args ?? [])], { env, stdio: 'ignore' });
    const running: Running = {
      child,
      deleting: false,
      exited: new Promise((resolve) => child.once('exit', () => resolve())),
    };
    this.processes.set(key, running);
  }

  async stop(): Promise<void> {
    for (const r of this.processes.values()) {
      r.deleting = true;
      r.child.kill('SIGKILL');
    }
    await Promise.all([...this.processes.values()].map((r) => r.exited));
  }
}
