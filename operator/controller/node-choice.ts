// Where a reflector goes when the mesh advertises node ExternalIP addresses. A pod cannot learn its
// node's external address from the downward API, so in that mode the operator chooses the node itself
// (pinned by required node affinity, node-pin.ts; the scheduler binds) and writes the address into the
// pod (RMESH_ADVERTISE_ADDRESS). Pure; the filters
// mirror the scheduler's for what spec.placement asks: readiness, cordons, nodeSelector, taints
// and tolerations, one reflector of a mesh per node. Resources are left to the kubelet's admission.
import type { ReflectorMeshSpec } from '../api/v1alpha1/index.js';
import type { NodeView, PodView } from './observed.js';

export type NodeChoice = { node: string; address: string } | { problem: string };

function tolerated(taint: NodeView['taints'][number], spec: ReflectorMeshSpec): boolean {
  if (taint.effect === 'PreferNoSchedule') return true;
  return (spec.placement.tolerations ?? []).some(
    (t) =>
      (t.effect === undefined || t.effect === taint.effect) &&
      (t.operator === 'Exists' ? t.key === undefined || t.key === '' || t.key === taint.key : t.key === taint.key && (t.value ?? '') === (taint.value ?? '')),
  );
}

/** The node for the next reflector, or why there is none. `taken`: nodes chosen earlier in this pass. */
export function chooseNode(spec: ReflectorMeshSpec, nodes: NodeView[], pods: PodView[], taken: Set<string>): NodeChoice {
  const occupied = new Map<string, number>();
  for (const p of pods) if (p.node && !p.terminating) occupied.set(p.node, (occupied.get(p.node) ?? 0) + 1);
  for (const n of taken) occupied.set(n, (occupied.get(n) ?? 0) + 1);
  const reasons = new Map<string, number>();
  const reject = (why: string) => reasons.set(why, (reasons.get(why) ?? 0) + 1);
  const feasible = nodes.filter((n) => {
    if (!n.ready) return reject('not ready'), false;
    if (n.unschedulable) return reject('cordoned'), false;
    if (Object.entries(spec.placement.nodeSelector ?? {}).some(([k, v]) => n.labels[k] !== v)) return reject('not matching spec.placement.nodeSelector'), false;
    if (n.taints.some((t) => !tolerated(t, spec))) return reject('tainted'), false;
    if (spec.placement.onePerNode && occupied.has(n.name)) return reject('already running a reflector of this mesh'), false;
    if (!n.externalIP) return reject('without an ExternalIP address'), false;
    return true;
  });
  const best = feasible.sort((a, b) => (occupied.get(a.name) ?? 0) - (occupied.get(b.name) ?? 0) || a.name.localeCompare(b.name))[0];
  if (best) return { node: best.name, address: best.externalIP! };
  const why = [...reasons].map(([r, n]) => `${n} ${r}`).join(', ');
  return { problem: `no node can take another reflector with an ExternalIP address (${nodes.length} nodes${why ? `: ${why}` : ''})` };
}
