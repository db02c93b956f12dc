// Which Secrets a mesh may hand to its reflector pods (docs/security.md "Secrets through the operator").
// Whoever may create a ReflectorMesh chooses the Secret names in its spec and the reflector image; the
// operator, which can read every Secret of the namespace, would otherwise put any of them into a
// host-network pod running that image (a confused deputy). So a Secret is used only when it opted in,
// with a label its owner sets, or when the operator generated it for this very mesh. Pure.
import type { ReflectorMesh } from '../api/v1alpha1/index.js';
import type { SecretView } from '../kube/kube-api.js';
import { LABEL_MANAGED_BY, MANAGER } from './labels.js';

export type SecretPurpose = 'mesh-key' | 'admin-token';

/** The opt-in label of each purpose; its value must be "true". */
export const SECRET_OPT_IN_LABELS: Record<SecretPurpose, string> = {
  'mesh-key': 'rmesh.io/mesh-key',
  'admin-token': 'rmesh.io/admin-token',
};

const FIELDS: Record<SecretPurpose, string> = {
  'mesh-key': 'spec.auth.meshKeySecretRef',
  'admin-token': 'spec.auth.adminTokenSecretRef',
};

/** Why the mesh may not use this Secret for `purpose`, or undefined when it may. */
export function secretUseRefusal(mesh: ReflectorMesh, name: string, secret: SecretView, purpose: SecretPurpose): string | undefined {
  const label = SECRET_OPT_IN_LABELS[purpose];
  if (secret.labels[label] === 'true') return undefined;
  // Generated for this mesh: made by the operator, owned by the mesh (another mesh's is not ours).
  if (secret.labels[LABEL_MANAGED_BY] === MANAGER && secret.ownerUids.includes(mesh.metadata.uid)) return undefined;
  const namespace = mesh.metadata.namespace ?? 'default';
  return (
    `Secret ${namespace}/${name} (${FIELDS[purpose]}) has not opted in to be used by reflector meshes, so the operator does not hand it to reflector pods; ` +
    `if it is meant for this, label it: kubectl -n ${namespace} label secret ${name} ${label}=true`
  );
}
