// When a mesh's status is worth a write to the API server (issue 14, item 8: less load on it). Every
// change a user or the controller's own memory depends on is written at once: counts, sizes,
// conditions' status and reason, the reflector rows, the autoscaling history. Numbers that move with
// the measured stream rate (the plan's Mbit/s, packets per second, utilisation, the free slots at that
// rate) and the wording of condition messages may change on every pass without anything happening;
// when nothing else changed they are written at most once per interval per mesh. The rates themselves
// are not in the status at all: the operator exports them (rmesh_mesh_reflector_outbound_bits_per_second).
import type { ReflectorMeshStatus } from '../api/v1alpha1/index.js';
import { canonical } from './canonical.js';


/** At most one status write per mesh this often when only fast-moving numbers changed. */
export const STATUS_WRITE_INTERVAL_MS = 30_000;

/** The status without its fast-moving numbers and messages: what must reach the API server at once. */
export function slowPart(status: ReflectorMeshStatus | undefined): unknown {
  if (!status) return {};
  const { plan, autoscaling, conditions, reflectors, ...rest } = status;
  const slow: Record<string, unknown> = { ...rest };
  if (plan) slow.plan = { reflectors: plan.reflectors, clientsPerReflector: plan.clientsPerReflector, peakOutboundStreams: plan.peakOutboundStreams, fits: plan.fits };
  if (autoscaling) {
    const { freeClientSlots: _free, maxClients: _max, bufferClients: _buffer, reason: _reason, ...memory } = autoscaling;
    slow.autoscaling = memory;
  }
  if (conditions) slow.conditions = conditions.map(({ message: _message, ...c }) => c);
  // outboundMbps: written by operators before this one; dropping it is not urgent either.
  if (reflectors) slow.reflectors = reflectors.map(({ outboundMbps: _rate, ...row }) => row);
  return slow;
}

export type StatusWrite = { write: true; outcome: 'written' } | { write: false; outcome: 'unchanged' } | { write: false; outcome: 'deferred'; retryInMs: number };

/**
 * Whether to write `next` over `previous` now: not when equal; at once when a slow part changed;
 * otherwise only when `intervalMs` has passed since this mesh's last write (`lastWriteMs`, unknown
 * after a restart: then at once), else deferred for `retryInMs`.
 */
export function statusWrite(next: ReflectorMeshStatus, previous: ReflectorMeshStatus | undefined, lastWriteMs: number | undefined, nowMs: number, intervalMs: number): StatusWrite {
  if (canonical(next) === canonical(previous ?? {})) return { write: false, outcome: 'unchanged' };
  if (canonical(slowPart(next)) !== canonical(slowPart(previous))) return { write: true, outcome: 'written' };
  if (lastWriteMs === undefined || nowMs - lastWriteMs >= intervalMs) return { write: true, outcome: 'written' };
  return { write: false, outcome: 'deferred', retryInMs: lastWriteMs + intervalMs - nowMs };
}
