// A stand-in for the Kubernetes API and a kubelet, for driving the real controller against real
// reflectors without an API server: pods the operator creates are placed on simulated nodes (loopback
// addresses), started as real `rmesh reflector` processes from the pod's own environment, and marked
// Running/Ready once their control API answers. A deleted pod gets SIGTERM (the reflector drains) and
// disappears when the process exits; a process that dies on its own turns its pod Failed. Secret
// volumes are directories of files, rewritten in place (by rename, as the kubelet swaps them) when
// the Secret changes, and paths under a mount in the environment point into them.
/* eslint-disable @typescript-eslint/require-await -- an in-memory API implements the async interface synchronously */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CoreV1Event, V1Node, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { ReflectorMesh, ReflectorMeshStatus } from '../../../operator/api/v1alpha1/index.js';
import { statusMergePatch, type KubeApi } from '../../../operator/kube/kube-api.js';
import { REPO_ROOT, RMESH_CLI, sleep } from '../../support/reflector-process.js';

interface Running {
  /** Secret volumes: the Secret's id and the directory standing for its mount. */
  volumes: { secret: string; dir: string }[];
  child: ChildProcess;
  output: string[];
  exited: Promise<void>;
  deleting: boolean;
}

export class InMemoryCluster implements KubeApi {
  readonly meshes = new Map<string, ReflectorMesh>();
  readonly pods = new Map<string, V1Pod>();
  readonly events: CoreV1Event[] = [];
  readonly secrets = new Map<string, Record<string, string>>();
  /** Labels and owner uids of each Secret (who may use it: operator/controller/secret-use.ts). */
  readonly secretMeta = new Map<string, { labels: Record<string, string>; ownerUids: string[] }>();
  readonly createdSecrets: V1Secret[] = [];
  readonly processes = new Map<string, Running>();
  private seq = 0;
  private rv = 1;

  /** `nodes`: the loopback address of each simulated node (also its name). */
  constructor(readonly nodes: string[]) {}

  addMesh(mesh: ReflectorMesh): void {
    this.meshes.set(`${mesh.metadata.namespace}/${mesh.metadata.name}`, mesh);
  }

  mesh(key: string): ReflectorMesh {
    return this.meshes.get(key)!;
  }

  /** Edits a mesh's spec as `kubectl` would (a new generation). */
  editSpec(key: string, edit: (spec: ReflectorMesh['spec']) => void): void {
    const m = this.mesh(key);
    edit(m.spec);
    m.metadata.generation = (m.metadata.generation ?? 1) + 1;
    m.metadata.resourceVersion = String(++this.rv);
  }

  async createPod(namespace: string, pod: V1Pod): Promise<V1Pod> {
    const name = `${pod.metadata!.generateName}${(++this.seq).toString(36).padStart(5, '0')}`;
    const created: V1Pod = structuredClone(pod);
    created.metadata = { ...created.metadata, name, namespace, uid: `uid-${name}`, resourceVersion: String(++this.rv), creationTimestamp: new Date() };
    created.status = { phase: 'Pending' };
    this.pods.set(name, created);
    return structuredClone(created);
  }

  async deletePod(_namespace: string, name: string, uid: string): Promise<V1Pod | undefined> {
    const pod = this.pods.get(name);
    if (!pod || pod.metadata!.uid !== uid) return undefined;
    const running = this.processes.get(name);
    if (!running) {
      this.pods.delete(name);
      return undefined;
    }
    pod.metadata!.deletionTimestamp = new Date();
    pod.metadata!.resourceVersion = String(++this.rv);
    running.deleting = true;
    running.child.kill('SIGTERM');
    void running.exited.then(() => {
      this.pods.delete(name);
      this.processes.delete(name);
    });
    return structuredClone(pod);
  }

