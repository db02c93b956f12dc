// The mesh key's Secret (docs/security.md "Authenticated peers"): the one the spec names, or else
// `<mesh>-mesh-key`, which the operator creates once with 32 random bytes (base64, what RMESH_MESH_KEY
// takes through a secretKeyRef) and an owner reference to the mesh, so deleting the mesh deletes it.
// An existing Secret is never overwritten, except on the rotate annotation (mesh-key-set-secret.ts).
// Creating it is an action of the mesh-key phase (phases/mesh-key.ts); observe only reads. A Secret the operator did not make for this mesh is
// used only when it opted in (secret-use.ts).
import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { API_VERSION, KIND, type ReflectorMesh, type ReflectorMeshSpec } from '../api/v1alpha1/index.js';
import type { SecretView } from '../kube/kube-api.js';
import { MeshKeyError, parseMeshKeyBase64 } from '../../protocol/security/mesh-key.js';
import { APP_NAME, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_MESH, LABEL_NAME, MANAGER } from './labels.js';
import { secretUseRefusal } from './secret-use.js';

/** Key in the generated Secret. */
export const MESH_KEY_SECRET_KEY = 'key';
/** Bytes of a generated mesh key. */
export const MESH_KEY_BYTES = 32;

export interface MeshKeyRef {
  name: string;
  key: string;
  /** True for `<mesh>-mesh-key`, which the operator creates when missing. */
  generated: boolean;
}

export function meshKeySecretRef(mesh: ReflectorMesh, spec: ReflectorMeshSpec): MeshKeyRef {
  const ref = spec.auth?.meshKeySecretRef;
  if (ref) return { name: ref.name, key: ref.key, generated: false };
  return { name: generatedSecretName(mesh), key: MESH_KEY_SECRET_KEY, generated: true };
}

function generatedSecretName(mesh: ReflectorMesh): string {
  return `${mesh.metadata.name}-mesh-key`;
}

/** The Secret the operator creates for a mesh that names none. */
export function buildMeshKeySecret(mesh: ReflectorMesh, key: Buffer = randomBytes(MESH_KEY_BYTES)): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: generatedSecretName(mesh),
      namespace: mesh.metadata.namespace,
      labels: { [LABEL_NAME]: APP_NAME, [LABEL_INSTANCE]: mesh.metadata.name, [LABEL_MANAGED_BY]: MANAGER, [LABEL_MESH]: mesh.metadata.name },
      ownerReferences: [{ apiVersion: API_VERSION, kind: KIND, name: mesh.metadata.name, uid: mesh.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    type: 'Opaque',
    data: { [MESH_KEY_SECRET_KEY]: Buffer.from(key.toString('base64'), 'utf8').toString('base64') },
  };
}

/** The mesh key a Secret holds, when it is there, may be used and parses (what admin requests are signed with). */
export function meshKeyIn(mesh: ReflectorMesh, ref: MeshKeyRef, secret: SecretView | undefined): Buffer | undefined {
  if (!secret || secretUseRefusal(mesh, ref.name, secret, 'mesh-key')) return undefined;
  const value = secret.data[ref.key];
  if (!value) return undefined;
  try {
    return parseMeshKeyBase64(value, `Secret ${mesh.metadata.namespace}/${ref.name} key "${ref.key}"`);
  } catch (err) {
    if (err instanceof MeshKeyError) return undefined; // the mesh-key phase reports it
    throw err;
  }
}
