// The capacity buffer (issue 15): how many more clients a mesh of m reflectors can take, and the
// smallest mesh whose free client slots cover a buffer of K clients, as Agones' FleetAutoscaler
// keeps a buffer of ready game servers. Pure arithmetic on the capacity model, like planner.ts.
//
// Capacity is not monotonic in m: every extra reflector is one more peer copy of every stream, so
// with a 20-stream budget meshes of 1..6 reflectors take 5, 6, 6, 8, 7, 6 clients. The search
// therefore evaluates every size in the bounds and never stops at the first that shrinks.
import { maxClients, type Budget } from './planner.js';
import type { RoleCounts } from '../protocol/roles.js';
import { assertRoleCounts, totalClients } from '../protocol/roles.js';

/** What the buffer asks for: room for `clients` more, or for `percent` % of the current clients. */
export type BufferTarget = { clients: number; percent?: undefined } | { percent: number; clients?: undefined };

/** Admission limits that cap the slots below what the budget allows (spec.capacity). */
export interface SlotLimits {
  /** The most clients in the whole mesh. */
  maxClients?: number;
  /** The most clients per reflector. */
  maxClientsPerReflector?: number;
}

/** The free client slots of one mesh size. */
export interface BufferOption {
  reflectors: number;
  /** The most clients this size serves: the current recvonly and sendonly ones plus sendrecv ones. */
  maxClients: number;
  /** maxClients − n, at least 0: new clients (sendrecv) this size can still admit. */
  freeClientSlots: number;
  /** Whether the current clients fit at all. */
  fits: boolean;
}

export interface BufferPlanInput {
  clients: RoleCounts;
  budget: Budget;
  target: BufferTarget;
  minReflectors: number;
  maxReflectors: number;
  limits?: SlotLimits;
}

export interface BufferPlan {
  /** The size chosen: the smallest that covers the buffer, else the one with the most free slots. */
  reflectors: number;
  /** The buffer in clients. */
  bufferClients: number;
  freeClientSlots: number;
  maxClients: number;
  /** Whether the chosen size's free slots cover the buffer. */
  covered: boolean;
  /** Why this size, in words. */
  reason: string;
  /** Every size in the bounds, ascending. */
  options: BufferOption[];
}

/** The buffer in clients: K, or percent % of the n current clients rounded up. */
export function bufferClients(target: BufferTarget, n: number): number {
  if (target.clients !== undefined) {
    if (!Number.isSafeInteger(target.clients) || target.clients < 0) throw new RangeError(`the buffer must be a whole number of clients >= 0, got ${target.clients}`);
    return target.clients;
  }
  if (!Number.isFinite(target.percent) || target.percent < 0) throw new RangeError(`the buffer percentage must be >= 0, got ${target.percent}`);
  // Integer arithmetic first: 20 % of 50 is 10, not 10.000000000000002 rounded up to 11.
  return Math.max(0, Math.ceil((n * target.percent) / 100 - 1e-9));
}

/** The most clients m reflectors serve within the budget and the admission limits. */
export function meshMaxClients(m: number, clients: RoleCounts, budget: Budget, limits: SlotLimits = {}): number {
  let most = maxClients(m, budget.budgetStreams, clients);
  if (limits.maxClients !== undefined) most = Math.min(most, limits.maxClients);
  if (limits.maxClientsPerReflector !== undefined) most = Math.min(most, limits.maxClientsPerReflector * m);
  return most;
}

/** The free client slots of m reflectors: how many more sendrecv clients fit (0 when over capacity). */
export function bufferOption(m: number, clients: RoleCounts, budget: Budget, limits: SlotLimits = {}): BufferOption {
  assertRoleCounts(clients);
  if (!Number.isSafeInteger(m) || m < 1) throw new RangeError(`the number of reflectors must be >= 1, got ${m}`);
  const n = totalClients(clients);
  const most = meshMaxClients(m, clients, budget, limits);
  return { reflectors: m, maxClients: most, freeClientSlots: Math.max(0, most - n), fits: most >= n };
}

function clientsWord(n: number): string {
  return `${n} client${n === 1 ? '' : 's'}`;
}

function describe(chosen: BufferOption, options: BufferOption[], k: number, n: number, covered: boolean): string {
  const sizes = `${chosen.reflectors} reflector${chosen.reflectors === 1 ? '' : 's'}`;
  if (!covered) {
    return (
      `the buffer of ${clientsWord(k)} cannot be covered within ${options[0]!.reflectors}–${options[options.length - 1]!.reflectors} reflectors: ` +
      `the most free slots any size leaves for ${clientsWord(n)} is ${chosen.freeClientSlots}, with ${sizes}; raise scaling.maxReplicas or capacity.outboundMbps, or lower the buffer.`
    );
  }
  const smaller = options.filter((o) => o.reflectors < chosen.reflectors);
  const worse = options.filter((o) => o.reflectors > chosen.reflectors && o.freeClientSlots < k);
  let text = `${sizes} serve ${clientsWord(n)} and leave ${chosen.freeClientSlots} free client slots, covering the buffer of ${k}`;
  if (smaller.length > 0) text += `; fewer reflectors leave at most ${Math.max(...smaller.map((o) => o.freeClientSlots))}`;
  if (worse.length > 0) text += `; more reflectors do not always help: ${worse.map((o) => o.reflectors).join(', ')} would leave fewer than ${k}`;
  return `${text}.`;
}

/**
 * The smallest m in the bounds whose free client slots cover the buffer. When none does, the m with
 * the most free slots (the smallest on ties), with covered false: the mesh then at least grows as
 * far as helps, and the reason says what would.
 */
export function planBuffer(input: BufferPlanInput): BufferPlan {
  const { clients, budget, minReflectors: min, maxReflectors: max } = input;
  if (!Number.isSafeInteger(min) || min < 1 || !Number.isSafeInteger(max) || max < min) {
    throw new RangeError(`the bounds must be whole numbers with 1 <= min <= max, got ${min}..${max}`);
  }
  const n = totalClients(clients);
  const k = bufferClients(input.target, n);
  const options: BufferOption[] = [];
  for (let m = min; m <= max; m++) options.push(bufferOption(m, clients, budget, input.limits));
  const smallest = options.find((o) => o.fits && o.freeClientSlots >= k);
  // Without a covering size, the most room; maxClients breaks ties among the over-capacity sizes.
  const chosen = smallest ?? options.reduce((a, b) => (b.maxClients > a.maxClients ? b : a));
  const covered = smallest !== undefined;
  return {
    reflectors: chosen.reflectors,
    bufferClients: k,
    freeClientSlots: chosen.freeClientSlots,
    maxClients: chosen.maxClients,
    covered,
    reason: describe(chosen, options, k, n, covered),
    options,
  };
}
