// The capacity buffer policy of a ReflectorMesh (spec.scaling.buffer) and what the operator reports
// about it (status.autoscaling). Like Agones' FleetAutoscaler buffer, in the model's own unit: keep
// room for K more clients (or a percentage of the current count) within scaling.minReplicas and
// maxReplicas, with HPA-style stabilisation windows and a rate policy. Kept apart from
// reflectormesh.ts, which only wires these two schemas in.
import { Type, type Static } from 'typebox';
import { cel, type CelRule } from './kube-schema.js';

/** Defaults of spec.scaling.buffer (also what resolveSpec fills in). */
export const BUFFER_DEFAULTS = {
  scaleUpStabilizationSeconds: 0,
  scaleDownStabilizationSeconds: 300,
  scaleUpReflectors: 4,
  scaleDownReflectors: 1,
  ratePeriodSeconds: 60,
} as const;

const ONE_OF_RULE: CelRule = {
  rule: 'has(self.clients) != has(self.percent)',
  message: 'scaling.buffer needs exactly one of clients (room for K more clients) and percent (room for a percentage of the current clients)',
  fieldPath: '.clients',
  reason: 'FieldValueInvalid',
};

export const BufferPolicySchema = Type.Object(
  {
    clients: Type.Optional(
      Type.Integer({
        description: 'Keep free client slots for this many more clients (new clients count as sendrecv, the default role). Exactly one of clients and percent.',
        minimum: 0,
        maximum: 1000000,
      }),
    ),
    percent: Type.Optional(
      Type.Integer({
        description: 'Keep free client slots for this percentage of the current clients, rounded up (20 with 50 clients: room for 10 more). Exactly one of clients and percent.',
        minimum: 1,
        maximum: 1000,
      }),
    ),
    scaleUpStabilizationSeconds: Type.Integer({
      description: 'Scale up to the lowest size recommended during this window (0: at once, the default), as the HPA\'s behavior.scaleUp.stabilizationWindowSeconds.',
      minimum: 0,
      maximum: 3600,
      default: BUFFER_DEFAULTS.scaleUpStabilizationSeconds,
    }),
    scaleDownStabilizationSeconds: Type.Integer({
      description: 'Scale down only to the highest size recommended during this window (against flapping), as the HPA\'s behavior.scaleDown.stabilizationWindowSeconds.',
      minimum: 0,
      maximum: 86400,
      default: BUFFER_DEFAULTS.scaleDownStabilizationSeconds,
    }),
    scaleUpReflectors: Type.Integer({
      description: 'Rate policy: the most reflectors added within any ratePeriodSeconds.',
      minimum: 1,
      maximum: 1024,
      default: BUFFER_DEFAULTS.scaleUpReflectors,
    }),
    scaleDownReflectors: Type.Integer({
      description: 'Rate policy: the most reflectors removed (drained first) within any ratePeriodSeconds.',
      minimum: 1,
      maximum: 1024,
      default: BUFFER_DEFAULTS.scaleDownReflectors,
    }),
    ratePeriodSeconds: Type.Integer({
      description: 'Rate policy: the period the two limits above apply to.',
      minimum: 1,
      maximum: 3600,
      default: BUFFER_DEFAULTS.ratePeriodSeconds,
    }),
  },
  {
    description:
      'Model mode only: size the mesh so that its free client slots (the capacity model with the clients\' roles and capacity.headroom, and the admission limits) cover a buffer, instead of fitting only the current clients. The operator picks the smallest size in minReplicas..maxReplicas that covers it, evaluating every size (capacity is not monotonic in the number of reflectors).',
    ...cel(ONE_OF_RULE),
  },
);

/** The Scaling object's rule: a buffer belongs to Model mode (elsewhere spec.replicas decides). */
export const BUFFER_MODE_RULE: CelRule = {
  rule: "!has(self.buffer) || (has(self.mode) && self.mode == 'Model')",
  message: 'scaling.buffer applies in Model mode only (the operator sizes the mesh); set scaling.mode to Model or remove scaling.buffer',
  fieldPath: '.buffer',
  reason: 'FieldValueInvalid',
};

/** The buffer rules again on a resolved spec (resolveSpec runs the CEL rules the API server may not have). */
export function bufferRuleErrors(scaling: { mode: string; buffer?: BufferPolicy | undefined }): string[] {
  if (!scaling.buffer) return [];
  const errors: string[] = [];
  if (scaling.mode !== 'Model') errors.push(`spec.scaling.buffer: ${BUFFER_MODE_RULE.message}`);
  if ((scaling.buffer.clients === undefined) === (scaling.buffer.percent === undefined)) errors.push(`spec.scaling.buffer.clients: ${ONE_OF_RULE.message}`);
  return errors;
}

const Recommendation = Type.Object(
  {
    at: Type.String({ description: 'When the buffer policy started recommending this size.', format: 'date-time' }),
    replicas: Type.Integer({ description: 'The size recommended from then on.', minimum: 0 }),
  },
  { description: 'A change of the recommended size (the stabilisation windows look back over these).' },
);

const ScaleEvent = Type.Object(
  {
    at: Type.String({ description: 'When the operator changed the size.', format: 'date-time' }),
    from: Type.Integer({ description: 'Reflectors before.', minimum: 0 }),
    to: Type.Integer({ description: 'Reflectors after.', minimum: 0 }),
  },
  { description: 'A size change the rate policy counts.' },
);

export const AutoscalingStatusSchema = Type.Object(
  {
    freeClientSlots: Type.Integer({
      description: 'More clients (sendrecv) the mesh can take at its desired size within the budget (capacity model, roles, headroom and admission limits).',
      minimum: 0,
    }),
    maxClients: Type.Integer({ description: 'The most clients the mesh can serve at its desired size.', minimum: 0 }),
    bufferClients: Type.Optional(Type.Integer({ description: 'The buffer in clients: spec.scaling.buffer.clients, or its percent of the current clients.', minimum: 0 })),
    recommendedReplicas: Type.Optional(Type.Integer({ description: 'The smallest size whose free slots cover the buffer, before the windows and the rate policy.', minimum: 0 })),
    reason: Type.Optional(Type.String({ description: 'Why the mesh has its desired size, in words.', maxLength: 4096 })),
    recommendations: Type.Optional(Type.Array(Recommendation, { description: 'Recent changes of the recommended size, oldest first.', maxItems: 64 })),
    scaleEvents: Type.Optional(Type.Array(ScaleEvent, { description: 'Size changes within the rate period, oldest first.', maxItems: 64 })),
  },
  { description: 'Free client slots, and in Model mode with a buffer, why the operator chose its size.' },
);

export type BufferPolicy = Static<typeof BufferPolicySchema>;
export type AutoscalingStatus = Static<typeof AutoscalingStatusSchema>;
