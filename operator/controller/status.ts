// The mesh's status, pure: counts a human reads with `kubectl get rmesh`, the capacity plan, a row
// per reflector, and the four conditions with a reason and a message that says what to do.
import type { MeshCondition, MeshPlanStatus, ReflectorMeshSpec, ReflectorMeshStatus, ReflectorStatusRow } from '../api/v1alpha1/index.js';
import { describeFailures } from './failures.js';
import { meshSelector } from './labels.js';
import type { Observed, PodView } from './observed.js';
import { reportedClients, type Sizing } from './sizing.js';

/** What is in motion this pass; empty when the mesh matches its spec. */
export interface Progress {
  creating?: number;
  draining?: string[];
  rollingOut?: number;
  /** The roll-out waits for its turn: the mesh (namespace/name) rolling out now. */
  rollOutQueuedBehind?: string;
  wiring?: number;
  /** ExternalIP mode: why no node could be chosen for a new reflector. */
  noNode?: string;
  /** Reflectors missing some peer (the mesh is split until they learn it). */
  unpeered?: number;
  migrating?: number;
  /** A scale-down held back by its policy (one drain at a time, N per period): why. */
  pacing?: string;
  /** Scaled to zero, the last reflector kept for the clients still connected: how many. */
  waitingForClients?: string;
}

export interface StatusFacts {
  sizing?: Sizing;
  progress?: Progress;
  goingAway?: Set<string>;
  invalidSpec?: string;
}

type ConditionDraft = Pick<MeshCondition, 'type' | 'status' | 'reason' | 'message'>;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function isFailed(pod: PodView): boolean {
  return pod.phase === 'Failed' || pod.phase === 'Succeeded';
}

/** Conditions keep their lastTransitionTime while their status stays the same. */
export function mergeConditions(previous: MeshCondition[] | undefined, drafts: ConditionDraft[], nowIso: string, generation?: number): MeshCondition[] {
  return drafts.map((draft) => {
    const before = previous?.find((c) => c.type === draft.type);
    const condition: MeshCondition = {
      ...draft,
      lastTransitionTime: before && before.status === draft.status ? before.lastTransitionTime : nowIso,
    };
    if (generation !== undefined) condition.observedGeneration = generation;
    return condition;
  });
}

function progressing(progress: Progress): ConditionDraft {
  if (progress.creating) {
    return { type: 'Progressing', status: 'True', reason: 'CreatingReflectors', message: `creating ${plural(progress.creating, 'reflector')}` };
  }
  if (progress.rollingOut && progress.rollOutQueuedBehind) {
    return {
      type: 'Progressing',
      status: 'True',
      reason: 'RollOutQueued',
      message:
        `${plural(progress.rollingOut, 'reflector')} on the old pod template; waiting for mesh ${progress.rollOutQueuedBehind} to finish its roll-out ` +
        '(the operator rolls out one mesh at a time; spec.reflector.image pins the image of a mesh)',
    };
  }
  if (progress.rollingOut) {
    return { type: 'Progressing', status: 'True', reason: 'RollingOut', message: `${plural(progress.rollingOut, 'reflector')} still on the old pod template; replacing one at a time` };
  }
  if (progress.draining?.length) {
    return { type: 'Progressing', status: 'True', reason: 'Draining', message: `moving the clients of ${progress.draining.join(', ')} to the other reflectors before removal` };
  }
  if (progress.waitingForClients) {
    return { type: 'Progressing', status: 'True', reason: 'WaitingForClients', message: `scaled to zero: the last reflector stays while clients are connected (${progress.waitingForClients}); delete its pod to drop them` };
  }
  if (progress.pacing) {
    return { type: 'Progressing', status: 'True', reason: 'ScalingDown', message: `scaling down one reflector at a time: ${progress.pacing}` };
  }
  if (progress.wiring) {
    return { type: 'Progressing', status: 'True', reason: 'Wiring', message: `sending the peer list to ${plural(progress.wiring, 'reflector')}` };
  }
  if (progress.migrating) {
    return { type: 'Progressing', status: 'True', reason: 'Rebalancing', message: `moving ${plural(progress.migrating, 'client')} to even the load` };
  }
  return { type: 'Progressing', status: 'False', reason: 'Stable', message: 'the mesh matches its spec' };
}

