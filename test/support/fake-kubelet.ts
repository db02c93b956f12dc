// The scheduler and the kubelet for the fake Kubernetes API (fake-kube.ts), on simulated nodes that are
// loopback addresses. Pods are placed one per node per mesh (the reflectors use the host network), then:
// - 'process': each runs as a real `rmesh reflector` process from the pod's own arguments and
//   environment, Ready once its /healthz answers. A deleted pod gets SIGTERM (the reflector drains) and
//   disappears when the process exits; a process that dies on its own turns its pod Failed. Secret
//   volumes are directories of files, rewritten in place (by rename, as the kubelet swaps them) when the
//   Secret changes, and paths under a mount in the environment point into them.
// - 'ready': each is Ready at once, no process (the operator benchmark's fake reflectors answer for it).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { nodeOf } from '../../operator/controller/node-pin.js';
import { nodesAt, type FakeKube, type KubeletHooks } from './fake-kube.js';
import { REPO_ROOT, RMESH_CLI } from './reflector-process.js';

interface Running {
  /** Secret volumes: the Secret's id and the directory standing for its mount. */
  volumes: { secret: string; dir: string }[];
  child: ChildProcess;
  output: string[];
  exited: Promise<void>;
  deleting: boolean;
}

export type KubeletMode = 'process' | 'ready';

export class FakeKubelet implements KubeletHooks {
  /** The running reflector of each pod, by pod name ('process' mode). */
  readonly processes = new Map<string, Running>();

  /** `nodes`: the loopback address of each simulated node (also its name); they become the cluster's nodes. */
  constructor(
    private readonly kube: FakeKube,
    readonly nodes: string[],
    readonly mode: KubeletMode = 'process',
  ) {
    kube.nodes = nodesAt(nodes);
    kube.kubelet = this;
  }

  /** One round of the scheduler and the kubelets: place pending pods, start them, report the ready ones. */
  async sync(): Promise<void> {
    for (const pod of this.kube.pods.values()) {
      if (pod.metadata?.deletionTimestamp || pod.status?.phase !== 'Pending') continue;
      // A pod the operator pinned to a node (ExternalIP placement, node-pin.ts) is bound there.
      const node = pod.spec?.nodeName ?? this.schedule(pod, nodeOf(pod));
      if (!node) continue;
      if (this.mode === 'ready') this.markReady(pod, node);
      else if (!this.processes.has(pod.metadata!.name!)) this.start(pod, node);
    }
    for (const [name, running] of this.processes) {
      const pod = this.kube.pods.get(name);
      if (!pod || pod.status?.phase !== 'Pending' || !pod.spec?.nodeName) continue;
      const port = pod.spec.containers[0]!.readinessProbe!.httpGet!.port as number;
      const ok = await fetch(`http://${pod.spec.nodeName}:${port}/healthz`, { signal: AbortSignal.timeout(500) }).then((r) => r.ok, () => false);
      if (ok && !running.deleting) this.markReady(pod, pod.spec.nodeName);
    }
  }

