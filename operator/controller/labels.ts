// Labels and annotations the operator puts on reflector pods, and the selector that finds them.
// The standard app.kubernetes.io labels let generic tools group the pods; rmesh.io/mesh is the
// operator's own key, stable even if a user edits the standard ones on the mesh.

export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_MESH = 'rmesh.io/mesh';
/** Hash of the pod template a pod was created from; a different hash means a roll-out is due. */
export const LABEL_TEMPLATE_HASH = 'rmesh.io/template-hash';

export const APP_NAME = 'reflector-mesh';
export const COMPONENT = 'reflector';
export const MANAGER = 'reflector-mesh-operator';

/** The labels every reflector pod of a mesh carries (without the template hash). */
export function reflectorLabels(mesh: string): Record<string, string> {
  return {
    [LABEL_NAME]: APP_NAME,
    [LABEL_INSTANCE]: mesh,
    [LABEL_COMPONENT]: COMPONENT,
    [LABEL_MANAGED_BY]: MANAGER,
    [LABEL_MESH]: mesh,
  };
}

/** The selector of one mesh's pods, as the string the scale subresource reports. */
export function meshSelector(mesh: string): string {
  return `${LABEL_COMPONENT}=${COMPONENT},${LABEL_MESH}=${mesh}`;
}

/** The selector of every mesh's pods (and of the PodDisruptionBudgets): what those informers watch. */
export const ALL_REFLECTORS_SELECTOR = `${LABEL_MANAGED_BY}=${MANAGER},${LABEL_MESH}`;
