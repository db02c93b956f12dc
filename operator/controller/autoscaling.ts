// Sizing with the capacity buffer (spec.scaling.buffer, issue 15), pure. Wraps decideSize (sizing.ts):
// every mode gets status.autoscaling.freeClientSlots; Model mode with a buffer is sized by
// model/buffer.ts and then held by the HPA's rules, so an autoscaler-minded reader finds what they know:
//   - stabilisation: scale up to the LOWEST size recommended within the scale-up window, down to
//     the HIGHEST within the scale-down window (kube's stabilizeRecommendationWithBehaviors; stabilise.ts,
//     which plain Model mode uses too);
//   - rate: at most scaleUpReflectors added / scaleDownReflectors removed within any ratePeriodSeconds;
//   - a scale-down waits for complete client counts (an unreachable reflector's clients are unknown).
// The windows' memory lives in status (recommendations, scaleEvents), so an operator restart or a
// change of leader keeps it.
import type { AutoscalingStatus, BufferPolicy, ReflectorMeshSpec } from '../api/v1alpha1/index.js';
import { budgetOf, bufferOption, planBuffer, sizeOption, type BufferTarget, type SlotLimits } from '../../model/index.js';
import { decideSize, type Sizing, type SizingInput } from './sizing.js';
import { iso, MAX_HISTORY, nextChangeMs, parse, recordRecommendation, stabilise } from './stabilise.js';


/** decideSize, plus the free client slots in every mode, plus the buffer policy in Model mode. */
export function decideAutoscaledSize(input: SizingInput): Sizing {
  const sizing = decideSize(input);
  const buffer = input.spec.scaling.buffer;
  if (input.spec.scaling.mode === 'Model' && buffer) return bufferSizing(input, sizing, buffer);
  if (sizing.replicas > 0) {
    const budget = budgetOf(sizing.bitrateMbps, input.spec.capacity.outboundMbps, input.spec.capacity.headroom);
    const o = bufferOption(sizing.replicas, sizing.clients, budget, slotLimits(input.spec));
    sizing.autoscaling = { freeClientSlots: o.freeClientSlots, maxClients: o.maxClients };
  }
  // Plain Model mode's scale-down window remembers its recommendations in status too.
  if (sizing.recommendations && sizing.autoscaling) sizing.autoscaling.recommendations = sizing.recommendations;
  return sizing;
}

function slotLimits(spec: ReflectorMeshSpec): SlotLimits {
  const limits: SlotLimits = {};
  if (spec.capacity.maxClients !== undefined) limits.maxClients = spec.capacity.maxClients;
  if (spec.capacity.maxClientsPerReflector !== undefined) limits.maxClientsPerReflector = spec.capacity.maxClientsPerReflector;
  return limits;
}

function targetOf(buffer: BufferPolicy): BufferTarget {
  return buffer.clients !== undefined ? { clients: buffer.clients } : { percent: buffer.percent ?? 0 };
}

function bufferSizing(input: SizingInput, model: Sizing, buffer: BufferPolicy): Sizing {
  const { spec, status, nowMs } = input;
  const { minReplicas, maxReplicas } = spec.scaling;
  const budget = budgetOf(model.bitrateMbps, spec.capacity.outboundMbps, spec.capacity.headroom);
  const limits = slotLimits(spec);
  const planned = planBuffer({ clients: model.clients, budget, target: targetOf(buffer), minReflectors: minReplicas, maxReflectors: maxReplicas, limits });

  const previous = status?.autoscaling;
  const windowMs = Math.max(buffer.scaleUpStabilizationSeconds, buffer.scaleDownStabilizationSeconds) * 1000;
  const history = recordRecommendation(previous?.recommendations ?? [], planned.reflectors, nowMs, windowMs);
  const before = status?.desiredReplicas ?? (input.activePods > 0 ? input.activePods : minReplicas);
  const current = Math.min(maxReplicas, Math.max(minReplicas, before));
  const periodMs = buffer.ratePeriodSeconds * 1000;
  const pastEvents = (previous?.scaleEvents ?? []).filter((e) => parse(e.at) > nowMs - periodMs);
  const chosen = stabilise(current, history, pastEvents, buffer, input.complete, nowMs);
  const events = chosen.replicas === current ? pastEvents : [...pastEvents, { at: iso(nowMs), from: current, to: chosen.replicas }];

  const at = bufferOption(chosen.replicas, model.clients, budget, limits);
  const reason = chosen.held ? `${planned.reason} Desired ${chosen.replicas}: ${chosen.held}.` : planned.reason;
  const autoscaling: AutoscalingStatus = {
    freeClientSlots: at.freeClientSlots,
    maxClients: at.maxClients,
    bufferClients: planned.bufferClients,
    recommendedReplicas: planned.reflectors,
    reason,
    recommendations: history,
  };
  if (events.length > 0) autoscaling.scaleEvents = events.slice(-MAX_HISTORY);

  const sizing: Sizing = {
    replicas: chosen.replicas,
    option: sizeOption(chosen.replicas, model.clients, budget),
    clients: model.clients,
    bitrateMbps: model.bitrateMbps,
    reason: `buffer: ${reason}`,
    autoscaling,
  };
  // New pods may admit what the largest size in the bounds can serve, as in plain Model mode.
  if (model.admissionLimit !== undefined) sizing.admissionLimit = model.admissionLimit;
  const recheck = nextChangeMs(history, events, buffer, nowMs);
  if (recheck !== undefined) sizing.recheckAfterMs = recheck;
  return sizing;
}
