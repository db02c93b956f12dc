// The key-set Secret `<mesh>-mesh-keys` (docs/security.md "Rotating the mesh key"): what the reflector
// pods hold, mounted as their key file (a Secret volume updates in place, and the reflector reads the
// file every second, so a step needs no restart). The operator alone writes it, one rotation step at a
// time (operator/controller/key-rotation.ts), from the key the mesh's key Secret holds; the annotation
// rmesh.io/rotate-mesh-key on the mesh asks for a new generated key (any new value, e.g. a date).
import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { API_VERSION, KIND, type ReflectorMesh, type ReflectorMeshSpec } from '../api/v1alpha1/index.js';
import type { KubeApi } from '../kube/kube-api.js';
import { MeshKeyError, parseMeshKeyBase64 } from '../../protocol/security/mesh-key.js';
import { formatMeshKeySet, parseMeshKeySet, type MeshKeySet } from '../../protocol/security/mesh-key-set.js';
import { decideKeyRotation, DEFAULT_KEY_OVERLAP_MS, type KeyRotationDecision } from './key-rotation.js';
import { APP_NAME, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_MESH, LABEL_NAME, MANAGER } from './labels.js';
import { buildMeshKeySecret, MESH_KEY_BYTES, meshKeySecretRef } from './mesh-key-secret.js';
import type { PodView, ReflectorReport } from './observed.js';

/** Key of the set's text in the key-set Secret, and the file name in the pods' mount. */
export const KEY_SET_SECRET_KEY = 'keys';
/** When the set last changed (ms since the epoch): the overlap is counted from it. */
export const KEY_SET_CHANGED_AT = 'changed-at';
/** Where reflector pods mount the key-set Secret. */
export const KEY_SET_MOUNT_PATH = '/etc/rmesh/mesh-keys';
/** On a mesh: a new value asks the operator for a new generated mesh key. */
export const ROTATE_ANNOTATION = 'rmesh.io/rotate-mesh-key';
/** On a mesh: seconds between signing with a new key and dropping the old one (default 600). */
export const OVERLAP_ANNOTATION = 'rmesh.io/mesh-key-overlap-seconds';
/** In the generated key Secret: the rotate annotation's value the key was made for. */
const ROTATED_FOR = 'rotated-for';

export function keySetSecretName(mesh: { metadata: { name: string } }): string {
  return `${mesh.metadata.name}-mesh-keys`;
}

export function buildKeySetSecret(mesh: ReflectorMesh, set: MeshKeySet, atMs: number): V1Secret {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: keySetSecretName(mesh),
      namespace: mesh.metadata.namespace,
      labels: { [LABEL_NAME]: APP_NAME, [LABEL_INSTANCE]: mesh.metadata.name, [LABEL_MANAGED_BY]: MANAGER, [LABEL_MESH]: mesh.metadata.name },
      ownerReferences: [{ apiVersion: API_VERSION, kind: KIND, name: mesh.metadata.name, uid: mesh.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    type: 'Opaque',
    data: { [KEY_SET_SECRET_KEY]: b64(formatMeshKeySet(set)), [KEY_SET_CHANGED_AT]: b64(String(atMs)) },
  };
}

/**
 * The key the operator signs its admin requests with: the current key of the published set, which
 * every reflector accepts at every step of a rotation (the mesh's key Secret may already hold the next
 * key, which reflectors accept only from step 1). `fallback` (the mesh key Secret's key) before any set
 * is published; undefined when the set's current key is `open` (requests go unsigned).
 */
export async function adminSigningKey(kube: KubeApi, mesh: ReflectorMesh, fallback: Buffer | undefined): Promise<Buffer | undefined> {
  const stored = await kube.readSecret(mesh.metadata.namespace, keySetSecretName(mesh));
  const text = stored?.data[KEY_SET_SECRET_KEY];
  if (text === undefined) return fallback;
  try {
    return parseMeshKeySet(text, `Secret ${mesh.metadata.namespace}/${keySetSecretName(mesh)}`).current;
  } catch (err) {
    if (err instanceof MeshKeyError) return fallback; // syncMeshKeySet reports the problem
    throw err;
  }
}

export function overlapMs(mesh: ReflectorMesh): number {
  const text = mesh.metadata.annotations?.[OVERLAP_ANNOTATION];
  const seconds = text === undefined ? NaN : Number(text);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : DEFAULT_KEY_OVERLAP_MS;
}

export interface KeySetSync extends KeyRotationDecision {
  /** A new generated key was made for the rotate annotation. */
  regenerated?: boolean;
  /** Why the key set cannot be kept (for the mesh's status). */
  problem?: string;
}

/**
 * One pass: a new generated key if the rotate annotation asks for one, then the next step of the key
 * set published when every running reflector holds the one before (their reports say which).
 */
export async function syncMeshKeySet(
  kube: KubeApi,
  mesh: ReflectorMesh,
  spec: ReflectorMeshSpec,
  pods: readonly PodView[],
  reports: ReadonlyMap<string, ReflectorReport>,
  nowMs: number,
): Promise<KeySetSync> {
  const namespace = mesh.metadata.namespace;
  const ref = meshKeySecretRef(mesh, spec);
  const source = (await kube.readSecret(namespace, ref.name))?.data;
  if (!source?.[ref.key]) return {}; // ensureMeshKeySecret says what is missing
  let desiredText = source[ref.key]!;
  let regenerated = false;
  const rotate = mesh.metadata.annotations?.[ROTATE_ANNOTATION];
  if (ref.generated && rotate && source[ROTATED_FOR] !== rotate) {
    const fresh = buildMeshKeySecret(mesh, randomBytes(MESH_KEY_BYTES));
    fresh.data![ROTATED_FOR] = Buffer.from(rotate, 'utf8').toString('base64');
    await kube.writeSecret(namespace, fresh);
    desiredText = Buffer.from(fresh.data![ref.key]!, 'base64').toString('utf8');
    regenerated = true;
  }
  let desired: Buffer;
  let published: MeshKeySet | undefined;
  const stored = (await kube.readSecret(namespace, keySetSecretName(mesh)))?.data;
  try {
    desired = parseMeshKeyBase64(desiredText, `Secret ${namespace}/${ref.name} key "${ref.key}"`);
    if (stored?.[KEY_SET_SECRET_KEY] !== undefined) published = parseMeshKeySet(stored[KEY_SET_SECRET_KEY], `Secret ${namespace}/${keySetSecretName(mesh)}`);
  } catch (err) {
    if (err instanceof MeshKeyError) return { problem: err.message };
    throw err;
  }
  const running = pods.filter((p) => p.phase === 'Running' && !p.terminating).map((p) => p.name);
  const changedAt = Number(stored?.[KEY_SET_CHANGED_AT]);
  const decision = decideKeyRotation({
    desired,
    published,
    publishedAtMs: Number.isFinite(changedAt) ? changedAt : undefined,
    pods: running,
    reported: new Map(running.map((name) => [name, reports.get(name)?.meshKeys])),
    nowMs,
    overlapMs: overlapMs(mesh),
  });
  if (decision.publish) await kube.writeSecret(namespace, buildKeySetSecret(mesh, decision.publish.set, nowMs));
  return { ...decision, ...(regenerated ? { regenerated } : {}) };
}
