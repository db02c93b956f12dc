// The reconcile decisions, pure (as Agones' computeReconciliationAction): from what was observed of a
// mesh, the actions that move it toward its desired state, the events worth telling a human, and the
// status to write. The controller only observes, calls decide(), and hands the result to the applier.
//
// decide() runs small phases in order, each a pure function in phases/ returning its actions and
// events, so every rule lives in one tested place:
//   0. mesh key     phases/mesh-key.ts        the key Secret (created once), its rotation steps
//   1. replace      phases/replace-failed.ts  exited pods are deleted (scale creates their successors)
//   2. drains       phases/finish-drains.ts   drained, unreachable or timed-out reflectors are deleted
//   3. scale        phases/scale.ts           desiredSize(), then create the missing / drain the surplus
//   4. roll out     phases/roll-out.ts        a new pod template, one reflector at a time, surge first,
//                                             one mesh of the operator's at a time
//   5. wire         phases/wire.ts            every staying reflector gets the list of all the others
//   6. rebalance    phases/rebalance.ts       a settled mesh is evened by client migrations
//   7. disruption   phases/disruption.ts      the PodDisruptionBudget follows the desired size
import { resolveSpec, type ReflectorMeshStatus } from '../api/v1alpha1/index.js';
import type { Action, MeshEvent } from './actions.js';
import type { Observed } from './observed.js';
import { describeFailures } from './failures.js';
import { disruptionPhase } from './phases/disruption.js';
import { finishDrains } from './phases/finish-drains.js';
import { meshKeyPhase } from './phases/mesh-key.js';
import { BUSY_REQUEUE_MS, isServing, makePass, merge, type PhaseResult } from './phases/pass.js';
import { rebalance } from './phases/rebalance.js';
import { replaceFailed } from './phases/replace-failed.js';
import { rollOut } from './phases/roll-out.js';
import { desiredSize, scale } from './phases/scale.js';
import { wire } from './phases/wire.js';
import { computeStatus } from './status.js';

export type { Action, MeshEvent } from './actions.js';
export { BUSY_REQUEUE_MS, reflectorInfo, removalOrder } from './phases/pass.js';
export { MAX_CREATES_PER_PASS } from './phases/scale.js';
export { MAX_MIGRATIONS_PER_PASS } from './phases/rebalance.js';

export interface Decision {
  actions: Action[];
  events: MeshEvent[];
  status: ReflectorMeshStatus;
  /** Look again after this long even if nothing changes (draining, scale-down delay, a roll-out). */
  requeueAfterMs?: number;
  /** Admission limits for pods created now. */
  limits?: { maxClients?: number };
  /** Scale-down removals this decision starts: the controller remembers when, for the rate policy. */
  removals?: number;
}

function joined(...parts: (string | undefined)[]): string | undefined {
  const present = parts.filter((p): p is string => p !== undefined);
  return present.length > 0 ? present.join('; ') : undefined;
}

export function decide(input: Observed): Decision {
  const { spec, errors } = resolveSpec(input.mesh.spec);
  if (errors.length > 0) {
    // The API server validates; this only happens with a stale CRD. Touch nothing, say why.
    return { actions: [], events: [], status: computeStatus(input, spec, { invalidSpec: errors.join('; ') }) };
  }

  // The Secrets' findings join what observe found of the admin token's.
  const keys = meshKeyPhase(input, spec);
  const observed: Observed = { ...input };
  const secretProblem = joined(input.secretProblem, keys.problem);
  const secretRefused = joined(input.secretRefused, keys.refused);
  if (secretProblem) observed.secretProblem = secretProblem;
  if (secretRefused) observed.secretRefused = secretRefused;
  if (secretRefused) {
    // The spec names a Secret that did not opt in (secret-use.ts): a pod created now would carry it to
    // whatever image the spec names. Touch nothing; the running reflectors go on serving.
    return {
      actions: [],
      events: [{ type: 'Warning', reason: 'SecretNotAllowed', message: secretRefused }],
      status: computeStatus(observed, spec, {}),
    };
  }

  const pass = makePass(observed, spec);
  // What the last pass saw refused: Warning events with the server's message (the status says it too).
  const refused = describeFailures(observed.failures ?? []);
  let result: PhaseResult = merge(keys, { actions: [], events: refused.events });
  result = merge(result, replaceFailed(pass));
  result = merge(result, finishDrains(pass));
  const sizing = desiredSize(pass);
  result = merge(result, scale(pass, sizing));
  result = merge(result, rollOut(pass, sizing.replicas));
  result = merge(result, wire(pass, new Set(result.deleting)));
  // The Secret writes do not unsettle the mesh; anything done to its reflectors does.
  const busy = result.actions.some((a) => a.type !== 'writeSecret' && a.type !== 'createSecret');
  result = merge(result, rebalance(pass, sizing.replicas, busy));
  result = merge(result, disruptionPhase(pass, sizing.replicas));

  const progress = result.progress ?? {};
  // A roll-out waiting for its turn is not in motion: the controller queues the mesh when its turn comes.
  const rolling = progress.rollingOut !== undefined && progress.rollOutQueuedBehind === undefined;
  const inMotion = result.actions.length > 0 || rolling || (pass.active.length > 0 && !pass.active.every((p) => isServing(pass, p)));
  const requeues = [result.requeueAfterMs, inMotion ? BUSY_REQUEUE_MS : undefined].filter((x): x is number => x !== undefined);
  const status = computeStatus(observed, spec, { sizing, progress, goingAway: new Set(result.goingAway) });
  const decision: Decision = { actions: result.actions, events: result.events, status };
  if (requeues.length > 0) decision.requeueAfterMs = Math.min(...requeues);
  if (result.removals) decision.removals = result.removals;
  if (sizing.admissionLimit !== undefined) decision.limits = { maxClients: sizing.admissionLimit };
  return decision;
}
