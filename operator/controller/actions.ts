// What a reconcile pass may do and tell: the actions the applier carries out and the events it records.
// decide() and its phases (phases/) produce them; apply.ts is the only place that performs them.
import type { V1PodDisruptionBudget, V1Secret } from '@kubernetes/client-node';
import type { ReflectorInfo } from '../../protocol/api-schemas.js';

export type Action =
  /** Create a Secret the operator owns (the generated mesh key); it fails the pass if one appeared meanwhile. */
  | { type: 'createSecret'; secret: V1Secret; reason: string }
  /** Create or replace a Secret the operator owns (a regenerated mesh key, a key-set rotation step). */
  | { type: 'writeSecret'; secret: V1Secret; reason: string }
  /**
   * Create the mesh's PodDisruptionBudget, or replace it when `budget` carries the resourceVersion of the
   * one observed (disruption-budget.ts).
   */
  | { type: 'writeDisruptionBudget'; budget: V1PodDisruptionBudget; reason: string }
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
