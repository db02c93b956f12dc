// ReflectorMesh spec sections about the traffic and the mesh's size: spec.stream, spec.capacity and
// spec.scaling (schemas; the types are derived in reflectormesh.ts).
import { Type } from 'typebox';
import { BUFFER_MODE_RULE, BufferPolicySchema } from './autoscaling.js';
import { CROSS_FIELD_DEFAULTS, orDefault } from './cross-field.js';
import { cel, StringEnum } from './kube-schema.js';

export const SCALING_MODES = ['Fixed', 'External', 'Model'] as const;
export type ScalingMode = (typeof SCALING_MODES)[number];

export const Stream = Type.Object(
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

export const Capacity = Type.Object(
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

export const Scaling = Type.Object(
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
      description: 'Model mode: the scale-down stabilisation window, as the HPA\'s: the operator scales down to the highest size recommended within the last this many seconds, so a smaller mesh must suffice for the whole window (against flapping). Scaling up is immediate.',
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
