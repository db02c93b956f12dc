// What every reconcile phase shares: the observed mesh sorted into the groups the rules speak of
// (failed, draining, active), the result a phase returns, and the helpers two phases need (drain or
// delete a reflector, place a new one). Everything here is pure.
import type { ReflectorInfo } from '../../../protocol/api-schemas.js';
import type { ReflectorMeshSpec } from '../../api/v1alpha1/index.js';
import type { Action, MeshEvent } from '../actions.js';
import type { Observed, PodView, ReflectorReport } from '../observed.js';
import { chooseNode } from '../node-choice.js';
import type { Progress } from '../status.js';

/** The observed mesh, with its pods in the groups the phases decide about. */
export interface Pass {
  observed: Observed;
  spec: ReflectorMeshSpec;
  /** Pods not being deleted. */
  live: PodView[];
  /** Live pods that exited (Failed or Succeeded). */
  failed: PodView[];
  /** Live pods still running (or starting). */
  running: PodView[];
  /** Running reflectors that are draining (they said so, or the operator started it). */
  draining: PodView[];
  /** Running reflectors that are not draining: the mesh's serving capacity. */
  active: PodView[];
}

/** One phase's contribution to the decision. */
export interface PhaseResult {
  actions: Action[];
  events: MeshEvent[];
  /** Out of the mesh's capacity from now on (deleted, or draining). */
  goingAway?: string[];
  /** Deleted: also out of the peer lists. */
  deleting?: string[];
  progress?: Progress;
  /** Look again this soon. */
  requeueAfterMs?: number;
  /** Scale-down removals started (drains and deletions), counted by the rate policy. */
  removals?: number;
}

/** How soon to look again while something is in motion. */
export const BUSY_REQUEUE_MS = 2000;

export function isFailed(pod: PodView): boolean {
  return pod.phase === 'Failed' || pod.phase === 'Succeeded';
}

/** Clients a reflector still holds (departing ones have already registered elsewhere). */
export function heldClients(report: ReflectorReport | undefined): number {
  return report ? report.clients.filter((c) => c.state !== 'departing').length : 0;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function makePass(observed: Observed, spec: ReflectorMeshSpec): Pass {
  const live = observed.pods.filter((p) => !p.terminating);
  const failed = live.filter(isFailed);
  const running = live.filter((p) => !isFailed(p));
  const isDraining = (p: PodView) => observed.reports.get(p.name)?.draining === true || observed.drainingSince.has(p.name);
  return { observed, spec, live, failed, running, draining: running.filter(isDraining), active: running.filter((p) => !isDraining(p)) };
}

/** Ready and answering: a reflector the operator can count on and talk to. */
export function isServing(pass: Pass, pod: PodView): boolean {
  return pod.ready && pass.observed.reports.has(pod.name);
}

/** The reflector as clients and peers see it: the advertised address (ExternalIP mode) or the node's. */
export function reflectorInfo(pod: PodView, spec: ReflectorMeshSpec): ReflectorInfo | undefined {
  const address = pod.advertiseAddress ?? pod.hostIP;
  if (!address || !pod.hostIP) return undefined;
  return { id: pod.name, address, dataPort: spec.ports.data, controlPort: spec.ports.control, rtp: spec.stream.rtp };
}

/**
 * Which reflectors go first when there are too many: not ready (nothing to drain, or nothing the
 * operator can reach), then those on an old template, then the fewest clients, then the youngest.
 */
export function removalOrder(pods: PodView[], observed: Pick<Observed, 'reports' | 'templateHash'>): PodView[] {
  const healthy = (p: PodView) => p.ready && observed.reports.has(p.name);
  return [...pods].sort(
    (a, b) =>
      Number(healthy(a)) - Number(healthy(b)) ||
      Number(a.templateHash === observed.templateHash) - Number(b.templateHash === observed.templateHash) ||
      heldClients(observed.reports.get(a.name)) - heldClients(observed.reports.get(b.name)) ||
      b.createdMs - a.createdMs ||
      a.name.localeCompare(b.name),
  );
}

/**
 * Takes a reflector out of the mesh: a reachable one holding clients is drained (they move to its
 * peers, make before break); one with nothing to hand over, or that cannot be reached, is deleted.
 */
export function drainOrDelete(pass: Pass, pod: PodView, reason: string, exclude: string[]): PhaseResult {
  const report = pass.observed.reports.get(pod.name);
  // Not ready but answering with clients (say, its data sockets failed): still drain it first.
  if (!report || heldClients(report) === 0) {
    return {
      actions: [{ type: 'deletePod', pod: pod.name, reason: `${reason} (${report ? 'no clients' : 'unreachable'})` }],
      events: [],
      goingAway: [pod.name],
      deleting: [pod.name],
    };
  }
  return {
    actions: [{ type: 'drain', pod: pod.name, exclude, reason }],
    events: [{ type: 'Normal', reason: 'Draining', message: `draining reflector ${pod.name} (${plural(heldClients(report), 'client')}): ${reason}` }],
    goingAway: [pod.name],
    progress: { draining: [pod.name] },
  };
}

/**
 * A create action for one more reflector; in ExternalIP mode with the node the operator chose (see
 * node-choice.ts), `taken` holding the nodes chosen earlier in this pass. A string says why none could be placed.
 */
export function createAction(pass: Pass, reason: string, taken: Set<string>): Action | string {
  if (pass.spec.placement.addressType !== 'ExternalIP') return { type: 'createPod', reason };
  const choice = chooseNode(pass.spec, pass.observed.nodes ?? [], pass.observed.pods, taken);
  if ('problem' in choice) return choice.problem;
  taken.add(choice.node);
  return { type: 'createPod', reason, node: { name: choice.node, address: choice.address } };
}

/** Folds phase results into one (progress fields of later phases win; lists are joined). */
export function merge(into: PhaseResult, next: PhaseResult): PhaseResult {
  const progress = { ...into.progress, ...next.progress };
  if (into.progress?.draining || next.progress?.draining) progress.draining = [...(into.progress?.draining ?? []), ...(next.progress?.draining ?? [])];
  const result: PhaseResult = {
    actions: [...into.actions, ...next.actions],
    events: [...into.events, ...next.events],
    goingAway: [...(into.goingAway ?? []), ...(next.goingAway ?? [])],
    deleting: [...(into.deleting ?? []), ...(next.deleting ?? [])],
    progress,
  };
  const removals = (into.removals ?? 0) + (next.removals ?? 0);
  if (removals > 0) result.removals = removals;
  const requeue = [into.requeueAfterMs, next.requeueAfterMs].filter((x): x is number => x !== undefined);
  if (requeue.length > 0) result.requeueAfterMs = Math.min(...requeue);
  return result;
}
