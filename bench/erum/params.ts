// The Erum experiment's numbers, scaled down, and its pure decisions: the link and stream rates (B/b as
// in the report, 905/30), how IP, UDP and Ethernet headers are counted on the emulated link, the model's
// prediction (the planner with the receive-only client), and the search for the largest passing n.
import { maxClients, meshOutboundStreams, placeCounts, reflectorOutboundStreams, roleCounts, senders, type RoleCounts } from '../../model/index.js';
import { PEER_TAGGED_OVERHEAD } from '../../protocol/wire/peer-header.js';

/** UDP payload of every datagram, as in the report. */
export const PAYLOAD_BYTES = 1440;
/** What tc counts per datagram beyond the payload: IPv4 (20) + UDP (8) + Ethernet header (14). */
export const WIRE_OVERHEAD_BYTES = 20 + 8 + 14;
/** Datagrams a second of one stream: low, so that 16 reflectors and their clients stay far from CPU limits. */
export const PACKETS_PER_SECOND = 10;
/** b: one stream's bitrate as the report counts it (payload), 115.2 kbit/s. */
export const STREAM_BPS = PAYLOAD_BYTES * 8 * PACKETS_PER_SECOND;
/** The report's ratio: 905 Mbit/s usable on 1 GbE with 1440-byte datagrams, 30 Mbit/s streams. */
export const ERUM_LINK_MBPS = 905;
export const ERUM_STREAM_MBPS = 30;
/** B: the usable outbound rate of a reflector host, in the same (payload) terms as b: 3.4752 Mbit/s. */
export const LINK_PAYLOAD_BPS = (STREAM_BPS * ERUM_LINK_MBPS) / ERUM_STREAM_MBPS;
/**
 * The token bucket's rate: B in bits on the wire, as tc counts them (payload plus IP, UDP and Ethernet
 * headers), so that exactly B/b = 30.17 streams of 1440-byte datagrams fit: 3.5766 Mbit/s.
 */
export const LINK_WIRE_BPS = (LINK_PAYLOAD_BPS * (PAYLOAD_BYTES + WIRE_OVERHEAD_BYTES)) / PAYLOAD_BYTES;
/** The model's budget: ⌊B/b⌋ streams per reflector (the planner's budgetOf with capacity B and bitrate b). */
export const BUDGET_STREAMS = Math.floor(ERUM_LINK_MBPS / ERUM_STREAM_MBPS);
/** Worst client loss that still passes, as in the report. */
export const LOSS_LIMIT = 0.01;
/** A candidate whose first trial loses this much (five times the limit) fails without repeats. */
export const CLEAR_FAILURE = 5 * LOSS_LIMIT;

/** The model's n for m reflectors: as many sendrecv clients as fit beside the one receive-only client. */
export function modelClients(m: number): number {
  return maxClients(m, BUDGET_STREAMS, { recvonly: 1 });
}

/** The model's lowest peak outbound streams for n clients (one receive-only) on m reflectors. */
export function modelPeakStreams(m: number, n: number): number {
  return placeCounts(m, roleCounts({ sendrecv: n - 1, recvonly: 1 })).peakOutboundStreams;
}

/** The model's peak for the placement the mesh really made (roles per reflector, from /v1/status). */
export function placedPeakStreams(perReflector: readonly RoleCounts[]): number {
  return Math.max(0, ...meshOutboundStreams(perReflector));
}

/**
 * One reflector's outbound rate on the wire, counting what the model does not: each copy to a peer
 * carries the mesh's own header (origin, sequence, epoch, tag: 40 bytes) besides the payload.
 */
export function reflectorWireBps(local: RoleCounts, totalSenders: number, m: number): number {
  const streams = reflectorOutboundStreams(local, totalSenders, m);
  const peerCopies = senders(local) * (m - 1);
  return PACKETS_PER_SECOND * 8 * (streams * (PAYLOAD_BYTES + WIRE_OVERHEAD_BYTES) + peerCopies * PEER_TAGGED_OVERHEAD);
}

/** The busiest reflector's wire rate for n clients (one receive-only) placed as the model places them. */
export function byteExactPeakWireBps(m: number, n: number): number {
  const placed = placeCounts(m, roleCounts({ sendrecv: n - 1, recvonly: 1 })).perReflector;
  const total = placed.reduce((sum, r) => sum + senders(r), 0);
  return Math.max(0, ...placed.map((r) => reflectorWireBps(r, total, m)));
}

/** The model's n with every byte counted: the most clients whose busiest link stays within B on the wire. */
export function byteExactClients(m: number): number {
  let n = 1;
  while (byteExactPeakWireBps(m, n + 1) <= LINK_WIRE_BPS) n++;
  return byteExactPeakWireBps(m, 1) <= LINK_WIRE_BPS ? n : 0;
}

/**
 * Where the mesh should put each client: client i joins through reflector i mod m and, taking its turn,
 * finds that reflector among the least loaded, so it stays there; client 1 is the receive-only one.
 */
export function intendedPlacement(m: number, n: number): RoleCounts[] {
  const placed = Array.from({ length: m }, () => roleCounts());
  for (let i = 0; i < n; i++) placed[i % m]![i === 0 ? 'recvonly' : 'sendrecv'] += 1;
  return placed;
}

/** A stream count as the link's share it takes, on the wire. */
export function streamsToWireBps(streams: number): number {
  return streams * PACKETS_PER_SECOND * (PAYLOAD_BYTES + WIRE_OVERHEAD_BYTES) * 8;
}

/** What the experiment knows of a candidate n: its trials' worst-client losses. */
export type Trials = ReadonlyMap<number, readonly number[]>;

export const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

/** Whether n's trials are complete, and whether it passed (mean worst loss below the limit). */
export function verdict(losses: readonly number[] | undefined, repeats: number): 'pass' | 'fail' | 'more' {
  if (!losses || losses.length === 0) return 'more';
  if (losses[0]! >= CLEAR_FAILURE) return 'fail';
  if (losses.length < repeats) return 'more';
  return mean(losses) < LOSS_LIMIT ? 'pass' : 'fail';
}

/**
 * The next n to try (undefined when the answer is known): start from the model's n, then walk up
 * while n+1 passes, or down while n fails, so that the answer n passes and n+1 fails, both measured.
 */
export function nextCandidate(model: number, trials: Trials, repeats: number, max: number): number | undefined {
  let n = Math.max(1, model);
  const state = (k: number): 'pass' | 'fail' | 'more' => verdict(trials.get(k), repeats);
  if (state(n) === 'more') return n;
  if (state(n) === 'pass') {
    while (n < max) {
      const up = state(n + 1);
      if (up === 'more') return n + 1;
      if (up === 'fail') return undefined;
      n++;
    }
    return undefined;
  }
  while (n > 1) {
    const down = state(n - 1);
    if (down === 'more') return n - 1;
    if (down === 'pass') return undefined;
    n--;
  }
  return undefined;
}

/** The largest n that passed with n+1 failing (0 when even n = 1 failed), once nextCandidate is done. */
export function measuredClients(trials: Trials, repeats: number): number {
  const passed = [...trials.keys()].filter((n) => verdict(trials.get(n), repeats) === 'pass');
  return passed.length ? Math.max(...passed) : 0;
}
