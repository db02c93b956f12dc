// Phase 6: a settled mesh (nothing created, going, rewired or in flight) is evened by the rebalance
// plan, a bounded number of client migrations per pass.
import { planRebalance, type Role } from '../../../model/index.js';
import { isServing, plural, type Pass, type PhaseResult } from './pass.js';

/** Most client migrations the operator starts in one pass: the rest follow in the next passes. */
export const MAX_MIGRATIONS_PER_PASS = 8;

/** `busy`: an earlier phase acts this pass, so the mesh is not settled. */
export function rebalance(pass: Pass, size: number, busy: boolean): PhaseResult {
  const { observed, active } = pass;
  const result: PhaseResult = { actions: [], events: [] };
  const settled =
    !busy &&
    pass.draining.length === 0 &&
    active.every((p) => isServing(pass, p)) &&
    active.length === size &&
    active.every((p) => observed.reports.get(p.name)!.clients.every((c) => c.state === 'active'));
  if (!settled || size <= 1) return result;
  const current: Record<string, string[]> = {};
  const roles: Record<string, Role> = {};
  for (const pod of active) {
    const clients = observed.reports.get(pod.name)!.clients;
    current[pod.name] = clients.map((c) => c.clientId);
    for (const c of clients) roles[c.clientId] = c.role;
  }
  const plan = planRebalance({ current, reflectors: active.map((p) => p.name), roles });
  const moves = plan.migrations.slice(0, MAX_MIGRATIONS_PER_PASS);
  for (const move of moves) result.actions.push({ type: 'migrate', pod: move.from, clientId: move.client, to: move.to });
  if (moves.length > 0) {
    result.progress = { migrating: plan.migrations.length };
    result.events.push({
      type: 'Normal',
      reason: 'Rebalancing',
      message: `moving ${plural(plan.migrations.length, 'client')} to even the load at ${plan.clientsPerReflector} per reflector`,
    });
  }
  return result;
}
