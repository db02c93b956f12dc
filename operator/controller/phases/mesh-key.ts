// Phase 0: the mesh key's Secrets (docs/security.md "Authenticated peers", "Rotating the mesh key").
// From the Secrets observe read: create `<mesh>-mesh-key` when the mesh names none and it is missing,
// make a new one when the rotate annotation asks, and move the published key set one rotation step
// (key-rotation.ts). The random bytes of a new key come from observe, so this stays pure.
import type { ReflectorMeshSpec } from '../../api/v1alpha1/index.js';
import { MeshKeyError, parseMeshKeyBase64 } from '../../../protocol/security/mesh-key.js';
import { parseMeshKeySet, type MeshKeySet } from '../../../protocol/security/mesh-key-set.js';
import { decideKeyRotation } from '../key-rotation.js';
import { buildMeshKeySecret, meshKeySecretRef } from '../mesh-key-secret.js';
import { buildKeySetSecret, KEY_SET_CHANGED_AT, KEY_SET_SECRET_KEY, keySetSecretName, overlapMs, ROTATE_ANNOTATION, ROTATED_FOR } from '../mesh-key-set-secret.js';
import type { Observed } from '../observed.js';
import { secretUseRefusal } from '../secret-use.js';
import type { PhaseResult } from './pass.js';

export interface MeshKeyResult extends PhaseResult {
  /** Why the reflectors cannot get their key (the Degraded condition's SecretMissing). */
  problem?: string;
  /** The named Secret did not opt in (secret-use.ts): nothing may carry it to a pod. */
  refused?: string;
}

const STEP_MESSAGES = {
  accept: 'step 1 of 3: every reflector accepts the new mesh key',
  sign: 'step 2 of 3: the reflectors sign with the new mesh key; the old one is still accepted',
  drop: 'step 3 of 3: the old mesh key is no longer accepted',
} as const;

export function meshKeyPhase(observed: Observed, spec: ReflectorMeshSpec): MeshKeyResult {
  const result: MeshKeyResult = { actions: [], events: [] };
  const read = observed.meshKeys;
  if (!read) return result; // not read this pass (a test scene about something else)
  const { mesh } = observed;
  const namespace = mesh.metadata.namespace;
  const ref = meshKeySecretRef(mesh, spec);
  let text: string;
  if (!read.source) {
    if (!ref.generated) {
      result.problem = `Secret ${namespace}/${ref.name} (spec.auth.meshKeySecretRef) does not exist; create it (kubectl create secret generic ${ref.name} --from-literal=${ref.key}=$(head -c 32 /dev/urandom | base64)), the reflector pods cannot start without it`;
      return result;
    }
    result.actions.push({ type: 'createSecret', secret: buildMeshKeySecret(mesh, read.fresh), reason: 'the mesh names no key Secret: generating one' });
    text = read.fresh.toString('base64');
  } else {
    // Checked before anything of its content is looked at (or reported).
    const refused = secretUseRefusal(mesh, ref.name, read.source, 'mesh-key');
    if (refused) return { ...result, refused };
    const value = read.source.data[ref.key];
    if (!value) return { ...result, problem: `Secret ${namespace}/${ref.name} has no key "${ref.key}" (the mesh key)` };
    text = value;
    const rotate = mesh.metadata.annotations?.[ROTATE_ANNOTATION];
    if (ref.generated && rotate && read.source.data[ROTATED_FOR] !== rotate) {
      const fresh = buildMeshKeySecret(mesh, read.fresh);
      fresh.data![ROTATED_FOR] = Buffer.from(rotate, 'utf8').toString('base64');
      result.actions.push({ type: 'writeSecret', secret: fresh, reason: `${ROTATE_ANNOTATION}=${rotate}` });
      result.events.push({ type: 'Normal', reason: 'MeshKeyGenerated', message: `a new mesh key was generated (${ROTATE_ANNOTATION}); the reflectors move to it in three steps` });
      text = read.fresh.toString('base64');
    }
  }

  let desired: Buffer;
  let published: MeshKeySet | undefined;
  const stored = read.keySet?.data;
  try {
    // The reflector's own check of RMESH_MESH_KEY: what it would refuse at start is reported here.
    desired = parseMeshKeyBase64(text, `Secret ${namespace}/${ref.name} key "${ref.key}"`);
    if (stored?.[KEY_SET_SECRET_KEY] !== undefined) published = parseMeshKeySet(stored[KEY_SET_SECRET_KEY], `Secret ${namespace}/${keySetSecretName(mesh)}`);
  } catch (err) {
    if (err instanceof MeshKeyError) return { ...result, problem: err.message };
    throw err;
  }
  const running = observed.pods.filter((p) => p.phase === 'Running' && !p.terminating).map((p) => p.name);
  const changedAt = Number(stored?.[KEY_SET_CHANGED_AT]);
  const rotation = decideKeyRotation({
    desired,
    published,
    publishedAtMs: Number.isFinite(changedAt) ? changedAt : undefined,
    pods: running,
    reported: new Map(running.map((name) => [name, observed.reports.get(name)?.meshKeys])),
    nowMs: observed.nowMs,
    overlapMs: overlapMs(mesh),
  });
  if (rotation.requeueAfterMs !== undefined) result.requeueAfterMs = rotation.requeueAfterMs;
  const step = rotation.publish?.step;
  if (rotation.publish) {
    result.actions.push({ type: 'writeSecret', secret: buildKeySetSecret(mesh, rotation.publish.set, observed.nowMs), reason: `mesh key set: ${step}` });
  }
  if (step && step !== 'initial') result.events.push({ type: 'Normal', reason: 'MeshKeyRotation', message: STEP_MESSAGES[step] });
  return result;
}
