// The narrow interface between the reflector's control side (TypeScript: sessions, peers, migration)
// and its data plane (the packet loop). The control side owns the forwarding table and pushes a whole
// new table whenever membership changes; the engine owns the sockets on P (and P+1 in RTP mode), moves
// datagrams by the rules of design §2 and docs/protocol.md §2, hands every control datagram (RMSH
// magic, from any source) to the control side, and counts what it did. Two engines implement it: the
// pure-TypeScript one (js-engine.ts) and a native one (reflector/native/), chosen by --data-plane.

import type { MeshKeySet } from '../../protocol/security/mesh-key-set.js';

import type { PortIndex } from '../../protocol/wire/control-datagram.js';
export type { PortIndex };

export interface Endpoint {
  address: string;
  port: number;
}

/** A local client as the packet loop needs it. */
export interface ForwardingClient {
  /** The 48-bit client id. */
  id: number;
  /**
   * The origin id in this client's peer copies, and the one a datagram is never delivered back to:
   * the client's id, or after a failover the id of its first session (docs/protocol.md §2.5), so that
   * a session it left at another reflector is never sent its own datagrams. Absent = id.
   */
  origin?: number;
  /** The role allows sending: the client's data is forwarded (sendrecv, sendonly). */
  sends: boolean;
  /** The role allows receiving: the client is sent others' data (sendrecv, recvonly). */
  receives: boolean;
  /**
   * The client's UDP source address per port index (index 0 = P, 1 = P+1); undefined until the
   * client registered on that port. Datagrams from it are this client's.
   */
  endpoints: readonly [Endpoint | undefined, Endpoint | undefined];
  /**
   * False for a client migrating away after the target reflector took it over: its datagrams still
   * in flight are accepted and forwarded, but nothing is delivered to it any more.
   */
  deliver: boolean;
}

/** A peer reflector as the packet loop needs it: it sends to and accepts from address:dataPort+index. */
export interface ForwardingPeer {
  id: string;
  address: string;
  dataPort: number;
}

export interface ForwardingTable {
  clients: readonly ForwardingClient[];
  peers: readonly ForwardingPeer[];
}

/**
 * Why a datagram was dropped (the `reason` label of rmesh_datagrams_dropped_total). receive_buffer: the
 * kernel dropped it because the data socket's receive buffer was full (the main loss under overload);
 * send_buffer: a copy the engine gave up on after the send buffer stayed full.
 */
export type DropReason =
  | 'unknown_source'
  | 'malformed'
  | 'oversized'
  | 'role'
  | 'auth'
  | 'send_error'
  | 'rate_limited'
  | 'bad_peer_tag'
  | 'replay'
  | 'stale'
  | 'receive_buffer'
  | 'send_buffer';
export interface BySource {
  client: number;
  peer: number;
}

/** Monotonic totals since the engine started. */
export interface EngineCounters {
  datagramsIn: BySource;
  datagramsOut: BySource;
  bytesIn: BySource;
  bytesOut: BySource;
  /** Drops the engine decided; the control side adds its own (auth, malformed control datagrams). */
  dropped: Record<DropReason, number>;
}

export interface ClientActivity {
  /** Date.now() of the last datagram from this client (data or control); 0 if never. */
  lastHeardMs: number;
  datagramsIn: number;
  datagramsOut: number;
  /** Of datagramsIn, those its rate limit dropped (docs/security.md "Limits"). */
  datagramsRateLimited: number;
}

/**
 * Forwarding latency: time from a datagram's arrival in the engine to its last copy handed to the
 * socket. Cumulative histogram in the Prometheus sense: counts[i] = datagrams with latency <=
 * bucketsSeconds[i]; count and sumSeconds over all forwarded datagrams.
 */
export interface LatencyHistogram {
  bucketsSeconds: readonly number[];
  counts: number[];
  count: number;
  sumSeconds: number;
}

export interface EngineOptions {
  /** Address to bind the data sockets to. */
  address: string;
  /** The data port P; P+1 too when rtp. */
  dataPort: number;
  rtp: boolean;
  /** Largest client payload accepted; larger ones are dropped as oversized (peer data may add the header). */
  maxDatagramSize: number;
  /** Per-client policing of data datagrams; absent or all zero = no limit (see ClientRateLimit). */
  clientRateLimit?: ClientRateLimit;
  /** Authenticated peers (docs/protocol.md §2.4): absent = an open mesh, peer data untagged. */
  peerAuth?: PeerAuthOptions;
  /**
   * Data that waited longer than this between its arrival at the data socket and the packet loop (the
   * process stopped or starved: a stall) is dropped, reason stale; absent or 0 = never. After a stall
   * the queue holds seconds-old media, and copies of clients' own datagrams for sessions they have
   * since left (they failed over): docs/protocol.md §2.5.
   */
  maxDatagramAgeMs?: number;
}

/**
 * With a mesh key every peer copy is tagged (reason bad_peer_tag for one whose tag fails or that is
 * untagged) and replays are refused by a window per peer and port (reason replay). During a rotation
 * the copies are tagged with the current key and verify with any key of the set (current first);
 * acceptUnsigned lets untagged peer data through (an open mesh, or the way out of one).
 */
export interface PeerAuthOptions {
  keys: MeshKeySet;
  /** The address peers know this reflector by: its data sockets' tag keys are derived from it. */
  advertiseAddress: string;
}

/**
 * A token bucket per registered client and data port, checked before fan-out: a datagram that finds
 * its client's bucket empty is dropped (reason rate_limited) at the cost of its receive only. Each
 * limit is off at 0. Peer data is never policed here: the reflector its origin client sent to already did.
 */
export interface ClientRateLimit {
  /** Data datagrams per second a client may send (per data port); 0 = no limit. */
  packetsPerSecond: number;
  /** UDP payload bits per second a client may send (per data port); 0 = no limit. */
  bitsPerSecond: number;
  /** Bucket depth, as time at the rate: how long a client may send above it after a quiet spell. */
  burstMs: number;
}

/** True when a limit is set: the engines skip the bucket entirely otherwise. */
export function rateLimitOn(limit: ClientRateLimit | undefined): limit is ClientRateLimit {
  return limit !== undefined && (limit.packetsPerSecond > 0 || limit.bitsPerSecond > 0);
}

/** Called for every datagram starting with the control magic ("RMSH"), whatever its source or size. */
export type ControlDatagramHandler = (datagram: Buffer, portIndex: PortIndex, from: Endpoint) => void;

export interface DataPlaneEngine {
  /** Which implementation runs: 'js' or 'native'. */
  readonly kind: 'js' | 'native';
  /** Binds the socket(s); rejects with the bind error (for example EADDRINUSE). */
  start(): Promise<void>;
  /** Replaces the whole forwarding table; takes effect for the next datagram. */
  setTable(table: ForwardingTable): void;
  /**
   * Replaces the mesh keys (a rotation step); takes effect for the next datagram, replay windows and
   * sequences kept. Only for an engine started with peerAuth (which gives the advertised address).
   */
  setMeshKeys(keys: MeshKeySet): void;
  /** Sets the single receiver of control datagrams. */
  onControl(handler: ControlDatagramHandler): void;
  /** Sends a control datagram (REGISTER_ACK, REFUSED) from the data socket of a port index. */
  sendControl(portIndex: PortIndex, datagram: Buffer, to: Endpoint): void;
  counters(): EngineCounters;
  /** Activity of a client in the current table; undefined if the id is not in it. */
  clientActivity(clientId: number): ClientActivity | undefined;
  latency(): LatencyHistogram;
  /** Closes the sockets; idempotent. */
  close(): Promise<void>;
}
