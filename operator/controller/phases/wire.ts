// Phase 5: full-mesh wiring. Every reachable reflector that stays gets the list of all the others
// (PUT /v1/peers) when the one it reports differs, or when it says it waits for its first list (a pod
// started with --await-peer-list is not Ready before one, even when it has the peers already or the
// list is empty: the only reflector of its mesh).
//
// A list never drops a reflector that may still hold clients: a peer list is also what lets a reflector
// hand its clients over (its peers accept its forwarded datagrams and tell it when a client moved), so
// cutting it out while it drains, or on its SIGTERM, loses their datagrams and can strand them (they
// fail over). Hence a reflector deleted this pass stays listed unless it said it holds no client, one
// terminating stays while it answers with clients or, not answering, is within its grace period, and
// one that did not answer the operator this pass (a timeout on a loaded node) stays in the lists that
// have it: the operator's failed call says nothing about the reflector's peers.
import type { PodView } from '../observed.js';
import { reflectorInfo, type Pass, type PhaseResult } from './pass.js';

/** Going away, and maybe still handing clients over: kept in the others' lists, sent none itself. */
function handingOver(pass: Pass, pod: PodView, deleting: ReadonlySet<string>): boolean {
  const { observed } = pass;
  if (!pod.hostIP) return false;
  if (pod.terminating) {
    const report = observed.leaving?.get(pod.name);
    if (report) return report.clients.length > 0;
    return pod.phase === 'Running' && pod.deletionMs !== undefined && observed.nowMs < pod.deletionMs;
  }
  if (!deleting.has(pod.name) || pod.phase !== 'Running') return false;
  const report = observed.reports.get(pod.name);
  return !report || report.clients.length > 0;
}

/** `deleting`: pods the earlier phases delete this pass (out of every list unless handing over). */
export function wire(pass: Pass, deleting: ReadonlySet<string>): PhaseResult {
  const { observed, spec } = pass;
  const result: PhaseResult = { actions: [], events: [] };
  // A draining reflector stays a peer, or its clients could not move make-before-break.
  const members = pass.running.filter((p) => observed.reports.has(p.name) && !deleting.has(p.name) && p.hostIP);
  const leaving = observed.pods.filter((p) => (p.terminating || deleting.has(p.name)) && handingOver(pass, p, deleting));
  // Running, staying, not answering this pass: kept where they are listed already (never added).
  const silent = pass.running.filter((p) => !observed.reports.has(p.name) && !deleting.has(p.name) && p.hostIP);
  let rewiring = 0;
  let unpeered = 0;
  for (const pod of members) {
    const report = observed.reports.get(pod.name)!;
    const have = [...report.peers].sort();
    const kept = silent.filter((p) => have.includes(p.name));
    const peers = [...members, ...leaving, ...kept].filter((p) => p !== pod).map((p) => reflectorInfo(p, spec)!);
    const want = peers.map((p) => p.id).sort();
    if (report.awaitingPeerList === true || want.length !== have.length || want.some((id, i) => id !== have[i])) {
      result.actions.push({ type: 'setPeers', pod: pod.name, peers });
      rewiring++;
      // A stale extra peer is harmless for serving; a missing one splits the mesh.
      if (want.some((id) => !have.includes(id))) unpeered++;
    }
  }
  if (rewiring > 0) result.progress = { wiring: rewiring, ...(unpeered > 0 ? { unpeered } : {}) };
  return result;
}
