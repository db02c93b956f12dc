// Simulated nodes: Node objects whose InternalIP is a loopback address of this machine, kept Ready by
// heartbeats (a Lease in kube-node-lease, like the kubelet's, and periodic status updates).
import {
  CoordinationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  V1MicroTime,
  type KubeConfig,
  type V1Node,
  type V1NodeCondition,
  type V1Taint,
} from '@kubernetes/client-node';
import { isNotFound, isConflict } from './api-errors.js';

export interface SimulatedNodeSpec {
  name: string;
  /** The node's address: a loopback address such as 127.0.3.11, where its pods' processes listen. */
  address: string;
  labels?: Record<string, string>;
  taints?: V1Taint[];
}

const leaseSeconds = 40;
const conditionTaints = new Set(['node.kubernetes.io/not-ready', 'node.kubernetes.io/unreachable']);

export class NodeSimulator {
  private readonly core: CoreV1Api;
  private readonly coordination: CoordinationV1Api;
  private readonly ready = new Map<string, boolean>();
  private timer: NodeJS.Timeout | undefined;
  private beats = 0;
  private stopped = false;
  private beating: Promise<void> | undefined;

  constructor(
    kc: KubeConfig,
    readonly nodes: readonly SimulatedNodeSpec[],
    private readonly heartbeatMs = 5_000,
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
  }

  address(nodeName: string): string | undefined {
    return this.nodes.find((n) => n.name === nodeName)?.address;
  }

  /** Whether the node's kubelet is up (not failed by a test). */
  isUp(nodeName: string): boolean {
    return this.ready.get(nodeName) ?? false;
  }

  /** Creates (or takes over) the Node objects, marks them Ready and starts the heartbeats. */
  async start(): Promise<void> {
    for (const spec of this.nodes) {
      await this.register(spec);
      this.ready.set(spec.name, true);
      await this.heartbeat(spec, true);
    }
    this.timer = setInterval(() => {
      this.beating ??= this.beat().finally(() => (this.beating = undefined));
    }, this.heartbeatMs);
  }

