// The TypeScript engine's per-port state (reflector/mirror/js-engine.ts): a data socket with the table
// compiled for its port index, the peer copies' sequence, epoch and ring of preallocated slots, and the
// stall marker; and the peer framing helpers of the hot path.
import type dgram from 'node:dgram';
import {
  PEER_FLAG_TAGGED,
  PEER_HEADER_SIZE,
  PEER_MAGIC,
  PEER_TAG_SIZE,
  PEER_TAGGED_HEADER_SIZE,
  PEER_TAGGED_OVERHEAD,
  PEER_VERSION,
  writePeerHeader,
  writeTaggedPeerHeader,
} from '../../protocol/wire/peer-header.js';
import { nextPeerEpoch, verifyPeerTag, writePeerTag } from '../security/peer-tag.js';
import type { ReplayWindow } from '../security/replay-window.js';
import { TokenBucket } from '../../protocol/token-bucket.js';
import type { ClientActivity, PortIndex } from './engine.js';

/** Ring slots per port: a slot is reused only once the socket's send queue is shorter than the ring. */
export const RING_SLOTS = 1024;

export class ClientState implements ClientActivity {
  lastHeardMs = 0;
  datagramsIn = 0;
  datagramsOut = 0;
  datagramsRateLimited = 0;
  /** Rate-limit buckets per port index (as the native engine: one per data port). */
  readonly buckets: readonly [TokenBucket, TokenBucket] = [new TokenBucket(), new TokenBucket()];
  constructor(
    readonly id: number,
    /** The origin id of its peer copies: never delivered a datagram of that origin. */
    readonly origin: number,
    readonly sends: boolean,
    readonly receives: boolean,
  ) {}
}

export interface Destination {
  state: ClientState;
  address: string;
  port: number;
}

export interface PeerDestination {
  address: string;
  port: number;
}

/** The table compiled for one port index. */
export class PortTable {
  /** address -> port -> client */
  readonly clients = new Map<string, Map<number, ClientState>>();
  /** address -> port -> peer (its tag key and replay window when the mesh is authenticated) */
  readonly peers = new Map<string, Map<number, PeerSource>>();
  readonly receivers: Destination[] = [];
  readonly peerList: PeerDestination[] = [];
}

/**
 * A peer's data socket as a source: the keys its tags verify with (current first; empty in an open
 * mesh) and its replay window.
 */
export interface PeerSource {
  keys: readonly Buffer[];
  window: ReplayWindow;
}

/** Bytes of the marker a port sends itself after a stall: "RMFL", 8 random bytes, the episode. */
export const MARKER_SIZE = 16;

export class Port {
  table = new PortTable();
  /** After a stall: data is dropped as stale until this port's marker comes back. */
  flushing = false;
  /** The marker for the current stall (its last 4 bytes count the stalls). */
  readonly marker = Buffer.alloc(MARKER_SIZE);
  /** Where the marker is sent: this socket's own address (loopback when bound to any). */
  selfAddress = '';
  selfPort = 0;
  sequence = 0;
  /** Epoch of this port's peer copies (authenticated mesh): new at start and when the sequence wraps. */
  epoch = nextPeerEpoch();
  /** This data socket's tag key (authenticated mesh). */
  tagKey: Buffer | undefined;
  readonly ring: Buffer;
  ringNext = 0;
  readonly slotSize: number;
  constructor(
    readonly index: PortIndex,
    readonly socket: dgram.Socket,
    maxDatagramSize: number,
  ) {
    this.slotSize = maxDatagramSize + PEER_TAGGED_OVERHEAD;
    this.ring = Buffer.allocUnsafe(this.slotSize * RING_SLOTS);
  }
}

/** Header and payload in a ring slot; a fresh buffer only when the socket is backed up past the ring. */
export function peerCopy(port: Port, originId: number, msg: Buffer, length: number): Buffer {
  const sequence = port.sequence;
  port.sequence = (sequence + 1) >>> 0;
  const tagKey = port.tagKey;
  const copyLength = tagKey === undefined ? length + PEER_HEADER_SIZE : length + PEER_TAGGED_OVERHEAD;
  let target: Buffer;
  if (port.socket.getSendQueueCount() < RING_SLOTS - 1) {
    const start = port.ringNext * port.slotSize;
    port.ringNext = port.ringNext + 1 === RING_SLOTS ? 0 : port.ringNext + 1;
    target = port.ring.subarray(start, start + copyLength);
  } else {
    target = Buffer.allocUnsafe(copyLength);
  }
  if (tagKey === undefined) {
    writePeerHeader(target, originId, sequence);
    msg.copy(target, PEER_HEADER_SIZE, 0, length);
    return target;
  }
  writeTaggedPeerHeader(target, originId, sequence, port.epoch);
  msg.copy(target, PEER_TAGGED_HEADER_SIZE, 0, length);
  writePeerTag(target, copyLength - PEER_TAG_SIZE, tagKey);
  // The sequence wrapped: what follows goes in a new epoch, or peers would take it for replays.
  if (port.sequence === 0) port.epoch = nextPeerEpoch(port.epoch);
  return target;
}

/** Well-formed untagged peer data (what an open mesh sends): taken as such only while untagged is accepted. */
export function isUntaggedPeerData(msg: Buffer, length: number): boolean {
  return length >= PEER_HEADER_SIZE && msg.readUInt16BE(0) === PEER_MAGIC && msg[2] === PEER_VERSION && (msg[3]! & PEER_FLAG_TAGGED) === 0;
}

/** The tag verifies with one of the keys, tried in order (the current key first: one HMAC in the common case). */
export function verifiesWithAny(msg: Buffer, length: number, keys: readonly Buffer[]): boolean {
  for (let i = 0; i < keys.length; i++) if (verifyPeerTag(msg, length, keys[i]!)) return true;
  return false;
}