  async patchMeshStatus(namespace: string, name: string, status: ReflectorMeshStatus, previous: ReflectorMeshStatus | undefined): Promise<ReflectorMesh> {
    const m = this.mesh(`${namespace}/${name}`);
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
  /** Stores the Secret's data decoded, as a mounted Secret or a secretKeyRef shows it. */
  async createSecret(namespace: string, secret: V1Secret): Promise<boolean> {
    const id = `${namespace}/${secret.metadata!.name!}`;
    if (this.secrets.has(id)) return false;
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
    this.secrets.set(id, data);
    this.secretMeta.set(id, { labels: secret.metadata?.labels ?? {}, ownerUids: (secret.metadata?.ownerReferences ?? []).map((r) => r.uid) });
    this.createdSecrets.push(structuredClone(secret));
    return true;
  }

  async writeSecret(namespace: string, secret: V1Secret): Promise<void> {
    const id = `${namespace}/${secret.metadata!.name!}`;
    const data: Record<string, string> = {};
    for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
    this.secrets.set(id, data);
    this.secretMeta.set(id, { labels: secret.metadata?.labels ?? {}, ownerUids: (secret.metadata?.ownerReferences ?? []).map((r) => r.uid) });
    // The kubelet's part: every running pod that mounts it sees the new files.
    for (const r of this.processes.values()) for (const v of r.volumes) if (v.secret === id) this.writeVolume(v.dir, data);
  }

  private writeVolume(dir: string, data: Record<string, string>): void {
    for (const [k, v] of Object.entries(data)) {
      writeFileSync(join(dir, `.${k}.tmp`), v);
      renameSync(join(dir, `.${k}.tmp`), join(dir, k));
    }
  }

  async createEvent(_namespace: string, event: CoreV1Event): Promise<void> {
    this.events.push(event);
  }

  /** The simulated nodes; each one's loopback address is its InternalIP and its ExternalIP. */
  async listNodes(): Promise<V1Node[]> {
    return this.nodes.map((address) => ({
      metadata: { name: address },
      status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address }, { type: 'ExternalIP', address }] },
    }));
  }

  /** The scheduler and kubelet: place pending pods, start their processes, report them ready. */
  async kubelet(): Promise<void> {
    const used = new Set([...this.pods.values()].filter((p) => p.spec?.nodeName).map((p) => p.spec!.nodeName!));
    for (const pod of this.pods.values()) {
      if (pod.metadata?.deletionTimestamp) continue;
      if (pod.spec?.nodeName) {
        // Bound by the operator (ExternalIP placement): only the kubelet's part is left.
        if (!this.processes.has(pod.metadata!.name!)) this.start(pod, pod.spec.nodeName);
        continue;
      }
      const node = this.nodes.find((n) => !used.has(n));
      if (!node) {
        pod.status = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: `0/${this.nodes.length} nodes are available` }] };
        continue;
      }
      used.add(node);
      pod.spec = { ...pod.spec!, nodeName: node };
      this.start(pod, node);
    }
    for (const [name, running] of this.processes) {
      const pod = this.pods.get(name);
      if (!pod || pod.status?.phase !== 'Pending' || !pod.spec?.nodeName) continue;
      const port = pod.spec.containers[0]!.readinessProbe!.httpGet!.port as number;
      const ok = await fetch(`http://${pod.spec.nodeName}:${port}/healthz`, { signal: AbortSignal.timeout(500) }).then((r) => r.ok, () => false);
      if (ok && !running.deleting) {
        pod.status = { phase: 'Running', hostIP: pod.spec.nodeName, podIP: pod.spec.nodeName, conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True' }] };
        pod.metadata!.resourceVersion = String(++this.rv);
      }
    }
  }

  private start(pod: V1Pod, node: string): void {
    const name = pod.metadata!.name!;
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    const volumes: Running['volumes'] = [];
    const mounts = new Map<string, string>();
    for (const m of pod.spec!.containers[0]!.volumeMounts ?? []) {
      const secretName = pod.spec!.volumes?.find((v) => v.name === m.name)?.secret?.secretName;
      if (!secretName) continue;
      const dir = mkdtempSync(join(tmpdir(), `rmesh-volume-${name}-`));
      mkdirSync(dir, { recursive: true });
      const secret = `${pod.metadata!.namespace}/${secretName}`;
      this.writeVolume(dir, this.secrets.get(secret) ?? {});
      volumes.push({ secret, dir });
      mounts.set(m.mountPath, dir);
    }
    const inVolume = (value: string) => {
      for (const [path, dir] of mounts) if (value.startsWith(`${path}/`)) return `${dir}${value.slice(path.length)}`;
      return value;
    };
    for (const e of pod.spec!.containers[0]!.env ?? []) {
      if (e.value !== undefined) env[e.name] = inVolume(e.value);
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = name;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'status.hostIP') env[e.name] = node;
      else if (e.valueFrom?.secretKeyRef) {
        const ref = e.valueFrom.secretKeyRef;
        const value = this.secrets.get(`${pod.metadata!.namespace}/${ref.name}`)?.[ref.key];
        if (value !== undefined) env[e.name] = value;
      }
    }
    const child = spawn(process.execPath, [RMESH_CLI, ...(pod.spec!.containers[0]!.args ?? [])], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    const running: Running = {
      volumes,
      child,
      output,
      deleting: false,
      exited: new Promise((resolve) =>
        child.once('exit', (code, signal) => {
          const p = this.pods.get(name);
          if (p && !running.deleting) {
            // Died on its own: the pod fails (restartPolicy is the kubelet's business; here it stays down).
            p.status = { ...p.status, phase: 'Failed', conditions: [{ type: 'Ready', status: 'False' }] };
            p.metadata!.resourceVersion = String(++this.rv);
            output.push(`exited code=${code} signal=${signal}`);
          }
          resolve();
        }),
      ),
    };
    this.processes.set(name, running);
  }

  /** SIGKILLs a reflector as a crash would. */
  crash(name: string): Promise<void> {
    const running = this.processes.get(name)!;
    running.child.kill('SIGKILL');
    return running.exited;
  }

  async stop(): Promise<void> {
    for (const r of this.processes.values()) {
      r.deleting = true;
      r.child.kill('SIGKILL');
    }
    await Promise.all([...this.processes.values()].map((r) => r.exited));
    await sleep(10);
  }
}
