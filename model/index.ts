// The capacity model's public surface (design §3): formulas (1)–(4) and their generalisation to
// client roles, placement, the planner and rebalance plans. Pure functions, no I/O; the operator,
// the reflector (outbound_streams_predicted) and `rmesh plan` import from here only.
//
// Quick reference:
//   peakOutboundStreams(m, n)                  (4) nr·(m+n−2): every client sends and receives
//   reflectorOutboundStreams(local, S, m)      (3) generalised: one reflector's streams, by its clients' roles
//   placeCounts(m, counts) / placeClients(...)  nr/nr−1 per reflector with the lowest peak
//   plan({ clients, bitrateMbps, capacityMbps, headroom, minReflectors, maxReflectors })
//   maxClients(m, budgetStreams, { recvonly, sendonly })
//   planRebalance({ current, reflectors, roles })   fewest migrations to nr/nr−1
export type { Client, Role, RoleCounts } from '../protocol/roles.js';
export { ROLES, allSendRecv, countRoles, isRole, roleCounts, totalClients } from '../protocol/roles.js';
export {
  clientsPerReflector,
  inboundStreams,
  meshOutboundStreams,
  meshPeakOutboundStreams,
  outboundStreams,
  peakOutboundStreams,
  reflectorOutboundStreams,
  roleWeights,
  senders,
} from './capacity.js';
export type { ClientPlacement, CountPlacement } from './placement.js';
export { placeClients, placeCounts, reflectorSizes } from './placement.js';
export type { Budget, Plan, PlanInput, SizeOption } from './planner.js';
export { budgetOf, lowestPeak, maxClients, plan, sizeOption } from './planner.js';
export type { Migration, RebalanceInput, RebalancePlan } from './rebalance.js';
export { planRebalance } from './rebalance.js';
