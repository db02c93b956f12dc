// The ReflectorMesh API (rmesh.io/v1alpha1): the one source of truth for the resource's schema.
// The TypeScript types are derived from these TypeBox schemas, and the CustomResourceDefinition in
// crds/ is generated from them (see crd.ts), so the two cannot drift. Fields that have a default are
// required in the TypeScript types (the API server fills them in) and optional in the CRD. CEL rules
// guard every field with has(): the API server checks them against each `default: {}` as written,
// before the nested defaults are filled in.
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { AutoscalingStatusSchema, BUFFER_MODE_RULE, BufferPolicySchema, bufferRuleErrors } from './autoscaling.js';
import { cel, QuantityMap, StringEnum, StringMap } from './kube-schema.js';

export const GROUP = 'rmesh.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'ReflectorMesh';
export const PLURAL = 'reflectormeshes';
export const SINGULAR = 'reflectormesh';
export const SHORT_NAMES = ['rmesh'];

export const SCALING_MODES = ['Fixed', 'External', 'Model'] as const;
export type ScalingMode = (typeof SCALING_MODES)[number];

const Stream = Type.Object(
  {
    bitrateMbps: Type.Number({
      description: 'Bitrate of one client stream in Mbit/s (what one sender sends). The capacity model multiplies it by the outbound streams of a reflector.',
      minimum: 0.001,
      maximum: 100000,
      default: 2,
    }),
    packetSizeBytes: Type.Integer({
      description: 'Typical datagram size in bytes (RTP header and payload), used to report packet rates in the plan.',
      minimum: 64,
      maximum: 65507,
      default: 1200,
    }),
    rtp: Type.Boolean({
      description: 'RTP mode: each reflector serves the data port P for RTP and P+1 for RTCP.',
      default: true,
    }),
  },
  {
    description: 'The stream every client sends and receives.',
    default: {},
    // The API server compares a whole number with minimum 0.001 as integers (0 >= 0), so say it in CEL too.
    ...cel({ rule: '!has(self.bitrateMbps) || self.bitrateMbps > 0.0', message: 'stream.bitrateMbps must be more than 0', fieldPath: '.bitrateMbps', reason: 'FieldValueInvalid' }),
  },
);

const Capacity = Type.Object(
  {
    outboundMbps: Type.Number({
      description: 'Outbound budget of one reflector in Mbit/s (about a NIC\'s worth: 905 was measured on 1 GbE with 1440-byte packets).',
      minimum: 0.001,
      maximum: 1000000,
      default: 900,
    }),
    headroom: Type.Number({
      description: 'Fraction of the outbound budget kept free, in [0, 1): 0.1 plans to use at most 90% of it.',
      minimum: 0,
      maximum: 0.95,
      default: 0.1,
    }),
    maxClientsPerReflector: Type.Optional(
      Type.Integer({
        description: 'Hard limit of clients per reflector, enforced by admission control. Unset: derived from the plan.',
        minimum: 1,
        maximum: 100000,
      }),
    ),
    maxClients: Type.Optional(
      Type.Integer({
        description: 'Hard limit of clients in the whole mesh, enforced by admission control. Unset: the most clients the planned mesh can serve.',
        minimum: 1,
        maximum: 1000000,
      }),
    ),
  },
  {
    description: 'What one reflector may send, and the headroom to keep.',
    default: {},
    ...cel({ rule: '!has(self.outboundMbps) || self.outboundMbps > 0.0', message: 'capacity.outboundMbps must be more than 0', fieldPath: '.outboundMbps', reason: 'FieldValueInvalid' }),
  },
);

/**
 * Defaults that CEL rules comparing two fields must use for a field left unset: the API server runs the
 * rules on the object as written, before nested defaults are filled in, and has() is false for such a
 * field. Comparing only fields that are set let `timeouts: {keepaliveIntervalMs: 6000}` through, which
 * resolves to a 5000 ms peer timeout that the reflector refuses.
 */
const CROSS_FIELD_DEFAULTS = {
  minReplicas: 1,
  maxReplicas: 16,
  dataPort: 5004,
  controlPort: 7400,
  keepaliveIntervalMs: 1000,
  peerTimeoutMs: 5000,
  clientIdleTimeoutMs: 10000,
  terminationGracePeriodSeconds: 60,
  shutdownDrainSeconds: 30,
} as const;

