// The capacity model of design §3: how many streams a reflector sends for a given mesh, as pure
// arithmetic. Formulas (1)–(4) for meshes where every client sends and receives, and their exact
// generalisation to clients with roles (sendrecv, recvonly, sendonly).
import type { Role, RoleCounts } from '../protocol/roles.js';
import { totalClients } from '../protocol/roles.js';

function assertCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a whole number >= 0, got ${value}`);
  }
}

function assertReflectors(m: number): void {
  if (!Number.isSafeInteger(m) || m < 1) throw new RangeError(`the number of reflectors must be >= 1, got ${m}`);
}

/** (1) nr = ⌈n / m⌉: the most clients one reflector serves when n clients are spread evenly over m. */
export function clientsPerReflector(n: number, m: number): number {
  assertCount('the number of clients', n);
  assertReflectors(m);
  return Math.ceil(n / m);
}

/** (2) in = n: streams into each reflector, one from each client (all clients send). */
export function inboundStreams(n: number): number {
  assertCount('the number of clients', n);
  return n;
}

/**
 * (3) out = s·((m−1) + (s−1)) + s·(n−s): streams out of a reflector serving s of the n clients of
 * an m-reflector mesh, when every client sends and receives. Each local sender goes to the m−1 peers
 * and its s−1 local neighbours; each local client receives the n−s remote streams.
 */
export function outboundStreams(s: number, m: number, n: number): number {
  assertCount('the clients of the reflector', s);
  assertCount('the number of clients', n);
  assertReflectors(m);
  if (s > n) throw new RangeError(`a reflector cannot serve ${s} of only ${n} clients`);
  if (s === 0) return 0;
  return s * (m - 1 + (s - 1)) + s * (n - s);
}

/** (4) out = nr·(m + n − 2): the peak, (3) at s = nr, when every client sends and receives. */
export function peakOutboundStreams(m: number, n: number): number {
  const nr = clientsPerReflector(n, m);
  return n === 0 ? 0 : nr * (m + n - 2);
}

/** How many clients of the mesh send (sendrecv and sendonly): every one of them is a stream. */
export function senders(clients: RoleCounts): number {
  return clients.sendrecv + clients.sendonly;
}

/**
 * The streams one client adds to its reflector's outbound total, by role, in an m-reflector mesh
 * with `totalSenders` senders. A reflector's outbound streams are the sum of these over its
 * clients, which is what makes placement a weighing problem:
 * - sendrecv: its stream to the m−1 peers, and it receives every sender but itself: (m−1) + (S−1);
 * - recvonly: it receives every sender: S;
 * - sendonly: its stream to the m−1 peers: m−1.
 * The local copies (a local sender to a local receiver) are counted on the receiving side.
 */
export function roleWeights(m: number, totalSenders: number): Record<Role, number> {
  assertReflectors(m);
  assertCount('the number of senders', totalSenders);
  return { sendrecv: m - 1 + totalSenders - 1, recvonly: totalSenders, sendonly: m - 1 };
}

/**
 * The generalised form of (3): streams out of one reflector of an m-reflector mesh whose clients
 * include `totalSenders` senders, given the role counts of the reflector's own clients. It counts
 * each local sender's stream to the m−1 peers, each local sender's stream to each other local
 * receiver, and each remote sender's stream to each local receiver.
 */
export function reflectorOutboundStreams(local: RoleCounts, totalSenders: number, m: number): number {
  for (const role of ['sendrecv', 'recvonly', 'sendonly'] as const) assertCount(role, local[role]);
  if (senders(local) > totalSenders) {
    throw new RangeError(`a reflector cannot have ${senders(local)} local senders of only ${totalSenders}`);
  }
  if (totalClients(local) === 0) return 0;
  const w = roleWeights(m, totalSenders);
  return local.sendrecv * w.sendrecv + local.recvonly * w.recvonly + local.sendonly * w.sendonly;
}

/** The outbound streams of every reflector of a mesh, given each one's clients (m = the list's length). */
export function meshOutboundStreams(perReflector: readonly RoleCounts[]): number[] {
  const m = perReflector.length;
  const totalSenders = perReflector.reduce((sum, r) => sum + senders(r), 0);
  return perReflector.map((local) => reflectorOutboundStreams(local, totalSenders, m));
}

/** The most streams any reflector of the mesh sends (0 for a mesh without clients). */
export function meshPeakOutboundStreams(perReflector: readonly RoleCounts[]): number {
  return Math.max(0, ...meshOutboundStreams(perReflector));
}