function capacityMessage(spec: ReflectorMeshSpec, sizing: Sizing): string {
  const o = sizing.option!;
  const n = sizing.clients.sendrecv + sizing.clients.recvonly + sizing.clients.sendonly;
  const budget = round1(spec.capacity.outboundMbps * (1 - spec.capacity.headroom));
  if (spec.scaling.mode === 'Model' && sizing.reason) return `${sizing.reason} New clients are refused.`;
  const fix =
    sizing.suggestedReplicas !== undefined
      ? `scale to ${sizing.suggestedReplicas} reflectors (kubectl scale rmesh/NAME --replicas=${sizing.suggestedReplicas})`
      : 'no mesh of up to 64 reflectors fits: lower the bitrate or raise spec.capacity.outboundMbps';
  return (
    `${n} clients need ${round1(o.peakOutboundMbps)} Mbit/s from the busiest of ${plural(o.reflectors, 'reflector')}; ` +
    `the budget is ${budget} Mbit/s (${spec.capacity.outboundMbps} less ${Math.round(spec.capacity.headroom * 100)}% headroom) ` +
    `and this size serves at most ${o.maxClients} clients. ${spec.capacity.maxClients !== undefined ? 'New clients beyond spec.capacity.maxClients are refused' : 'Every stream degrades (set spec.capacity.maxClients to refuse new clients instead)'}; ${fix}.`
  );
}

/**
 * A row per live reflector pod, by name: what its pod says and what its reflector reported. No rates:
 * they would change the status on every pass (the operator exports them as metrics instead).
 */