/** Seconds the kubelet's grace period must exceed the reflector's SIGTERM drain by (its exit, the last datagrams). */
export const GRACE_MARGIN_SECONDS = 5;

/** `self.FIELD`, or its default when unset. */
function orDefault(path: string, field: keyof typeof CROSS_FIELD_DEFAULTS): string {
  return `(has(self.${path}) ? self.${path} : ${CROSS_FIELD_DEFAULTS[field]})`;
}

const Scaling = Type.Object(
  {
    mode: StringEnum(SCALING_MODES, {
      description:
        'Who owns the number of reflectors. Fixed: spec.replicas, set by hand or `kubectl scale`. External: spec.replicas, written by an external autoscaler (HPA, KEDA) through the scale subresource. Model: the operator sizes the mesh from the clients the reflectors report, with the capacity model, within minReplicas..maxReplicas; spec.replicas must then be unset.',
      default: 'Fixed',
    }),
    minReplicas: Type.Integer({
      description: 'Fewest reflectors the operator plans in Model mode.',
      minimum: 1,
      maximum: 1024,
      default: CROSS_FIELD_DEFAULTS.minReplicas,
    }),
    maxReplicas: Type.Integer({
      description: 'Most reflectors the operator plans in Model mode.',
      minimum: 1,
      maximum: 1024,
      default: CROSS_FIELD_DEFAULTS.maxReplicas,
    }),
    scaleDownDelaySeconds: Type.Integer({
      description: 'Model mode: how long a smaller mesh must suffice before the operator scales down (against flapping). Scaling up is immediate.',
      minimum: 0,
      maximum: 86400,
      default: 300,
    }),
    scaleDown: Type.Object(
      {
        maxRemovedPerPeriod: Type.Integer({
          description: 'Most reflectors taken out per periodSeconds, in every mode (a lower spec.replicas, an HPA or KEDA writing /scale, the model). Whatever the rate, only one reflector drains at a time.',
          minimum: 1,
          maximum: 1024,
          default: 1,
        }),
        periodSeconds: Type.Integer({
          description: 'The period of maxRemovedPerPeriod, in seconds (15, as the HPA\'s scale-down policy).',
          minimum: 1,
          maximum: 3600,
          default: 15,
        }),
      },
      {
        description:
          'How fast the mesh shrinks, so a scale-down never drops a client: reflectors holding clients are drained one at a time, at most maxRemovedPerPeriod per periodSeconds. Scaling to zero while clients are connected keeps the last reflector (drained into from the others) until they leave.',
        default: {},
      },
    ),
    buffer: Type.Optional(BufferPolicySchema),
  },
  {
    description: 'How the number of reflectors is decided.',
    default: {},
    ...cel({
      rule: `${orDefault('minReplicas', 'minReplicas')} <= ${orDefault('maxReplicas', 'maxReplicas')}`,
      message: 'scaling.minReplicas must be less than or equal to scaling.maxReplicas',
      fieldPath: '.minReplicas',
      reason: 'FieldValueInvalid',
    }, BUFFER_MODE_RULE),
  },
);

const Ports = Type.Object(
  {
    data: Type.Integer({
      description: 'UDP data port P of every reflector (RTP mode also uses P+1 for RTCP). Pods use the host network, so the port is open on the node.',
      minimum: 1,
      maximum: 65534,
      default: CROSS_FIELD_DEFAULTS.dataPort,
    }),
    control: Type.Integer({
      description: 'TCP port of the reflector\'s control API (clients, peers, the operator, probes and metrics).',
      minimum: 1,
      maximum: 65535,
      default: CROSS_FIELD_DEFAULTS.controlPort,
    }),
  },
  { description: 'Ports on each node running a reflector.', default: {} },
);

