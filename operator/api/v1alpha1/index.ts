// The rmesh.io/v1alpha1 API: the ReflectorMesh types, their schema and the generated CRD.
export * from './reflectormesh.js';
export { buildCrd, crdYaml, CRD_NAME, toKubeSchema } from './crd.js';
export * from './autoscaling.js';
