// Phase 4: a changed pod template rolls out one reflector at a time, surge first: one new reflector
// beside the others (so clients always have a place), then the old one with the fewest clients is
// drained; if the new one cannot be placed, the old one goes first.
//
// And one mesh at a time across the operator: an operator upgrade changes the default reflector image
// (so the template of every mesh that names none), and rolling every mesh at once would move every
// client of the cluster at once. rollOutTurn() says whose turn it is; a mesh that is not it starts no
// step (a step under way, the surge already made, is finished). A mesh that pins spec.reflector.image
// is not touched by an operator upgrade at all.
import { createAction, drainOrDelete, isServing, plural, removalOrder, type Pass, type PhaseResult } from './pass.js';
import { isRollOutSurge, outdatedPods } from './scale.js';

/** How long past its grace period a Terminating pod counts as stuck (its node lost). */
export const STUCK_TERMINATING_MS = 60_000;

/** What the operator's caches say of one mesh, for the one-mesh-at-a-time rule. */
export interface MeshRollOutState {
  /** namespace/name */
  key: string;
  /** Creation time, ms since the epoch (the oldest mesh goes first). */
  createdMs: number;
  /** Live pods on an older template than the mesh asks for now. */
  outdated: number;
  /** Live pods on the current template: with outdated ones beside them, the roll-out has started. */
  current: number;
}

/**
 * Whose turn it is to roll out, or undefined when no mesh needs to. The mesh holding the turn keeps it
 * while it still has outdated pods; otherwise the turn goes to the first, oldest mesh first then by
 * namespace/name, of the meshes that have started (after an operator restart the memory of the holder
 * is gone, but its new pods beside the old ones say who it was), else of those that need a roll-out.
 */
export function rollOutTurn(meshes: readonly MeshRollOutState[], holder: string | undefined): string | undefined {
  const needing = meshes.filter((m) => m.outdated > 0);
  if (holder !== undefined && needing.some((m) => m.key === holder)) return holder;
  const order = (a: MeshRollOutState, b: MeshRollOutState) => a.createdMs - b.createdMs || a.key.localeCompare(b.key);
  const started = needing.filter((m) => m.current > 0).sort(order);
  return (started[0] ?? [...needing].sort(order)[0])?.key;
}

export function rollOut(pass: Pass, size: number): PhaseResult {
  const { observed, active } = pass;
  const outdated = outdatedPods(pass);
  if (outdated.length === 0 || size === 0) return { actions: [], events: [] };
  const progress = { rollingOut: outdated.length };

  if (isRollOutSurge(pass, size)) {
    // Second step: the surge reflector is up (or cannot be placed): the oldest goes. A surge is only
    // unplaceable once no terminating pod holds a node: the reflector drained before it may still be
    // leaving, and draining the next one then left m-1 serving (seen in e2e).
    const surge = active.find((p) => p.templateHash === observed.templateHash && !isServing(pass, p));
    // A pod still Terminating well past its grace period is on a lost node (the kubelet cannot confirm
    // its end): it holds no node the surge could use in any useful time, so it does not block.
    const leaving = observed.pods.some((p) => p.terminating && !(p.deletionMs !== undefined && observed.nowMs - p.deletionMs > STUCK_TERMINATING_MS));
    if (surge && !(surge.unschedulable && !leaving)) return { actions: [], events: [], progress };
    const [victim] = removalOrder(outdated, observed);
    const result = drainOrDelete(pass, victim!, 'rolling out a new pod template', pass.draining.map((p) => p.name));
    return { ...result, progress: { ...result.progress, ...progress } };
  }
  if (active.length !== size) return { actions: [], events: [] };

  // One mesh at a time: another mesh's turn, so this one starts no step.
  const self = `${observed.mesh.metadata.namespace}/${observed.mesh.metadata.name}`;
  if (observed.rollOutTurn !== undefined && observed.rollOutTurn !== self) {
    return { actions: [], events: [], progress: { ...progress, rollOutQueuedBehind: observed.rollOutTurn } };
  }
  // First step, only on a settled mesh: every reflector ready and none draining.
  if (!active.every((p) => isServing(pass, p)) || pass.draining.length > 0) return { actions: [], events: [], progress };
  const action = createAction(pass, 'roll-out surge', new Set());
  if (typeof action === 'string') return { actions: [], events: [], progress: { ...progress, noNode: action } };
  return {
    actions: [action],
    events: [{ type: 'Normal', reason: 'RollingOut', message: `rolling out a new pod template: ${plural(outdated.length, 'reflector')} to replace, one at a time` }],
    progress,
  };
}
