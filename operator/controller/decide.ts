// The reconcile decisions, pure (as Agones' computeReconciliationAction): from what was observed of a
// mesh, the actions that move it toward its desired state, the events worth telling a human, and the
// status to write. The controller only observes, calls decide(), and hands the result to the applier.
import type { ReflectorInfo } from '../../protocol/api-schemas.js';
import { resolveSpec, type ReflectorMeshSpec, type ReflectorMeshStatus } from '../api/v1alpha1/index.js';
import { planRebalance, type Role } from '../../model/index.js';
import type { Observed, PodView, ReflectorReport } from './observed.js';
import { chooseNode } from './placement.js';
import { decideSize, type Sizing } from './sizing.js';
import { computeStatus, type Progress } from './status.js';

export type Action =
  /** Create one reflector pod from the current template (on `node` when the operator places it). */
  | { type: 'createPod'; reason: string; node?: { name: string; address: string } }
  /** Delete a pod (drained, failed, unreachable or not ready). */
  | { type: 'deletePod'; pod: string; reason: string }
  /** POST /v1/drain: the reflector hands its clients to its peers before it goes. */
  | { type: 'drain'; pod: string; exclude: string[]; reason: string }
  /** PUT /v1/peers: the full list of the other reflectors. */
  | { type: 'setPeers'; pod: string; peers: ReflectorInfo[] }
  /** POST /v1/clients/{clientId}/migrate at `pod`: move one client to reflector `to`. */
  | { type: 'migrate'; pod: string; clientId: string; to: string };

export interface MeshEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

export interface Decision {
  actions: Action[];
  events: MeshEvent[];
  status: ReflectorMeshStatus;
  /** Look again after this long even if nothing changes (draining, scale-down delay, a roll-out). */
  requeueAfterMs?: number;
  /** Admission limits for pods created now. */
  limits?: { maxClients?: number };
}

/** Most client migrations the operator starts in one pass: the rest follow in the next passes. */
export const MAX_MIGRATIONS_PER_PASS = 8;
/** Most pods created in one pass (the rest in the next passes, as a ReplicaSet's slow start). */
export const MAX_CREATES_PER_PASS = 16;
/** How soon to look again while something is in motion. */
export const BUSY_REQUEUE_MS = 2000;

function isFailed(pod: PodView): boolean {
  return pod.phase === 'Failed' || pod.phase === 'Succeeded';
}

