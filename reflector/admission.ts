// Pure admission and placement decisions (design §4): which reflector takes a new client (the fewest
// clients, ties to the one asked), how many clients each reflector hands to a newcomer so that every
// reflector serves nr or nr-1, and where a draining reflector sends its clients. No I/O here.
import { peakOutboundStreams } from '../model/index.js';
import { ERROR_CODES } from '../protocol/errors.js';

export interface Candidate {
  id: string;
  clients: number;
  /** Draining reflectors admit nobody. */
  draining: boolean;
}

export interface Limits {
  /** Most clients one reflector serves; 0 = no limit. */
  maxClientsPerReflector: number;
  /** Most clients in the whole mesh; 0 = no limit. */
  maxClients: number;
}

export type AdmissionDecision =
  | { admit: true; order: string[] }
  | { admit: false; code: typeof ERROR_CODES.MESH_FULL | typeof ERROR_CODES.REFLECTOR_FULL | typeof ERROR_CODES.DRAINING; message: string };

/**
 * Orders the reflectors that may take a client, best first: fewest clients, ties to `self` (the one
 * asked), then by id for a stable order. The caller tries them in order (a peer's count may be stale).
 */
export function chooseReflectors(self: Candidate, peers: readonly Candidate[], limits: Limits): AdmissionDecision {
  const all = [self, ...peers];
  const total = all.reduce((sum, c) => sum + c.clients, 0);
  if (limits.maxClients > 0 && total >= limits.maxClients) {
    return {
      admit: false,
      code: ERROR_CODES.MESH_FULL,
      message: `the mesh is full: ${total} of ${limits.maxClients} clients; try again later or ask the operator to scale the mesh`,
    };
  }
  const open = all.filter((c) => !c.draining);
  if (open.length === 0) {
    return { admit: false, code: ERROR_CODES.DRAINING, message: `reflector ${self.id} is draining and no peer admits clients; try another reflector` };
  }
  const fits = open.filter((c) => limits.maxClientsPerReflector === 0 || c.clients < limits.maxClientsPerReflector);
  if (fits.length === 0) {
    return {
      admit: false,
      code: ERROR_CODES.REFLECTOR_FULL,
      message: `every reflector serves its limit of ${limits.maxClientsPerReflector} clients; try again later or ask the operator to scale the mesh`,
    };
  }
  fits.sort((a, b) => a.clients - b.clients || rank(a, self) - rank(b, self) || a.id.localeCompare(b.id));
  return { admit: true, order: fits.map((c) => c.id) };
}

function rank(c: Candidate, self: Candidate): number {
  return c.id === self.id ? 0 : 1;
}

/**
 * How many clients each reflector should hand to a newcomer (which serves `newcomerClients`), so that
 * afterwards every reflector serves nr or nr-1 clients. Takes from the most loaded first.
 */
export function planRedistribution(newcomerClients: number, peers: readonly Candidate[]): Map<string, number> {
  const counts = new Map(peers.filter((p) => !p.draining).map((p) => [p.id, p.clients] as [string, number]));
  const give = new Map<string, number>();
  let mine = newcomerClients;
  for (;;) {
    let top: string | undefined;
    let topCount = -1;
    for (const [id, n] of counts) {
      if (n > topCount || (n === topCount && top !== undefined && id < top)) {
        top = id;
        topCount = n;
      }
    }
    if (top === undefined || topCount <= mine + 1) break;
    counts.set(top, topCount - 1);
    give.set(top, (give.get(top) ?? 0) + 1);
    mine++;
  }
  return give;
}

/**
 * Where a draining reflector sends each of its clients: to the open peers with the fewest clients,
 * counting each assignment, skipping peers at their limit. Returns one target id per client (or
 * undefined when no peer can take it).
 */
export function planDrain(clientCount: number, peers: readonly Candidate[], limits: Limits): (string | undefined)[] {
  const open = peers.filter((p) => !p.draining).map((p) => ({ ...p }));
  const targets: (string | undefined)[] = [];
  for (let i = 0; i < clientCount; i++) {
    const fits = open.filter((p) => limits.maxClientsPerReflector === 0 || p.clients < limits.maxClientsPerReflector);
    if (fits.length === 0) {
      targets.push(undefined);
      continue;
    }
    fits.sort((a, b) => a.clients - b.clients || a.id.localeCompare(b.id));
    const best = fits[0]!;
    best.clients++;
    targets.push(best.id);
  }
  return targets;
}

/**
 * The capacity model's peak outbound streams of a reflector (design §3, eq. 4, model/capacity.ts):
 * what the status reports for the mesh as this reflector sees it; 0 for no reflector or no client.
 */
export function predictedOutboundStreams(reflectors: number, clients: number): number {
  if (reflectors < 1 || clients < 1) return 0;
  return peakOutboundStreams(reflectors, clients);
}