const Timeouts = Type.Object(
  {
    keepaliveIntervalMs: Type.Integer({
      description: 'Interval of keep-alives between reflectors and from clients, in milliseconds.',
      minimum: 100,
      maximum: 60000,
      default: CROSS_FIELD_DEFAULTS.keepaliveIntervalMs,
    }),
    peerTimeoutMs: Type.Integer({
      description: 'A peer reflector silent for longer than this is removed from every peer list, in milliseconds.',
      minimum: 200,
      maximum: 600000,
      default: CROSS_FIELD_DEFAULTS.peerTimeoutMs,
    }),
    clientIdleTimeoutMs: Type.Integer({
      description: 'A client silent (no data, no keep-alive) for longer than this is purged, in milliseconds.',
      minimum: 200,
      maximum: 3600000,
      default: CROSS_FIELD_DEFAULTS.clientIdleTimeoutMs,
    }),
    drainTimeoutSeconds: Type.Integer({
      description: 'How long the operator waits for a draining reflector to hand over its clients before it deletes the pod anyway.',
      minimum: 1,
      maximum: 3600,
      default: 60,
    }),
  },
  {
    description: 'Liveness timeouts of the mesh.',
    default: {},
    ...cel({
      rule: `${orDefault('peerTimeoutMs', 'peerTimeoutMs')} > ${orDefault('keepaliveIntervalMs', 'keepaliveIntervalMs')} && ${orDefault('clientIdleTimeoutMs', 'clientIdleTimeoutMs')} > ${orDefault('keepaliveIntervalMs', 'keepaliveIntervalMs')}`,
      message: 'timeouts.peerTimeoutMs and timeouts.clientIdleTimeoutMs must be longer than timeouts.keepaliveIntervalMs',
      fieldPath: '.peerTimeoutMs',
      reason: 'FieldValueInvalid',
    }),
  },
);