/** Clients a reflector still holds (departing ones have already registered elsewhere). */
function heldClients(report: ReflectorReport | undefined): number {
  return report ? report.clients.filter((c) => c.state !== 'departing').length : 0;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
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

export function decide(observed: Observed): Decision {
  const { mesh, pods, reports, nowMs } = observed;
  const { spec, errors } = resolveSpec(mesh.spec);
  if (errors.length > 0) {
    // The API server validates; this only happens with a stale CRD. Touch nothing, say why.
    return {
      actions: [],
      events: [],
      status: computeStatus(observed, spec, { invalidSpec: errors.join('; ') }),
    };
  }

  if (observed.secretRefused) {
    // The spec names a Secret that did not opt in (secret-use.ts): a pod created now would carry it to
    // whatever image the spec names. Touch nothing; the running reflectors go on serving.
    return {
      actions: [],
      events: [{ type: 'Warning', reason: 'SecretNotAllowed', message: observed.secretRefused }],
      status: computeStatus(observed, spec, {}),
    };
  }

  const actions: Action[] = [];
  const events: MeshEvent[] = [];
  let requeueAfterMs: number | undefined;
  const requeue = (ms: number) => {
    requeueAfterMs = requeueAfterMs === undefined ? ms : Math.min(requeueAfterMs, ms);
  };
  const progress: Progress = {};

  const live = pods.filter((p) => !p.terminating);
  const failed = live.filter(isFailed);
  const running = live.filter((p) => !isFailed(p));
  const isDraining = (p: PodView) => reports.get(p.name)?.draining === true || observed.drainingSince.has(p.name);
  const draining = running.filter(isDraining);
  const active = running.filter((p) => !isDraining(p));
  // Going away: counted out of the mesh's capacity. Deleting: also out of the peer lists (a draining
  // reflector stays a peer, or its clients could not move make-before-break).
  const goingAway = new Set<string>();
  const deleting = new Set<string>();
  const remove = (name: string) => {
    goingAway.add(name);
    deleting.add(name);
  };

  // Failed pods are replaced: deleting them lets the count below create a new one.
  for (const pod of failed) {
    actions.push({ type: 'deletePod', pod: pod.name, reason: `pod ${pod.phase}` });
    events.push({ type: 'Warning', reason: 'ReflectorFailed', message: `reflector ${pod.name} ${pod.phase === 'Failed' ? 'failed' : 'exited'}; replacing it` });
    remove(pod.name);
  }

  // Draining reflectors go once empty, unreachable, or out of time.
  const drainTimeoutMs = spec.timeouts.drainTimeoutSeconds * 1000;
  for (const pod of draining) {
    const report = reports.get(pod.name);
    const since = observed.drainingSince.get(pod.name) ?? nowMs;
    const left = heldClients(report);
    // Departing clients count here: during its grace period the old reflector still forwards their
    // datagrams in flight (protocol §4, step 5); deleting it earlier would drop them.
    const lingering = report ? report.clients.length : 0;
    if (!report) {
      actions.push({ type: 'deletePod', pod: pod.name, reason: 'draining and unreachable' });
    } else if (lingering === 0) {
      actions.push({ type: 'deletePod', pod: pod.name, reason: 'drained' });
      events.push({ type: 'Normal', reason: 'ReflectorRemoved', message: `reflector ${pod.name} drained; deleting it` });
    } else if (nowMs - since >= drainTimeoutMs) {
      actions.push({ type: 'deletePod', pod: pod.name, reason: 'drain timed out' });
      events.push({
        type: 'Warning',
        reason: 'DrainTimeout',
        message: `reflector ${pod.name} still held ${plural(left, 'client')} after ${spec.timeouts.drainTimeoutSeconds}s of draining; deleting it (its clients fail over)`,
      });
    } else {
      progress.draining = [...(progress.draining ?? []), pod.name];
      requeue(BUSY_REQUEUE_MS);
      goingAway.add(pod.name);
      continue;
    }
    remove(pod.name);
  }

  const complete = active.every((p) => p.ready && reports.has(p.name));
  const sizing: Sizing = decideSize({
    spec,
    status: mesh.status,
    reports: [...reports.values()],
    activePods: active.length,
    complete,
    nowMs,
  });
  if (sizing.recheckAfterMs !== undefined) requeue(sizing.recheckAfterMs);
  const m = sizing.replicas;
  const previous = mesh.status?.desiredReplicas;
  if (previous !== undefined && previous !== m) {
    events.push({
      type: 'Normal',
      reason: m > previous ? 'ScalingUp' : 'ScalingDown',
      message: `scaling from ${plural(previous, 'reflector')} to ${m}${spec.scaling.mode === 'Model' && sizing.reason ? `: ${sizing.reason}` : ''}`,
    });
  }

  const drain = (pod: PodView, reason: string, exclude: string[]) => {
    const report = reports.get(pod.name);
    // Not ready but answering with clients (say, its data sockets failed): still drain it first.
    if (!report || heldClients(report) === 0) {
      actions.push({ type: 'deletePod', pod: pod.name, reason: `${reason} (${report ? 'no clients' : 'unreachable'})` });
      deleting.add(pod.name);
    } else {
      actions.push({ type: 'drain', pod: pod.name, exclude, reason });
      events.push({ type: 'Normal', reason: 'Draining', message: `draining reflector ${pod.name} (${plural(heldClients(report), 'client')}): ${reason}` });
      progress.draining = [...(progress.draining ?? []), pod.name];
    }
    goingAway.add(pod.name);
  };
  const others = (names: string[]) => [...new Set([...names, ...draining.map((p) => p.name)])];
  // ExternalIP mode: the operator places each new reflector itself (see placement.ts).
  const taken = new Set<string>();
  const create = (reason: string): boolean => {
    if (spec.placement.addressType !== 'ExternalIP') {
      actions.push({ type: 'createPod', reason });
      return true;
    }
    const choice = chooseNode(spec, observed.nodes ?? [], pods, taken);
    if ('problem' in choice) {
      progress.noNode = choice.problem;
      return false;
    }
    taken.add(choice.node);
    actions.push({ type: 'createPod', reason, node: { name: choice.node, address: choice.address } });
    return true;
  };

  const outdated = active.filter((p) => p.templateHash !== observed.templateHash);
  const allReady = active.every((p) => p.ready && reports.has(p.name));
  if (active.length < m) {
    const missing = Math.min(m - active.length, MAX_CREATES_PER_PASS);
    for (let i = 0; i < missing; i++) if (!create(`${active.length + i + 1} of ${m}`)) break;
    progress.creating = missing;
    if (failed.length === 0 && (previous === undefined || previous === m)) {
      events.push({ type: 'Normal', reason: 'CreatingReflectors', message: `creating ${plural(missing, 'reflector')} to reach ${m}` });
    }
  } else if (m === 0) {
    // Nowhere to move clients to: each reflector hands what it can to its peers on SIGTERM.
    for (const victim of removalOrder(active, observed)) {
      actions.push({ type: 'deletePod', pod: victim.name, reason: 'scaled to zero' });
      remove(victim.name);
    }
  } else if (outdated.length > 0 && active.length === m + 1) {
    // Roll-out, second step: the surge reflector is up (or cannot be placed): the oldest goes. A
    // surge is only unplaceable once no terminating pod holds a node: the reflector drained before
    // it may still be leaving, and draining the next one then left m-1 serving (seen in e2e).
    const surge = active.find((p) => p.templateHash === observed.templateHash && !(p.ready && reports.has(p.name)));
    if (!surge || (surge.unschedulable && !pods.some((p) => p.terminating))) {
      const [victim] = removalOrder(outdated, observed);
      drain(victim!, 'rolling out a new pod template', others([]));
    }
    progress.rollingOut = outdated.length;
  } else if (active.length > m) {
    const victims = removalOrder(active, observed).slice(0, active.length - m);
    const names = victims.map((v) => v.name);
    for (const victim of victims) drain(victim, `scaling down to ${m}`, others(names.filter((n) => n !== victim.name)));
  } else if (outdated.length > 0 && m > 0) {
    // Roll-out, first step: one new reflector beside the others, so clients always have a place.
    if (allReady && draining.length === 0 && create('roll-out surge')) {
      events.push({
        type: 'Normal',
        reason: 'RollingOut',
        message: `rolling out a new pod template: ${plural(outdated.length, 'reflector')} to replace, one at a time`,
      });
    }
    progress.rollingOut = outdated.length;
  }

  // Full-mesh wiring: every reachable reflector that stays gets the list of all the others.
  const members = running.filter((p) => reports.has(p.name) && !deleting.has(p.name) && p.hostIP);
  // A deleted pod's reflector hands its clients over on SIGTERM (make before break): it stays in the
  // others' lists while it holds any, or they drop its forwarded datagrams as from an unknown peer and
  // its migrations cannot complete. It gets no list itself: it keeps the one it has until it exits.
  const leaving = pods.filter((p) => p.terminating && p.hostIP && (observed.leaving?.get(p.name)?.clients.length ?? 0) > 0);
  let rewiring = 0;
  let unpeered = 0;
  for (const pod of members) {
    const peers = [...members, ...leaving].filter((p) => p !== pod).map((p) => reflectorInfo(p, spec)!);
    const want = peers.map((p) => p.id).sort();
    const have = [...reports.get(pod.name)!.peers].sort();
    if (want.length !== have.length || want.some((id, i) => id !== have[i])) {
      actions.push({ type: 'setPeers', pod: pod.name, peers });
      rewiring++;
      // A stale extra peer is harmless for serving; a missing one splits the mesh.
      if (want.some((id) => !have.includes(id))) unpeered++;
    }
  }
  if (rewiring > 0) progress.wiring = rewiring;
  if (unpeered > 0) progress.unpeered = unpeered;

  // Rebalance only a settled mesh: nothing created, going, rewired or in flight.
  const settled =
    actions.length === 0 &&
    draining.length === 0 &&
    allReady &&
    active.length === m &&
    active.every((p) => reports.get(p.name)!.clients.every((c) => c.state === 'active'));
  if (settled && m > 1) {
    const current: Record<string, string[]> = {};
    const roles: Record<string, Role> = {};
    for (const pod of active) {
      const clients = reports.get(pod.name)!.clients;
      current[pod.name] = clients.map((c) => c.clientId);
      for (const c of clients) roles[c.clientId] = c.role;
    }
    const rebalance = planRebalance({ current, reflectors: active.map((p) => p.name), roles });
    const moves = rebalance.migrations.slice(0, MAX_MIGRATIONS_PER_PASS);
    for (const move of moves) actions.push({ type: 'migrate', pod: move.from, clientId: move.client, to: move.to });
    if (moves.length > 0) {
      progress.migrating = rebalance.migrations.length;
      events.push({
        type: 'Normal',
        reason: 'Rebalancing',
        message: `moving ${plural(rebalance.migrations.length, 'client')} to even the load at ${rebalance.clientsPerReflector} per reflector`,
      });
    }
  }

  if (actions.length > 0 || progress.rollingOut || (active.length > 0 && !allReady)) requeue(BUSY_REQUEUE_MS);
  const status = computeStatus(observed, spec, { sizing, progress, goingAway });
  const decision: Decision = { actions, events, status };
  if (requeueAfterMs !== undefined) decision.requeueAfterMs = requeueAfterMs;
  if (sizing.admissionLimit !== undefined) decision.limits = { maxClients: sizing.admissionLimit };
  return decision;
}
