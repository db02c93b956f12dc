// The node and pod simulator: simulated nodes on loopback addresses, a scheduler that binds the
// project's pending pods to them, a kubelet that runs their containers as real local processes, and the
// controller-manager parts the tests need (service accounts, Deployments and ReplicaSets, garbage
// collection). Only the container runtime is simulated; what runs in the pods is the real thing.
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  CoreV1Api,
  ListWatch,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type KubeConfig,
  type KubernetesObject,
  type KubernetesListObject,
  type V1Node,
  type V1Pod,
} from '@kubernetes/client-node';
import { describeApiError } from './api-errors.js';
import { GarbageCollector, ServiceAccountController } from './controllers.js';
import { Kubelet } from './kubelet.js';
import { NodeSimulator, type SimulatedNodeSpec } from './nodes.js';
import type { Exit } from './processes.js';
import { choosePlacement } from './scheduling.js';
import { projectRoot } from './toolchain.js';
import { WorkloadControllers } from './workloads.js';

export interface SimulatorOptions {
  kc: KubeConfig;
  /** How many nodes (named e2e-node-1.., at 127.0.3.11..), or their exact specs. Default 3. */
  nodes?: number | SimulatedNodeSpec[];
  /** The labels of the pods the simulator schedules. Default: every pod of the project. */
  selector?: Record<string, string>;
  /** Where container logs go (default: a new temporary directory). */
  logDir?: string;
  /** The image's entrypoint for containers without a command. Default ['rmesh']. */
  entrypoint?: string[];
  /** Local argv for a command's first word, added to the default: rmesh → node dist/cli/rmesh.js. */
  commands?: Record<string, string[]>;
  restartBackoffMs?: number;
  maxRestartBackoffMs?: number;
  maxProbePeriodMs?: number;
  /** Node heartbeat period. Default 5 s. */
  heartbeatMs?: number;
}

export const defaultSelector = { 'app.kubernetes.io/name': 'reflector-mesh' };

/** Node specs e2e-node-1..n at 127.0.3.11.. (the e2e range). */
export function defaultNodes(count: number): SimulatedNodeSpec[] {
  return Array.from({ length: count }, (_, i) => ({ name: `e2e-node-${i + 1}`, address: `127.0.3.${11 + i}` }));
}

export class Simulator {
  readonly nodes: readonly SimulatedNodeSpec[];
  readonly logDir: string;
  private readonly core: CoreV1Api;
  private readonly nodeSimulator: NodeSimulator;
  private readonly kubelet: Kubelet;
  private readonly serviceAccounts: ServiceAccountController;
  private readonly garbageCollector: GarbageCollector;
  private readonly workloads: WorkloadControllers;
  private readonly pods: ListWatch<V1Pod>;
  private readonly nodeObjects: ListWatch<V1Node>;
  private readonly selector: Record<string, string>;
  private readonly down = new Set<string>();
  /** Pods bound by us that the pod cache may not show bound yet. */
  private readonly assumed = new Map<string, string>();
  private readonly unschedulable = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private again = false;
  private stopped = false;
  private lastError = '';

  private constructor(options: SimulatorOptions) {
    const { kc } = options;
    this.nodes = typeof options.nodes === 'object' ? options.nodes : defaultNodes(options.nodes ?? 3);
    this.selector = options.selector ?? defaultSelector;
    this.logDir = options.logDir ?? mkdtempSync(join(tmpdir(), 'rmesh-e2e-pods-'));
    this.core = kc.makeApiClient(CoreV1Api);
    this.nodeSimulator = new NodeSimulator(kc, this.nodes, options.heartbeatMs);
    this.kubelet = new Kubelet({
      kc,
      logDir: this.logDir,
      cwd: projectRoot,
      entrypoint: options.entrypoint ?? ['rmesh'],
      commands: { rmesh: [process.execPath, join(projectRoot, 'dist/cli/rmesh.js')], ...options.commands },
      baseEnv: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin' },
      restartBackoffMs: options.restartBackoffMs ?? 1_000,
      maxRestartBackoffMs: options.maxRestartBackoffMs ?? 10_000,
      maxProbePeriodMs: options.maxProbePeriodMs,
      nodeAddress: (name) => (this.down.has(name) ? undefined : this.nodeSimulator.address(name)),
    });
    this.serviceAccounts = new ServiceAccountController(kc);
    this.garbageCollector = new GarbageCollector(kc);
    this.workloads = new WorkloadControllers(kc);
    this.pods = informer(kc, '/api/v1/pods', () => this.core.listPodForAllNamespaces());
    this.nodeObjects = informer(kc, '/api/v1/nodes', () => this.core.listNode());
  }

  /** Registers the nodes and starts scheduling and running pods. */
  static async start(options: SimulatorOptions): Promise<Simulator> {
    const sim = new Simulator(options);
    await sim.nodeSimulator.start();
    await sim.serviceAccounts.sync();
    await sim.watch(sim.pods);
    await sim.watch(sim.nodeObjects);
    sim.timer = setInterval(() => sim.kick(), 1_000);
    sim.kick();
    return sim;
  }

  private async watch<T extends KubernetesObject>(inf: ListWatch<T>): Promise<void> {
    inf.on('add', () => this.kick());
    inf.on('update', () => this.kick());
    inf.on('delete', () => this.kick());
    inf.on('error', (err?: unknown) => {
      if (this.stopped) return;
      console.warn(`[simulator] watch failed, restarting: ${describeApiError(err)}`);
      setTimeout(() => void inf.start().catch(() => undefined), 1_000);
    });
    await inf.start();
  }

