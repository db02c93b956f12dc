// The ReflectorMesh status: what the operator observed and did (schema and types).
import { Type, type Static } from 'typebox';
import { AutoscalingStatusSchema } from './autoscaling.js';
import { StringEnum } from './kube-schema.js';

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
    outboundMbps: Type.Optional(
      Type.Number({ description: 'No longer written (a rate would change the status on every pass): the operator exports rmesh_mesh_reflector_outbound_bits_per_second.', minimum: 0 }),
    ),
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

export type ReflectorMeshStatus = Static<typeof ReflectorMeshStatusSchema>;
export type ReflectorStatusRow = Static<typeof ReflectorStatus>;
export type MeshPlanStatus = Static<typeof Plan>;
export type MeshCondition = Static<typeof Condition>;
