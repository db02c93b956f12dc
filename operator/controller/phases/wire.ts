// Phase 5: full-mesh wiring. Every reachable reflector that stays gets the list of all the others
// (PUT /v1/peers) when the one it reports differs.
import { reflectorInfo, type Pass, type PhaseResult } from './pass.js';

/** `deleting`: pods the earlier phases delete this pass (out of every list). */
export function wire(pass: Pass, deleting: ReadonlySet<string>): PhaseResult {
  const { observed, spec } = pass;
  const result: PhaseResult = { actions: [], events: [] };
  // A draining reflector stays a peer, or its clients could not move make-before-break.
  const members = pass.running.filter((p) => observed.reports.has(p.name) && !deleting.has(p.name) && p.hostIP);
  // A deleted pod's reflector hands its clients over on SIGTERM (make before break): it stays in the
  // others' lists while it holds any, or they drop its forwarded datagrams as from an unknown peer and
  // its migrations cannot complete. It gets no list itself: it keeps the one it has until it exits.
  const leaving = observed.pods.filter((p) => p.terminating && p.hostIP && (observed.leaving?.get(p.name)?.clients.length ?? 0) > 0);
  let rewiring = 0;
  let unpeered = 0;
  for (const pod of members) {
    const peers = [...members, ...leaving].filter((p) => p !== pod).map((p) => reflectorInfo(p, spec)!);
    const want = peers.map((p) => p.id).sort();
    const have = [...observed.reports.get(pod.name)!.peers].sort();
    if (want.length !== have.length || want.some((id, i) => id !== have[i])) {
      result.actions.push({ type: 'setPeers', pod: pod.name, peers });
      rewiring++;
      // A stale extra peer is harmless for serving; a missing one splits the mesh.
      if (want.some((id) => !have.includes(id))) unpeered++;
    }
  }
  if (rewiring > 0) result.progress = { wiring: rewiring, ...(unpeered > 0 ? { unpeered } : {}) };
  return result;
}