  /**
   * A node no pod of the same mesh holds (terminating ones still hold their host ports), the pinned one
   * if any, or Unschedulable.
   */
  private schedule(pod: V1Pod, pinned: string | undefined): string | undefined {
    const mesh = (p: V1Pod) => `${p.metadata?.namespace}/${p.metadata?.labels?.['rmesh.io/mesh']}`;
    const used = new Set([...this.kube.pods.values()].filter((p) => p.spec?.nodeName && mesh(p) === mesh(pod)).map((p) => p.spec!.nodeName!));
    const node = this.nodes.find((n) => !used.has(n) && (pinned === undefined || n === pinned));
    if (!node) {
      pod.status = { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: `0/${this.nodes.length} nodes are available` }] };
      return undefined;
    }
    pod.spec = { ...pod.spec!, nodeName: node };
    return node;
  }

  private markReady(pod: V1Pod, node: string): void {
    pod.status = { phase: 'Running', hostIP: node, podIP: node, conditions: [{ type: 'PodScheduled', status: 'True' }, { type: 'Ready', status: 'True' }] };
    pod.metadata!.resourceVersion = this.kube.nextResourceVersion();
  }

  podDeleted(pod: V1Pod): Promise<void> | undefined {
    const name = pod.metadata!.name!;
    const running = this.processes.get(name);
    if (!running) return undefined;
    running.deleting = true;
    running.child.kill('SIGTERM');
    return running.exited.then(() => {
      this.processes.delete(name);
    });
  }

  /** Every running pod that mounts the Secret sees the new files. */
  secretWritten(id: string, data: Record<string, string>): void {
    for (const r of this.processes.values()) for (const v of r.volumes) if (v.secret === id) writeVolume(v.dir, data);
  }

  private start(pod: V1Pod, node: string): void {
    const name = pod.metadata!.name!;
    const { volumes, inVolume } = this.mountSecrets(pod);
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
    for (const e of pod.spec!.containers[0]!.env ?? []) {
      if (e.value !== undefined) env[e.name] = inVolume(e.value);
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = name;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'status.hostIP') env[e.name] = node;
      else if (e.valueFrom?.secretKeyRef) {
        const ref = e.valueFrom.secretKeyRef;
        const value = this.kube.secrets.get(`${pod.metadata!.namespace}/${ref.name}`)?.[ref.key];
        if (value !== undefined) env[e.name] = value;
      }
    }
    const child = spawn(process.execPath, [RMESH_CLI, ...(pod.spec!.containers[0]!.args ?? [])], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    const running: Running = { volumes, child, output, deleting: false, exited: new Promise((resolve) => child.once('exit', (code, signal) => resolve(this.exitedOnItsOwn(name, running, `exited code=${code} signal=${signal}`)))) };
    this.processes.set(name, running);
  }

  /** Died on its own: the pod fails (restartPolicy is the kubelet's business; here it stays down). */
  private exitedOnItsOwn(name: string, running: Running, how: string): void {
    const pod = this.kube.pods.get(name);
    if (!pod || running.deleting) return;
    pod.status = { ...pod.status, phase: 'Failed', conditions: [{ type: 'Ready', status: 'False' }] };
    pod.metadata!.resourceVersion = this.kube.nextResourceVersion();
    running.output.push(how);
  }

  /** A directory per Secret volume, filled with the Secret's files; `inVolume` maps a path under a mount into it. */
  private mountSecrets(pod: V1Pod): { volumes: Running['volumes']; inVolume: (value: string) => string } {
    const volumes: Running['volumes'] = [];
    const mounts = new Map<string, string>();
    for (const m of pod.spec!.containers[0]!.volumeMounts ?? []) {
      const secretName = pod.spec!.volumes?.find((v) => v.name === m.name)?.secret?.secretName;
      if (!secretName) continue;
      const dir = mkdtempSync(join(tmpdir(), `rmesh-volume-${pod.metadata!.name}-`));
      const secret = `${pod.metadata!.namespace}/${secretName}`;
      writeVolume(dir, this.kube.secrets.get(secret) ?? {});
      volumes.push({ secret, dir });
      mounts.set(m.mountPath, dir);
    }
    const inVolume = (value: string) => {
      for (const [path, dir] of mounts) if (value.startsWith(`${path}/`)) return `${dir}${value.slice(path.length)}`;
      return value;
    };
    return { volumes, inVolume };
  }

  /** SIGKILLs a pod's reflector as a crash would. */
  crash(name: string): Promise<void> {
    const running = this.processes.get(name);
    if (!running) throw new Error(`no reflector runs for pod ${name}`);
    running.child.kill('SIGKILL');
    return running.exited;
  }

  /** SIGKILLs every reflector and waits for them to exit. */
  async stop(): Promise<void> {
    for (const r of this.processes.values()) {
      r.deleting = true;
      r.child.kill('SIGKILL');
    }
    await Promise.all([...this.processes.values()].map((r) => r.exited));
  }
}

function writeVolume(dir: string, data: Record<string, string>): void {
  for (const [k, v] of Object.entries(data)) {
    writeFileSync(join(dir, `.${k}.tmp`), v);
    renameSync(join(dir, `.${k}.tmp`), join(dir, k));
  }
}
