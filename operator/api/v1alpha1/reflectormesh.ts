// The ReflectorMesh API (rmesh.io/v1alpha1): the one source of truth for the resource's schema.
// The TypeScript types are derived from these TypeBox schemas, and the CustomResourceDefinition in
// crds/ is generated from them (see crd.ts), so the two cannot drift. Fields that have a default are
// required in the TypeScript types (the API server fills them in) and optional in the CRD. CEL rules
// guard every field with has(): the API server checks them against each `default: {}` as written,
// before the nested defaults are filled in.
// The spec's sections live in spec-traffic.ts and spec-pods.ts, the status in status.ts; this file
// composes the spec, derives the types and resolves a spec as the API server would.
import { type Static, Type } from 'typebox';
import { Value } from 'typebox/value';
import { bufferRuleErrors } from './autoscaling.js';
import { GRACE_MARGIN_SECONDS, orDefault } from './cross-field.js';
import { cel } from './kube-schema.js';
import { Auth, Disruption, Limits, Placement, Ports, Reflector, Timeouts } from './spec-pods.js';
import { Capacity, Scaling, Stream } from './spec-traffic.js';
import type { ReflectorMeshStatus } from './status.js';

export { GRACE_MARGIN_SECONDS } from './cross-field.js';
export { ADDRESS_TYPES, LIMIT_DEFAULTS, LOG_LEVELS, type AddressType } from './spec-pods.js';
export { SCALING_MODES, type ScalingMode } from './spec-traffic.js';
export * from './status.js';

export const GROUP = 'rmesh.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'ReflectorMesh';
export const PLURAL = 'reflectormeshes';
export const SINGULAR = 'reflectormesh';
export const SHORT_NAMES = ['rmesh'];

export const ReflectorMeshSpecSchema = Type.Object(
  {
    replicas: Type.Optional(
      Type.Integer({
        description: 'Number of reflectors, in Fixed and External modes (the scale subresource writes it). Must be unset in Model mode, where the operator decides.',
        minimum: 0,
        maximum: 1024,
      }),
    ),
    stream: Stream,
    capacity: Capacity,
    scaling: Scaling,
    ports: Ports,
    timeouts: Timeouts,
    placement: Placement,
    disruption: Disruption,
    reflector: Reflector,
    auth: Type.Optional(Auth),
    limits: Type.Optional(Limits),
  },
  {
    description: 'The desired mesh of reflectors.',
    ...cel(
      {
        rule: "has(self.scaling) && has(self.scaling.mode) && self.scaling.mode == 'Model' ? !has(self.replicas) : has(self.replicas)",
        message:
          'spec.replicas has one owner: set it in Fixed and External modes, leave it unset in Model mode (the operator sizes the mesh); switch scaling.mode to Fixed to scale by hand',
        fieldPath: '.replicas',
        reason: 'FieldValueInvalid',
      },
      {
        // RTP is on by default (stream.rtp), so only an explicit false frees P+1.
        rule: `!has(self.ports) || (${orDefault('ports.control', 'controlPort')} != ${orDefault('ports.data', 'dataPort')} && ((has(self.stream) && has(self.stream.rtp) && !self.stream.rtp) || ${orDefault('ports.control', 'controlPort')} != ${orDefault('ports.data', 'dataPort')} + 1))`,
        message: 'ports.control must differ from ports.data (and from ports.data + 1, the RTCP port, in RTP mode)',
        fieldPath: '.ports.control',
        reason: 'FieldValueInvalid',
      },
    ),
  },
);

export type ReflectorMeshSpec = Static<typeof ReflectorMeshSpecSchema>;

/** Object metadata the operator reads (a subset of metav1.ObjectMeta). */
export interface MeshMetadata {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
  resourceVersion?: string;
  /** When the mesh was created: the one-mesh-at-a-time roll-out goes oldest first. */
  creationTimestamp?: Date;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface ReflectorMesh {
  apiVersion: typeof API_VERSION;
  kind: typeof KIND;
  metadata: MeshMetadata;
  spec: ReflectorMeshSpec;
  status?: ReflectorMeshStatus;
}

/**
 * The spec with every default filled in, whatever the API server stored (an object written before
 * the CRD gained a default, or a fake in a test). Returns the errors when the spec is invalid.
 */
export function resolveSpec(spec: unknown): { spec: ReflectorMeshSpec; errors: string[] } {
  const filled = Value.Default(ReflectorMeshSpecSchema, Value.Clone(spec ?? {})) as ReflectorMeshSpec;
  const errors = [...Value.Errors(ReflectorMeshSpecSchema, filled)].map(
    (e) => `spec${e.instancePath.replaceAll('/', '.')}: ${e.message}`,
  );
  return { spec: filled, errors: errors.length > 0 ? errors : resolvedRuleErrors(filled) };
}

function celMessage(schema: object, index = 0): string {
  return (schema as { 'x-kubernetes-validations': { message: string }[] })['x-kubernetes-validations'][index]!.message;
}

/**
 * The CEL rules again, on the spec with its defaults filled in. The API server runs them on the object
 * as written, where has() is false for a field left to its default: `timeouts: {keepaliveIntervalMs:
 * 6000}` passes there, yet resolves to a 5000 ms peer timeout, which `rmesh reflector` refuses (its
 * pods would crash-loop). Found by fuzzing the spec; the operator refuses such a spec with the rule's
 * own message instead.
 */
export function resolvedRuleErrors(spec: ReflectorMeshSpec): string[] {
  const errors: string[] = [];
  const fail = (field: string, message: string) => errors.push(`spec.${field}: ${message}`);
  if ((spec.scaling.mode === 'Model') === (spec.replicas !== undefined)) fail('replicas', celMessage(ReflectorMeshSpecSchema, 0));
  if (spec.ports.control === spec.ports.data || (spec.stream.rtp && spec.ports.control === spec.ports.data + 1)) {
    fail('ports.control', celMessage(ReflectorMeshSpecSchema, 1));
  }
  if (!(spec.stream.bitrateMbps > 0)) fail('stream.bitrateMbps', celMessage(Stream));
  if (!(spec.capacity.outboundMbps > 0)) fail('capacity.outboundMbps', celMessage(Capacity));
  if (spec.scaling.minReplicas > spec.scaling.maxReplicas) fail('scaling.minReplicas', celMessage(Scaling));
  const r = spec.reflector;
  if (!(r.terminationGracePeriodSeconds > r.shutdownDrainSeconds + GRACE_MARGIN_SECONDS)) fail('reflector.terminationGracePeriodSeconds', celMessage(Reflector));
  errors.push(...bufferRuleErrors(spec.scaling));
  const t = spec.timeouts;
  if (t.peerTimeoutMs <= t.keepaliveIntervalMs || t.clientIdleTimeoutMs <= t.keepaliveIntervalMs) fail('timeouts.peerTimeoutMs', celMessage(Timeouts));
  return errors;
}
