// What one reconcile observes of a mesh: its reflector pods, reduced to what the decisions need,
// and what each reachable reflector reports on GET /v1/status. The decisions read only this.
import type { V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { Role } from '../../protocol/roles.js';
import type { ReflectorMesh } from '../api/v1alpha1/index.js';
import { LABEL_TEMPLATE_HASH } from './labels.js';
import { nodeOf } from './node-pin.js';
import type { SecretView } from '../kube/kube-api.js';
import type { ActionFailure } from './failures.js';
import type { MeshKeySetIds } from '../../protocol/security/mesh-key-set.js';

export interface PodView {
  name: string;
  uid: string;
  /** Pending, Running, Succeeded, Failed or Unknown. */
  phase: string;
  /** The pod's Ready condition. */
  ready: boolean;
  /** The node it is bound to, or (still Pending) the node the operator pinned it to (node-pin.ts). */
  node?: string;
  hostIP?: string;
  templateHash?: string;
  /** RMESH_ADVERTISE_ADDRESS when the operator set one (ExternalIP placement); else clients use hostIP. */
  advertiseAddress?: string;
  /** Being deleted (deletionTimestamp set): on its way out, the reflector drains itself on SIGTERM. */
  terminating: boolean;
  /** When a terminating pod's grace period ends (its deletionTimestamp), ms since the epoch. */
  deletionMs?: number;
  /** The scheduler could not place it (PodScheduled False, reason Unschedulable), with its message. */
  unschedulable?: string;
  /** Since when (ms since the epoch) the scheduler has said so. */
  unschedulableSinceMs?: number;
  /** Creation time, ms since the epoch. */
  createdMs: number;
}

/** A client as a reflector reports it. */
export interface ReportedClient {
  clientId: string;
  role: Role;
  state: 'reserved' | 'active' | 'departing';
}

/** The part of a reflector's GET /v1/status the operator uses. */
export interface ReflectorReport {
  draining: boolean;
  clients: ReportedClient[];
  /** Ids of the peers the reflector knows. */
  peers: string[];
  outboundStreams: number;
  outboundBitsPerSecond: number;
  /** It waits for its first peer list (--await-peer-list): wire sends one even when the list matches. */
  awaitingPeerList?: boolean;
  /** The stream count of outboundBitsPerSecond's window; absent from a reflector too old to say. */
  outboundRateStreams?: number;
  /** The mesh keys the reflector holds (by id); absent from a reflector too old to say. */
  meshKeys?: MeshKeySetIds;
}

/** What placement needs of a node (only read in ExternalIP mode, where the operator picks nodes). */
export interface NodeView {
  name: string;
  ready: boolean;
  unschedulable: boolean;
  labels: Record<string, string>;
  taints: { key: string; value?: string; effect: string }[];
  externalIP?: string;
}

export interface Observed {
  mesh: ReflectorMesh;
  /** The mesh's pods (by owner reference). */
  pods: PodView[];
  /** Pod name → report, for the pods whose control API answered; absent: not asked or no answer. */
  reports: Map<string, ReflectorReport>;
  /**
   * Pod name → report, for terminating pods whose control API still answers: on SIGTERM a reflector
   * hands its clients to its peers before it exits, so it stays their peer while it holds any.
   */
  leaving?: Map<string, ReflectorReport>;
  /** Pod name → why its control API did not answer (only for pods that were asked). */
  unreachable: Map<string, string>;
  /** Pod name → when the operator first saw it draining, ms since the epoch. */
  drainingSince: Map<string, number>;
  /** The actions of the last pass that the API server or a reflector refused (failures.ts). */
  failures?: ActionFailure[];
  /** When the operator started each scale-down removal lately (ms since the epoch): the rate policy's memory. */
  removedAtMs?: number[];
  /** The admin Secret is named but missing (or lacks its key): the message to report. */
  secretProblem?: string;
  /**
   * A Secret the spec names has not opted in to be used by meshes (secret-use.ts): the operator creates
   * no pod that would carry it; the message to report.
   */
  secretRefused?: string;
  /**
   * The mesh key's Secret (the named one, or `<mesh>-mesh-key`) and the key-set Secret `<mesh>-mesh-keys`
   * as read (absent: missing), with random bytes for a key the mesh-key phase may generate this pass.
   * Undefined when not read (test scenes about something else).
   */
  meshKeys?: { source?: SecretView; keySet?: SecretView; fresh: Buffer };
  /**
   * The mesh's PodDisruptionBudget as the cache holds it (`current` absent: there is none). Undefined
   * when not observed (test scenes about something else): the disruption phase then does nothing.
   */
  disruptionBudget?: { current?: V1PodDisruptionBudget };
  /** The cluster's nodes from the node cache, only when the mesh advertises ExternalIP addresses. */
  nodes?: NodeView[];
  /** The template hash pods should carry now. */
  templateHash: string;
  /**
   * The mesh (namespace/name) whose turn it is to roll out a new pod template, of all the meshes the
   * operator manages (phases/roll-out.ts, rollOutTurn); undefined: none needs one, or not asked.
   */
  rollOutTurn?: string;
  nowMs: number;
}

function toMs(value: Date | string | undefined): number {
  if (value === undefined) return 0;
  return value instanceof Date ? value.getTime() : Date.parse(value);
}

/** The decision-relevant view of a pod. */
export function podView(pod: V1Pod): PodView {
  const conditions = pod.status?.conditions ?? [];
  const scheduled = conditions.find((c) => c.type === 'PodScheduled');
  const view: PodView = {
    name: pod.metadata?.name ?? '',
    uid: pod.metadata?.uid ?? '',
    phase: pod.status?.phase ?? 'Pending',
    ready: conditions.some((c) => c.type === 'Ready' && c.status === 'True'),
    terminating: pod.metadata?.deletionTimestamp !== undefined && pod.metadata?.deletionTimestamp !== null,
    createdMs: toMs(pod.metadata?.creationTimestamp),
  };
  if (view.terminating) view.deletionMs = toMs(pod.metadata!.deletionTimestamp);
  // The scheduler sets spec.nodeName when it binds; before that, the node the operator pinned it to.
  const node = nodeOf(pod);
  if (node) view.node = node;
  if (pod.status?.hostIP) view.hostIP = pod.status.hostIP;
  const hash = pod.metadata?.labels?.[LABEL_TEMPLATE_HASH];
  if (hash) view.templateHash = hash;
  const advertise = pod.spec?.containers?.[0]?.env?.find((e) => e.name === 'RMESH_ADVERTISE_ADDRESS')?.value;
  if (advertise) view.advertiseAddress = advertise;
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    view.unschedulable = scheduled.message ?? 'unschedulable';
    if (scheduled.lastTransitionTime) view.unschedulableSinceMs = toMs(scheduled.lastTransitionTime);
  }
  return view;
}

export function nodeView(node: V1Node): NodeView {
  const view: NodeView = {
    name: node.metadata?.name ?? '',
    ready: node.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false,
    unschedulable: node.spec?.unschedulable === true,
    labels: { ...(node.metadata?.labels ?? {}) },
    taints: (node.spec?.taints ?? []).map((t) => ({ key: t.key, effect: t.effect, ...(t.value !== undefined ? { value: t.value } : {}) })),
  };
  const external = node.status?.addresses?.find((a) => a.type === 'ExternalIP')?.address;
  if (external) view.externalIP = external;
  return view;
}
