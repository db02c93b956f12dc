// ReflectorMesh spec sections about the reflector pods: spec.ports, spec.timeouts, spec.placement,
// spec.reflector, spec.auth and spec.limits (schemas; the types are derived in reflectormesh.ts).
import { Type } from 'typebox';
import { DATA_PLANE_MODES } from '../../../protocol/settings.js';
import { CROSS_FIELD_DEFAULTS, GRACE_MARGIN_SECONDS, orDefault } from './cross-field.js';
import { cel, IntOrPercent, QuantityMap, StringEnum, StringMap } from './kube-schema.js';

export const Ports = Type.Object(
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

export const Timeouts = Type.Object(
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

export const Toleration = Type.Object(
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

export const Placement = Type.Object(
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

export const Disruption = Type.Object(
  {
    maxUnavailable: IntOrPercent({
      description:
        'Most reflectors voluntary disruptions (kubectl drain, cluster-autoscaler, Karpenter: anything that evicts) may take down at once, as a number or a percentage of the desired reflectors (rounded up). The operator keeps a PodDisruptionBudget <mesh>-reflectors that allows this many; each evicted reflector first hands its clients to its peers. 0 is not allowed: it would block every node drain.',
      minimum: 1,
      default: 1,
    }),
  },
  { description: 'Voluntary disruptions of the reflector pods (the mesh\'s PodDisruptionBudget).', default: {} },
);

/**
 * What a reflector gets when the mesh says nothing: requests, so the pod is Burstable rather than
 * BestEffort (BestEffort pods are the first the kubelet evicts under memory pressure and get the least
 * CPU share under contention, and a reflector's clients lose media while it is gone); a memory limit
 * well above the 100-160 MiB RSS measured in the soak test (docs/security.md), so a leak is contained
 * without an OOM kill in normal use; no CPU limit, since CFS throttling stalls the packet loop in bursts
 * that clients hear as loss. A mesh that sets `resources` (even `{}`) gets exactly what it sets.
 */
export const DEFAULT_REFLECTOR_RESOURCES = {
  requests: { cpu: '100m', memory: '128Mi' },
  limits: { memory: '512Mi' },
};

export const Resources = Type.Object(
  {
    requests: Type.Optional(QuantityMap({ description: 'Resources the scheduler reserves (cpu, memory).' })),
    limits: Type.Optional(QuantityMap({ description: 'Most resources a reflector may use (cpu, memory).' })),
  },
  {
    description:
      'Compute resources of the reflector container. Unset: requests cpu 100m and memory 128Mi and a 512Mi memory limit (Burstable, not BestEffort; no CPU limit, whose throttling would stall forwarding). Set it, even to {}, to choose yourself.',
    default: DEFAULT_REFLECTOR_RESOURCES,
  },
);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

export const Reflector = Type.Object(
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
    resources: Resources,
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
    dataPlane: StringEnum(DATA_PLANE_MODES, {
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

export const Auth = Type.Object(
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

export const Limits = Type.Object(
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
