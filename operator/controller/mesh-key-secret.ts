// The mesh key's Secret (docs/security.md "Authenticated peers"): the one the spec names, or else
// `<mesh>-mesh-key`, which the operator creates once with 32 random bytes (base64, what RMESH_MESH_KEY
// takes through a secretKeyRef) and an owner reference to the mesh, so deleting the mesh deletes it.
// An existing Secret is never overwritten: rotating the key is a deliberate act (edit the Secret, then
// roll the pods), not something a reconcile does. A Secret the operator did not make for this mesh is
// used only when it opted in (secret-use.ts).
import { randomBytes } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { API_VERSION, KIND, type ReflectorMesh, type ReflectorMeshSpec } from '../api/v1alpha1/index.js';
import type { KubeApi } from '../kube/kube-api.js';
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

/**
 * Makes sure the mesh's key Secret exists: creates the generated one when missing, checks a named one.
 * Returns the key (the operator signs its admin requests with it), or a problem for the mesh's status
 * when the pods cannot get their key, or `refused` when the Secret exists but may not be handed to this
 * mesh's pods (it did not opt in).
 */
export async function ensureMeshKeySecret(
  kube: KubeApi,
  mesh: ReflectorMesh,
  spec: ReflectorMeshSpec,
): Promise<{ problem?: string; refused?: string; created?: boolean; key?: Buffer }> {
  const ref = meshKeySecretRef(mesh, spec);
  const namespace = mesh.metadata.namespace;
  const secret = await kube.readSecret(namespace, ref.name);
  if (secret) {
    // Checked before anything of its content is looked at (or reported).
    const refused = secretUseRefusal(mesh, ref.name, secret, 'mesh-key');
    if (refused) return { refused };
    const value = secret.data[ref.key];
    if (!value) return { problem: `Secret ${namespace}/${ref.name} has no key "${ref.key}" (the mesh key)` };
    // The reflector's own check of RMESH_MESH_KEY: what it would refuse at start is reported here.
    try {
      return { key: parseMeshKeyBase64(value, `Secret ${namespace}/${ref.name} key "${ref.key}"`) };
    } catch (err) {
      if (err instanceof MeshKeyError) return { problem: err.message };
      throw err;
    }
  }
  if (!ref.generated) {
    return { problem: `Secret ${namespace}/${ref.name} (spec.auth.meshKeySecretRef) does not exist; create it (kubectl create secret generic ${ref.name} --from-literal=${ref.key}=$(head -c 32 /dev/urandom | base64)), the reflector pods cannot start without it` };
  }
  const key = randomBytes(MESH_KEY_BYTES);
  const created = await kube.createSecret(namespace, buildMeshKeySecret(mesh, key));
  // Created by someone else in between (false): their key is the mesh's, read at the next observe.
  return created ? { created, key } : { created };
}
