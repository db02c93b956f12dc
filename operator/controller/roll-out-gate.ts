// The one-mesh-at-a-time roll-out across the operator (the rule is phases/roll-out.ts, rollOutTurn):
// which mesh holds the turn, remembered between passes. The meshes' states come from the informer
// caches, and the turn is taken in the same synchronous step as the decision that acts on it, so two
// workers (on two meshes) cannot both start a roll-out. After a restart the memory is empty, and the
// caches say who had started (new pods beside old ones).
import type { V1Pod } from '@kubernetes/client-node';
import { resolveSpec, type ReflectorMesh } from '../api/v1alpha1/index.js';
import { LABEL_TEMPLATE_HASH } from './labels.js';
import { rollOutTurn, type MeshRollOutState } from './phases/roll-out.js';
import { desiredTemplateHash } from './pod-template.js';

function toMs(value: Date | string | undefined): number {
  if (value === undefined) return 0;
  return value instanceof Date ? value.getTime() : Date.parse(value);
}

/** Each mesh's outdated and current live pods, as the caches hold them. */
export function rollOutStates(meshes: readonly ReflectorMesh[], pods: readonly V1Pod[], defaultImage: string): MeshRollOutState[] {
  const byOwner = new Map<string, V1Pod[]>();
  for (const pod of pods) {
    if (pod.metadata?.deletionTimestamp) continue;
    if (pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded') continue;
    const owner = pod.metadata?.ownerReferences?.find((r) => r.controller)?.uid;
    if (owner) byOwner.set(owner, [...(byOwner.get(owner) ?? []), pod]);
  }
  const states: MeshRollOutState[] = [];
  for (const mesh of meshes) {
    const { spec, errors } = resolveSpec(mesh.spec);
    if (errors.length > 0) continue; // an invalid mesh does nothing, so it holds no turn
    // Scaled to zero: its last reflector, old or not, waits for its clients to leave, not for a roll-out.
    if (spec.scaling.mode !== 'Model' && (spec.replicas ?? 0) === 0) continue;
    const hash = desiredTemplateHash(mesh, spec, defaultImage);
    const own = byOwner.get(mesh.metadata.uid) ?? [];
    const current = own.filter((p) => p.metadata?.labels?.[LABEL_TEMPLATE_HASH] === hash).length;
    states.push({ key: `${mesh.metadata.namespace}/${mesh.metadata.name}`, createdMs: toMs(mesh.metadata.creationTimestamp), outdated: own.length - current, current });
  }
  return states;
}

export class RollOutGate {
  private holder: string | undefined;

  /**
   * Whose turn it is now (remembered until that mesh has no outdated pod), and the mesh that just got
   * it, if the turn passed (the controller queues it at once rather than at its next refresh).
   */
  turn(states: readonly MeshRollOutState[]): { turn: string | undefined; passedTo?: string } {
    const next = rollOutTurn(states, this.holder);
    const passed = next !== undefined && next !== this.holder;
    this.holder = next;
    return passed ? { turn: next, passedTo: next } : { turn: next };
  }
}