function reflectorRows(observed: Observed, live: Observed['pods']): ReflectorStatusRow[] {
  const { reports } = observed;
  return live
    .map((pod) => {
      const report = reports.get(pod.name);
      const row: ReflectorStatusRow = {
        name: pod.name,
        clients: report ? report.clients.filter((c) => c.state !== 'departing').length : 0,
        peers: report ? report.peers.length : 0,
        ready: pod.ready && report !== undefined,
        draining: (report?.draining ?? false) || observed.drainingSince.has(pod.name),
        current: pod.templateHash === observed.templateHash,
      };
      if (pod.node) row.node = pod.node;
      if (pod.advertiseAddress ?? pod.hostIP) row.address = (pod.advertiseAddress ?? pod.hostIP)!;
      return row;
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The chosen size's capacity model, as status.plan shows it. */
function planStatus(o: NonNullable<NonNullable<StatusFacts['sizing']>['option']>, bitrateMbps: number, spec: ReflectorMeshSpec): MeshPlanStatus {
  return {
    reflectors: o.reflectors,
    clientsPerReflector: o.clientsPerReflector,
    peakOutboundStreams: o.peakOutboundStreams,
    peakOutboundMbps: round1(o.peakOutboundMbps),
    peakOutboundPacketsPerSecond: Math.round((o.peakOutboundMbps * 1e6) / (spec.stream.packetSizeBytes * 8)),
    utilisationPercent: Math.round(o.utilisation * 100),
    maxClients: o.maxClients,
    bitrateMbps: round1(bitrateMbps * 1000) / 1000,
    fits: o.fits,
  };
}

export function computeStatus(observed: Observed, spec: ReflectorMeshSpec, facts: StatusFacts): ReflectorMeshStatus {
  const { mesh, pods, reports, nowMs } = observed;
  const name = mesh.metadata.name;
  const goingAway = facts.goingAway ?? new Set<string>();
  const live = pods.filter((p) => !p.terminating);
  const clients = reportedClients(reports.values()).length;
  const reflectors = reflectorRows(observed, live);

  const status: ReflectorMeshStatus = {
    replicas: live.length,
    readyReplicas: live.filter((p) => p.ready).length,
    updatedReplicas: live.filter((p) => p.templateHash === observed.templateHash).length,
    selector: meshSelector(name),
    clients,
    reflectors,
  };
  if (mesh.metadata.generation !== undefined) status.observedGeneration = mesh.metadata.generation;
  const sizing = facts.sizing;
  if (sizing) status.desiredReplicas = sizing.replicas;
  else if (mesh.status?.desiredReplicas !== undefined) status.desiredReplicas = mesh.status.desiredReplicas;
  if (sizing?.option) status.plan = planStatus(sizing.option, sizing.bitrateMbps, spec);
  if (sizing?.scaleDownSince) status.scaleDownSince = sizing.scaleDownSince;
  if (sizing?.autoscaling) status.autoscaling = sizing.autoscaling;

  const drafts: ConditionDraft[] = [];
  const desired = sizing?.replicas ?? 0;
  const serving = live.filter((p) => p.ready && reports.has(p.name) && !goingAway.has(p.name) && !isFailed(p)).length;
  const progress = facts.progress ?? {};
  if (facts.invalidSpec) {
    drafts.push({ type: 'Ready', status: 'False', reason: 'InvalidSpec', message: facts.invalidSpec });
  } else if (desired === 0) {
    const message = progress.waitingForClients ? 'scaled to zero by request; the last reflector stays while clients are connected' : 'the mesh has no reflectors by request';
    drafts.push({ type: 'Ready', status: 'True', reason: 'ScaledToZero', message });
  } else if (serving >= desired && !progress.unpeered) {
    drafts.push({ type: 'Ready', status: 'True', reason: 'MeshReady', message: `${plural(serving, 'reflector')} ready and fully peered` });
  } else if (serving >= desired) {
    drafts.push({ type: 'Ready', status: 'False', reason: 'Wiring', message: `${plural(serving, 'reflector')} ready; ${progress.unpeered} still missing peers` });
  } else {
    drafts.push({ type: 'Ready', status: 'False', reason: 'ReflectorsNotReady', message: `${serving} of ${plural(desired, 'reflector')} ready` });
  }
  if (facts.invalidSpec) drafts.push({ type: 'Progressing', status: 'False', reason: 'InvalidSpec', message: 'fix the spec' });
  else if (observed.secretRefused) drafts.push({ type: 'Progressing', status: 'False', reason: 'SecretNotAllowed', message: 'no reflector pod is created or changed until the Secret opts in or the spec names another' });
  else drafts.push(progressing(progress));

  const refused = describeFailures(observed.failures ?? []);
  const unschedulable = live.filter((p) => p.unschedulable);
  const failed = live.filter(isFailed);
  const unreachable = live.filter((p) => p.ready && observed.unreachable.has(p.name));
  if (facts.invalidSpec) {
    drafts.push({ type: 'Degraded', status: 'True', reason: 'InvalidSpec', message: facts.invalidSpec });
  } else if (observed.secretRefused) {
    drafts.push({ type: 'Degraded', status: 'True', reason: 'SecretNotAllowed', message: observed.secretRefused });
  } else if (observed.secretProblem) {
    drafts.push({ type: 'Degraded', status: 'True', reason: 'SecretMissing', message: observed.secretProblem });
  } else if (refused.degraded) {
    drafts.push({ type: 'Degraded', status: 'True', ...refused.degraded });
  } else if (progress.noNode) {
    drafts.push({ type: 'Degraded', status: 'True', reason: 'NoNodeWithExternalIP', message: `${progress.noNode}. Add nodes with an ExternalIP address, relax spec.placement, or use addressType InternalIP.` });
  } else if (unschedulable.length > 0) {
    drafts.push({
      type: 'Degraded',
      status: 'True',
      reason: 'Unschedulable',
      message: `${unschedulable.map((p) => p.name).join(', ')} cannot be placed: ${unschedulable[0]!.unschedulable}. Add nodes that match spec.placement, or set spec.placement.onePerNode to false.`,
    });
  } else if (failed.length > 0) {
    drafts.push({ type: 'Degraded', status: 'True', reason: 'ReflectorFailed', message: `${failed.map((p) => p.name).join(', ')} failed; replacing` });
  } else if (unreachable.length > 0) {
    drafts.push({
      type: 'Degraded',
      status: 'True',
      reason: 'ReflectorUnreachable',
      message: unreachable.map((p) => `${p.name}: ${observed.unreachable.get(p.name)}`).join('; '),
    });
  } else {
    drafts.push({ type: 'Degraded', status: 'False', reason: 'Healthy', message: 'every reflector answers' });
  }

  if (sizing?.option && !sizing.option.fits) {
    drafts.push({ type: 'CapacityExceeded', status: 'True', reason: 'OverBudget', message: capacityMessage(spec, sizing) });
  } else {
    const o = sizing?.option;
    drafts.push({
      type: 'CapacityExceeded',
      status: 'False',
      reason: 'WithinBudget',
      message: o
        ? `${plural(clients, 'client')}: the busiest reflector sends ${round1(o.peakOutboundMbps)} Mbit/s (${Math.round(o.utilisation * 100)}% of ${spec.capacity.outboundMbps}); this size serves up to ${o.maxClients}`
        : 'no reflectors, no load',
    });
  }
  status.conditions = mergeConditions(mesh.status?.conditions, drafts, new Date(nowMs).toISOString(), mesh.metadata.generation);
  return status;
}