  /** The address of a node (its InternalIP, where its pods listen). */
  nodeAddress(nodeName: string): string {
    const address = this.nodeSimulator.address(nodeName);
    if (!address) throw new Error(`no simulated node ${nodeName}`);
    return address;
  }

  /** Failure injection: signals a pod's container process (SIGKILL by default); resolves when it has exited. */
  killPod(namespace: string, name: string, signal: NodeJS.Signals = 'SIGKILL', container?: string): Promise<Exit> {
    return this.kubelet.kill(namespace, name, signal, container);
  }

  /** The process id of a pod's (first or named) container, when it is running. */
  pid(namespace: string, name: string, container?: string): number | undefined {
    return this.kubelet.pid(namespace, name, container);
  }

  /** What a pod's container printed (across restarts), for assertions and failure messages. */
  logs(namespace: string, name: string, container?: string): string {
    return this.kubelet.logs(namespace, name, container);
  }

  /** A node failure: all its processes are killed, it stops heartbeating and turns NotReady (Unknown). */
  async failNode(nodeName: string): Promise<void> {
    this.nodeAddress(nodeName);
    this.down.add(nodeName);
    await this.kubelet.failNode(nodeName);
    await this.nodeSimulator.fail(nodeName);
  }

  /** The node comes back: Ready again, and its kubelet restarts the pods still bound to it. */
  async recoverNode(nodeName: string): Promise<void> {
    this.down.delete(nodeName);
    await this.nodeSimulator.recover(nodeName);
    this.kick();
  }

  /** Stops every process and the watches; with `deleteNodes`, removes the Node objects too. */
  async stop(options: { deleteNodes?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all([this.pods.stop(), this.nodeObjects.stop()]);
    await this.kubelet.stop();
    await this.nodeSimulator.stop(options.deleteNodes ?? false);
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void (async () => {
      try {
        do {
          this.again = false;
          const started = Date.now();
          await this.pass();
          if (Date.now() - started > 10_000) console.warn(`[simulator] a pass took ${Date.now() - started} ms`);
        } while (this.again && !this.stopped);
      } catch (err) {
        const message = describeApiError(err);
        if (message !== this.lastError) console.warn(`[simulator] ${message}`);
        this.lastError = message;
      } finally {
        this.running = false;
      }
    })();
  }

  private managed(pod: V1Pod): boolean {
    const labels = pod.metadata?.labels ?? {};
    return Object.entries(this.selector).every(([k, v]) => labels[k] === v);
  }

  private async pass(): Promise<void> {
    const pods = [...this.pods.list()];
    await this.schedule(pods);
    if (this.stopped) return;
    this.kubelet.sync(pods);
    await this.serviceAccounts.sync();
    await this.workloads.sync(pods);
    await this.garbageCollector.sync(pods);
  }

  /** Binds each pending managed pod to a node, or marks it Unschedulable with the scheduler's message. */
  private async schedule(pods: V1Pod[]): Promise<void> {
    const nodes = this.nodeObjects.list().filter((n) => this.nodeSimulator.address(n.metadata?.name ?? '') !== undefined);
    // The cluster as the scheduler sees it: the cache plus the bindings it has made but not seen yet.
    const view = pods.map((p) => {
      const assumed = this.assumed.get(p.metadata?.uid ?? '');
      if (!assumed) return p;
      if (p.spec?.nodeName) {
        this.assumed.delete(p.metadata?.uid ?? '');
        return p;
      }
      return { ...p, spec: { ...p.spec, containers: p.spec?.containers ?? [], nodeName: assumed } };
    });
    for (const [i, pod] of view.entries()) {
      const uid = pod.metadata?.uid ?? '';
      if (pod.spec?.nodeName || pod.metadata?.deletionTimestamp || !this.managed(pod)) continue;
      if ((pod.spec?.schedulerName ?? 'default-scheduler') !== 'default-scheduler') continue;
      const placement = choosePlacement(pod, nodes, view);
      const name = pod.metadata?.name ?? '';
      const namespace = pod.metadata?.namespace ?? 'default';
      if ('node' in placement) {
        this.assumed.set(uid, placement.node);
        view[i] = { ...pod, spec: { ...pod.spec, containers: pod.spec?.containers ?? [], nodeName: placement.node } };
        try {
          await this.core.createNamespacedPodBinding({
            name,
            namespace,
            body: { metadata: { name, namespace, uid }, target: { apiVersion: 'v1', kind: 'Node', name: placement.node } },
          });
        } catch (err) {
          this.assumed.delete(uid);
          console.warn(`[scheduler] binding ${namespace}/${name} to ${placement.node}: ${describeApiError(err)}`);
        }
        continue;
      }
      if (this.unschedulable.get(uid) === placement.unschedulable) continue;
      this.unschedulable.set(uid, placement.unschedulable);
      await this.core
        .patchNamespacedPodStatus(
          {
            name,
            namespace,
            body: {
              status: {
                conditions: [
                  { type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: placement.unschedulable, lastTransitionTime: new Date().toISOString() },
                ],
              },
            },
          },
          setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
        )
        .catch((err: unknown) => console.warn(`[scheduler] ${namespace}/${name}: ${describeApiError(err)}`));
    }
  }
}

function informer<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
): ListWatch<T> {
  return new ListWatch<T>(path, new Watch(kc), list, false);
}