const Toleration = Type.Object(
  {
    key: Type.Optional(Type.String({ description: 'Taint key the toleration applies to; empty matches all keys (with operator Exists).', maxLength: 317 })),
    operator: Type.Optional(StringEnum(['Exists', 'Equal'] as const, { description: 'Exists or Equal (the default).' })),
    value: Type.Optional(Type.String({ description: 'Taint value the toleration matches (operator Equal).', maxLength: 63 })),
    effect: Type.Optional(
      StringEnum(['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const, { description: 'Taint effect to match; empty matches all effects.' }),
    ),
    tolerationSeconds: Type.Optional(
      Type.Integer({ description: 'For NoExecute: how long the pod stays bound after the taint appears.', minimum: 0 }),
    ),
  },
  { description: 'A pod toleration (core/v1 Toleration).' },
);

export const ADDRESS_TYPES = ['InternalIP', 'ExternalIP'] as const;
export type AddressType = (typeof ADDRESS_TYPES)[number];

const Placement = Type.Object(
  {
    nodeSelector: Type.Optional(StringMap({ description: 'Labels a node must have to run a reflector.' })),
    tolerations: Type.Optional(
      Type.Array(Toleration, { description: 'Taints the reflector pods tolerate.', maxItems: 64 }),
    ),
    onePerNode: Type.Boolean({
      description: 'At most one reflector of this mesh per node (required pod anti-affinity on kubernetes.io/hostname). Two reflectors on one node share its NIC and its ports.',
      default: true,
    }),
    addressType: StringEnum(ADDRESS_TYPES, {
      description: 'Node address each reflector advertises to clients and peers: the node\'s InternalIP, or its ExternalIP for clients outside the cluster network.',
      default: 'InternalIP',
    }),
    nodeLossToleranceSeconds: Type.Integer({
      description:
        'How long a reflector stays bound to a node that is NotReady or unreachable before Kubernetes evicts it and the operator replaces it (tolerationSeconds of the node.kubernetes.io/not-ready and unreachable NoExecute tolerations; the cluster default is 300). Its clients fail over to the other reflectors at once either way; this bounds how long the mesh runs one short.',
      minimum: 0,
      maximum: 3600,
      default: 30,
    }),
  },
  { description: 'Where reflectors run.', default: {} },
);

const Resources = Type.Object(
  {
    requests: Type.Optional(QuantityMap({ description: 'Resources the scheduler reserves (cpu, memory).' })),
    limits: Type.Optional(QuantityMap({ description: 'Most resources a reflector may use (cpu, memory).' })),
  },
  { description: 'Compute resources of the reflector container.' },
);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

const Reflector = Type.Object(
  {
    image: Type.Optional(
      Type.String({ description: 'Container image of the reflector (entrypoint rmesh). Unset: the operator\'s own image (its --reflector-image).', minLength: 1, maxLength: 1024 }),
    ),
    imagePullPolicy: StringEnum(['Always', 'IfNotPresent', 'Never'] as const, {
      description: 'When the kubelet pulls the image.',
      default: 'IfNotPresent',
    }),
    imagePullSecrets: Type.Optional(
      Type.Array(
        Type.Object({ name: Type.String({ description: 'Name of a Secret of type kubernetes.io/dockerconfigjson.', minLength: 1, maxLength: 253 }) }, { description: 'A pull secret reference.' }),
        { description: 'Secrets for pulling the image from a private registry.', maxItems: 16 },
      ),
    ),
    resources: Type.Optional(Resources),
    priorityClassName: Type.Optional(Type.String({ description: 'PriorityClass of the reflector pods.', maxLength: 253 })),
    podLabels: Type.Optional(StringMap({ description: 'Extra labels on every reflector pod.' })),
    podAnnotations: Type.Optional(StringMap({ description: 'Extra annotations on every reflector pod (for example Prometheus scrape hints).' })),
    terminationGracePeriodSeconds: Type.Integer({
      description: 'Time a reflector has on SIGTERM before it is killed; longer than shutdownDrainSeconds plus 5 s (a CEL rule).',
      minimum: 1,
      maximum: 3600,
      default: CROSS_FIELD_DEFAULTS.terminationGracePeriodSeconds,
    }),
    shutdownDrainSeconds: Type.Integer({
      description: 'Longest a reflector waits on SIGTERM for its clients to move to its peers before it exits (RMESH_DRAIN_TIMEOUT).',
      minimum: 1,
      maximum: 3500,
      default: CROSS_FIELD_DEFAULTS.shutdownDrainSeconds,
    }),
    logLevel: StringEnum(LOG_LEVELS, { description: 'Log level of the reflectors.', default: 'info' }),
    dataPlane: StringEnum(['auto', 'native', 'js'] as const, {
      description: 'Data plane implementation: native when available (auto), or forced.',
      default: 'auto',
    }),
  },
  {
    description: 'The reflector pods: image and pod settings.',
    default: {},
    ...cel({
      rule: `${orDefault('terminationGracePeriodSeconds', 'terminationGracePeriodSeconds')} > ${orDefault('shutdownDrainSeconds', 'shutdownDrainSeconds')} + ${GRACE_MARGIN_SECONDS}`,
      message: `reflector.terminationGracePeriodSeconds must exceed reflector.shutdownDrainSeconds by more than ${GRACE_MARGIN_SECONDS} s, or the kubelet kills a reflector while its clients are still moving`,
      fieldPath: '.terminationGracePeriodSeconds',
      reason: 'FieldValueInvalid',
    }),
  },
);

const Auth = Type.Object(
  {
    adminTokenSecretRef: Type.Optional(
      Type.Object(
        {
          name: Type.String({ description: 'Name of the Secret, in the mesh\'s namespace.', minLength: 1, maxLength: 253 }),
          key: Type.String({ description: 'Key in the Secret whose value is the token.', minLength: 1, maxLength: 253, default: 'token' }),
        },
        {
          description:
            'Secret holding the admin token. The operator and the reflectors use it for the admin and peer endpoints of the control API. The Secret must carry the label rmesh.io/admin-token: "true" (it opts in to be handed to reflector pods); otherwise the operator creates no pod and reports SecretNotAllowed.',
        },
      ),
    ),
    meshKeySecretRef: Type.Optional(
      Type.Object(
        {
          name: Type.String({ description: 'Name of an existing Secret, in the mesh\'s namespace.', minLength: 1, maxLength: 253 }),
          key: Type.String({ description: 'Key in the Secret whose value is the base64 mesh key (at least 32 bytes decoded).', minLength: 1, maxLength: 253, default: 'key' }),
        },
        {
          description:
            'Secret holding the mesh key, which authenticates peer datagrams, peer requests and client tokens. The Secret must carry the label rmesh.io/mesh-key: "true" (it opts in to be handed to reflector pods); otherwise the operator creates no pod and reports SecretNotAllowed. Unset: the operator creates <mesh>-mesh-key (32 random bytes, owned by the mesh, never overwritten) and uses it for this mesh only.',
        },
      ),
    ),
  },
  { description: 'Authentication of the mesh. The mesh key is always set (its own Secret by default); without an admin token the admin endpoints are open to anyone who can reach the control port.' },
);

/** Defaults of spec.limits, also applied by the operator when the field is absent (older objects). */
export const LIMIT_DEFAULTS = { clientRateFactor: 2, clientBurstMs: 500 } as const;

const Limits = Type.Object(
  {
    clientRateFactor: Type.Number({
      description:
        'Per-client rate limit as a multiple of spec.stream: each client may send factor x bitrateMbps and factor x the stream\'s packet rate (bitrate / packetSizeBytes) on each data port; the excess is dropped at its reflector before any copy is made. 0 turns the limit off. The capacity plan assumes every client sends one stream; the factor is headroom for peaks, FEC and retransmissions.',
      minimum: 0,
      maximum: 1000,
      default: LIMIT_DEFAULTS.clientRateFactor,
    }),
    clientBitrateMbps: Type.Optional(
      Type.Number({ description: 'Per-client payload bitrate limit in Mbit/s, instead of clientRateFactor x stream.bitrateMbps; 0 = no bitrate limit.', minimum: 0, maximum: 100000 }),
    ),
    clientPacketsPerSecond: Type.Optional(
      Type.Integer({ description: 'Per-client datagrams per second, instead of the one derived from clientRateFactor; 0 = no packet-rate limit.', minimum: 0, maximum: 10000000 }),
    ),
    clientBurstMs: Type.Integer({
      description: 'How long a client may send above its limit after a quiet spell (the token bucket depth, in milliseconds): room for a video key frame.',
      minimum: 10,
      maximum: 10000,
      default: LIMIT_DEFAULTS.clientBurstMs,
    }),
    apiRequestsPerSecond: Type.Optional(
      Type.Integer({
        description: 'Control API requests per second each source address may make on the client routes (join, session events, leave); unset: the reflector\'s default (20); 0 = no limit. Raise it for many clients behind one NAT address.',
        minimum: 0,
        maximum: 1000000,
      }),
    ),
    apiBurst: Type.Optional(
      Type.Integer({ description: 'Requests a source address may make at once on the client routes; unset: the reflector\'s default (100).', minimum: 1, maximum: 1000000 }),
    ),
  },
  { description: 'Per-client limits the reflectors enforce (docs/security.md, Limits).', default: {} },
);

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

const Plan = Type.Object(
  {
    reflectors: Type.Integer({ description: 'Reflectors m the plan is for.', minimum: 0 }),
    clientsPerReflector: Type.Integer({ description: 'nr = ceil(n/m): the most clients one reflector serves.', minimum: 0 }),
    peakOutboundStreams: Type.Integer({ description: 'Outbound streams of the busiest reflector, by the capacity model.', minimum: 0 }),
    peakOutboundMbps: Type.Number({ description: 'Outbound Mbit/s of the busiest reflector, by the capacity model.', minimum: 0 }),
    peakOutboundPacketsPerSecond: Type.Integer({ description: 'Outbound datagrams per second of the busiest reflector, at spec.stream.packetSizeBytes.', minimum: 0 }),
    utilisationPercent: Type.Integer({ description: 'Peak outbound rate as a percentage of spec.capacity.outboundMbps (headroom included, so the plan keeps it under 100 - 100*headroom).', minimum: 0 }),
    maxClients: Type.Integer({ description: 'The most clients a mesh of this size can serve within the budget.', minimum: 0 }),
    bitrateMbps: Type.Number({ description: 'Stream bitrate the plan used: spec.stream.bitrateMbps, or the measured per-stream rate when higher.', minimum: 0 }),
    fits: Type.Boolean({ description: 'Whether the clients fit in the budget at this size.' }),
  },
  { description: 'The capacity model applied to the current clients.' },
);

const ReflectorStatus = Type.Object(
  {
    name: Type.String({ description: 'Pod name, also the reflector id.' }),
    node: Type.Optional(Type.String({ description: 'Node running the reflector.' })),
    address: Type.Optional(Type.String({ description: 'Address clients and peers use.' })),
    clients: Type.Integer({ description: 'Clients this reflector serves.', minimum: 0 }),
    outboundMbps: Type.Number({ description: 'Measured outbound rate in Mbit/s.', minimum: 0 }),
    peers: Type.Integer({ description: 'Peers this reflector knows.', minimum: 0 }),
    ready: Type.Boolean({ description: 'Pod ready and the control API answered.' }),
    draining: Type.Boolean({ description: 'The reflector is handing its clients over before removal.' }),
    current: Type.Boolean({ description: 'The pod runs the current pod template (false while a roll-out is pending for it).' }),
  },
  { description: 'One reflector of the mesh.' },
);

export const CONDITION_TYPES = ['Ready', 'Progressing', 'Degraded', 'CapacityExceeded'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];

const Condition = Type.Object(
  {
    type: Type.String({ description: 'Ready, Progressing, Degraded or CapacityExceeded.', maxLength: 316 }),
    status: StringEnum(['True', 'False', 'Unknown'] as const, { description: 'True, False or Unknown.' }),
    reason: Type.String({ description: 'One CamelCase word saying why.', maxLength: 1024 }),
    message: Type.String({ description: 'What a human needs to know.', maxLength: 32768 }),
    lastTransitionTime: Type.String({ description: 'When the status last changed.', format: 'date-time' }),
    observedGeneration: Type.Optional(Type.Integer({ description: 'metadata.generation the condition was computed for.', minimum: 0 })),
  },
  { description: 'A condition of the mesh (metav1.Condition).' },
);

export const ReflectorMeshStatusSchema = Type.Object(
  {
    observedGeneration: Type.Optional(Type.Integer({ description: 'metadata.generation this status was computed for.', minimum: 0 })),
    replicas: Type.Integer({ description: 'Reflector pods that exist (the scale subresource reads it).', minimum: 0, default: 0 }),
    desiredReplicas: Type.Optional(Type.Integer({ description: 'Reflectors the operator converges to: spec.replicas, or the size the model chose.', minimum: 0 })),
    readyReplicas: Type.Integer({ description: 'Reflectors that are ready.', minimum: 0, default: 0 }),
    updatedReplicas: Type.Optional(Type.Integer({ description: 'Reflectors running the current pod template.', minimum: 0 })),
    selector: Type.Optional(Type.String({ description: 'Label selector of the reflector pods, as a string (the scale subresource reads it).' })),
    clients: Type.Integer({ description: 'Clients the reflectors serve.', minimum: 0, default: 0 }),
    plan: Type.Optional(Plan),
    reflectors: Type.Optional(Type.Array(ReflectorStatus, { description: 'A row per reflector.', maxItems: 1024 })),
    autoscaling: Type.Optional(AutoscalingStatusSchema),
    scaleDownSince: Type.Optional(
      Type.String({ description: 'Model mode: since when a smaller mesh would suffice (the scale-down delay runs from here).', format: 'date-time' }),
    ),
    conditions: Type.Optional(
      Type.Array(Condition, {
        description: 'Ready, Progressing, Degraded and CapacityExceeded.',
        maxItems: 16,
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      }),
    ),
  },
  { description: 'What the operator observed and did.' },
);

export type ReflectorMeshSpec = Static<typeof ReflectorMeshSpecSchema>;
export type ReflectorMeshStatus = Static<typeof ReflectorMeshStatusSchema>;
export type ReflectorStatusRow = Static<typeof ReflectorStatus>;
export type MeshPlanStatus = Static<typeof Plan>;
export type MeshCondition = Static<typeof Condition>;

/** Object metadata the operator reads (a subset of metav1.ObjectMeta). */
export interface MeshMetadata {
  name: string;
  namespace: string;
  uid: string;
  generation?: number;
  resourceVersion?: string;
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
