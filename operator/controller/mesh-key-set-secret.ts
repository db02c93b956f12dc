// The key-set Secret `<mesh>-mesh-keys` (docs/security.md "Rotating the mesh key"): what the reflector
// pods hold, mounted as their key file (a Secret volume updates in place, and the reflector reads the
// file every second, so a step needs no restart). The operator alone writes it, one rotation step at a
// time (operator/controller/key-rotation.ts), from the key the mesh's key Secret holds; the annotation
// rmesh.io/rotate-mesh-key on the mesh asks for a new generated key (any new value, e.g. a date).
import type { V1Secret } from '@kubernetes/client-node';
import { API_VERSION, KIND, type ReflectorMesh } from '../api/v1alpha1/index.js';
import type { SecretView } from '../kube/kube-api.js';
import { MeshKeyError } from '../../protocol/security/mesh-key.js';
import { formatMeshKeySet, parseMeshKeySet, type MeshKeySet } from '../../protocol/security/mesh-key-set.js';
import { DEFAULT_KEY_OVERLAP_MS } from './key-rotation.js';
import { APP_NAME, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_MESH, LABEL_NAME, MANAGER } from './labels.js';

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
export const ROTATED_FOR = 'rotated-for';

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
export function adminSigningKey(mesh: ReflectorMesh, keySet: SecretView | undefined, fallback: Buffer | undefined): Buffer | undefined {
  const text = keySet?.data[KEY_SET_SECRET_KEY];
  if (text === undefined) return fallback;
  try {
    return parseMeshKeySet(text, `Secret ${mesh.metadata.namespace}/${keySetSecretName(mesh)}`).current;
  } catch (err) {
    if (err instanceof MeshKeyError) return fallback; // the mesh-key phase reports the problem
    throw err;
  }
}

export function overlapMs(mesh: ReflectorMesh): number {
  const text = mesh.metadata.annotations?.[OVERLAP_ANNOTATION];
  const seconds = text === undefined ? NaN : Number(text);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : DEFAULT_KEY_OVERLAP_MS;
}