  async stop(deleteNodes = false): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.stopped = true;
    await this.beating;
    if (!deleteNodes) return;
    for (const spec of this.nodes) {
      await this.core.deleteNode({ name: spec.name }).catch(ignoreNotFound);
    }
  }

  /** A node failure: heartbeats stop and its Ready condition turns Unknown, as the node controller would set it. */
  async fail(nodeName: string): Promise<void> {
    const spec = this.spec(nodeName);
    this.ready.set(nodeName, false);
    await this.patchStatus(spec, 'Unknown', 'NodeStatusUnknown', 'Kubelet stopped posting node status.');
  }

  /** The node comes back. */
  async recover(nodeName: string): Promise<void> {
    const spec = this.spec(nodeName);
    this.ready.set(nodeName, true);
    await this.heartbeat(spec, true);
  }

  private spec(nodeName: string): SimulatedNodeSpec {
    const spec = this.nodes.find((n) => n.name === nodeName);
    if (!spec) throw new Error(`no simulated node ${nodeName} (nodes: ${this.nodes.map((n) => n.name).join(', ')})`);
    return spec;
  }

  private async register(spec: SimulatedNodeSpec): Promise<void> {
    const body: V1Node = {
      metadata: {
        name: spec.name,
        labels: {
          'kubernetes.io/hostname': spec.name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': process.arch === 'x64' ? 'amd64' : process.arch,
          ...spec.labels,
        },
        annotations: { 'rmesh.io/simulated-node': 'true' },
      },
      spec: { taints: spec.taints },
    };
    try {
      await this.core.createNode({ body });
    } catch (err) {
      if (!isConflict(err)) throw err;
      // Left over from an earlier run against the same API server: take it over with our spec.
      await this.core.patchNode(
        { name: spec.name, body: { metadata: { labels: body.metadata?.labels }, spec: { taints: spec.taints ?? null } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
  }

  private async beat(): Promise<void> {
    this.beats++;
    for (const spec of this.nodes) {
      if (this.stopped) return;
      if (!this.ready.get(spec.name)) continue;
      // The lease is the cheap heartbeat; the full status goes out less often, as the kubelet does.
      await this.heartbeat(spec, this.beats % 6 === 0).catch((err: unknown) => {
        console.warn(`[node-simulator] heartbeat of ${spec.name} failed: ${String(err)}`);
      });
    }
  }

  private async heartbeat(spec: SimulatedNodeSpec, withStatus: boolean): Promise<void> {
    await this.renewLease(spec.name);
    if (withStatus) await this.patchStatus(spec, 'True', 'KubeletReady', 'kubelet is posting ready status (simulated)');
  }

  private async renewLease(name: string): Promise<void> {
    const namespace = 'kube-node-lease';
    // A MicroTime: the API server wants six fractional digits, which a plain Date does not give.
    const renewTime = new V1MicroTime();
    try {
      const lease = await this.coordination.readNamespacedLease({ name, namespace });
      lease.spec = { holderIdentity: name, leaseDurationSeconds: leaseSeconds, renewTime };
      await this.coordination.replaceNamespacedLease({ name, namespace, body: lease });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.coordination.createNamespacedLease({
        namespace,
        body: { metadata: { name, namespace }, spec: { holderIdentity: name, leaseDurationSeconds: leaseSeconds, renewTime } },
      });
    }
  }

  private async patchStatus(spec: SimulatedNodeSpec, ready: string, reason: string, message: string): Promise<void> {
    const now = new Date().toISOString();
    const condition = (type: string, status: string, why: string, text: string): V1NodeCondition =>
      ({ type, status, reason: why, message: text, lastHeartbeatTime: now, lastTransitionTime: now }) as unknown as V1NodeCondition;
    const status = {
      addresses: [
        { type: 'InternalIP', address: spec.address },
        { type: 'Hostname', address: spec.name },
      ],
      capacity: { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      allocatable: { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '100Gi' },
      conditions: [
        condition('Ready', ready, reason, message),
        condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'simulated'),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'simulated'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'simulated'),
      ],
      nodeInfo: {
        machineID: spec.name,
        systemUUID: spec.name,
        bootID: spec.name,
        kernelVersion: 'simulated',
        osImage: 'rmesh e2e simulated node',
        containerRuntimeVersion: 'rmesh-e2e://processes',
        kubeletVersion: 'simulated',
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: process.arch === 'x64' ? 'amd64' : process.arch,
      },
    };
    // Keep lastTransitionTime when the status does not change, as the kubelet does.
    const current = await this.core.readNodeStatus({ name: spec.name });
    for (const c of status.conditions) {
      const old = current.status?.conditions?.find((o) => o.type === c.type);
      if (old && old.status === c.status && old.lastTransitionTime) {
        (c as unknown as { lastTransitionTime: string }).lastTransitionTime = new Date(old.lastTransitionTime).toISOString();
      }
    }
    const updated = await this.core.patchNodeStatus(
      { name: spec.name, body: { status } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    // The node lifecycle controller's part: the API server's TaintNodesByCondition admission gives a
    // new node the not-ready taint, which only that controller removes once the node is Ready.
    const taints = (updated.spec?.taints ?? []).filter((t) => !conditionTaints.has(t.key));
    if (ready !== 'True') taints.push({ key: 'node.kubernetes.io/unreachable', effect: 'NoSchedule' });
    const same = JSON.stringify(taints) === JSON.stringify(updated.spec?.taints ?? []);
    if (!same) {
      await this.core.patchNode(
        { name: spec.name, body: { metadata: { resourceVersion: updated.metadata?.resourceVersion }, spec: { taints } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    }
  }
}

function ignoreNotFound(err: unknown): void {
  if (!isNotFound(err)) throw err;
}
