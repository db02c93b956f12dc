// The pure-TypeScript packet loop (design §2, docs/protocol.md §2): one UDP socket per port index,
// sources classified by address then port through nested Maps built when the table changes, one pass
// over the destinations per datagram, on one thread (a sender's order is preserved). The hot path
// allocates nothing of its own beyond what dgram does: peer copies are written once per datagram into
// a preallocated ring of slots shared by every peer send. In an authenticated mesh (docs/protocol.md
// §2.4) each peer copy is tagged once whatever the number of peers, and peer data is checked against
// the peer's replay window and tag before anything is delivered; node:crypto's HMAC then costs one
// Hmac object and one 32-byte digest per datagram sent to peers and per datagram from a peer (there
// is no reusable HMAC state in node:crypto), plus a subarray view of the tagged bytes.
// Stale data (docs/protocol.md §2.5): node gives no kernel receive time, so the engine notices a stall
// instead (the loop did not run for longer than the bound) and drops all the data queued in the
// socket until a marker it sends itself at that moment comes back through the same queue.
// Kernel drops for a full receive buffer (the main loss under overload): node:dgram has no SO_RXQ_OVFL,
// so counters() reads the socket's drops from /proc/net/udp (socket-drops.ts; 0 where there is no /proc).
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { CONTROL_MAGIC } from '../../protocol/wire/control-datagram.js';
import { PEER_HEADER_SIZE, PEER_MAGIC, PEER_TAGGED_HEADER_SIZE, PEER_TAGGED_OVERHEAD, PEER_VERSION, PEER_FLAG_TAGGED, readPeerEpoch } from '../../protocol/wire/peer-header.js';
import { PeerTagKeyRing } from '../security/peer-tag.js';
import type { MeshKeySet } from '../../protocol/security/mesh-key-set.js';
import { FRESH, ReplayWindow } from '../security/replay-window.js';
import { CLIENT_ID_BYTES } from '../../protocol/wire/client-id.js';
import { RatePolicer } from '../../protocol/token-bucket.js';
import { ClientState, isUntaggedPeerData, MARKER_SIZE, peerCopy, Port, PortTable, type PeerSource, verifiesWithAny } from './js-port.js';
import { udpSocketDrops } from './socket-drops.js';
import type {
  ClientActivity,
  ControlDatagramHandler,
  DataPlaneEngine,
  DropReason,
  EngineCounters,
  EngineOptions,
  Endpoint,
  ForwardingTable,
  LatencyHistogram,
  PortIndex,
} from './engine.js';
import { rateLimitOn } from './engine.js';

/** Forwarding latency buckets, in seconds (10 µs to 100 ms). */
export const LATENCY_BUCKETS_SECONDS = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1];

/** Socket buffers: a burst while the loop is busy (GC, a control request) waits instead of being dropped. */
const SOCKET_BUFFER_BYTES = 4 << 20;

export class JsEngine implements DataPlaneEngine {
  readonly kind = 'js' as const;
  private readonly ports: Port[] = [];
  private readonly states = new Map<number, ClientState>();
  private control: ControlDatagramHandler = () => {};
  private readonly count: EngineCounters = {
    datagramsIn: { client: 0, peer: 0 },
    datagramsOut: { client: 0, peer: 0 },
    bytesIn: { client: 0, peer: 0 },
    bytesOut: { client: 0, peer: 0 },
    dropped: { unknown_source: 0, malformed: 0, oversized: 0, role: 0, auth: 0, send_error: 0, rate_limited: 0, bad_peer_tag: 0, replay: 0, stale: 0, receive_buffer: 0, send_buffer: 0 },
  };
  private readonly histogram: LatencyHistogram = {
    bucketsSeconds: LATENCY_BUCKETS_SECONDS,
    counts: LATENCY_BUCKETS_SECONDS.map(() => 0),
    count: 0,
    sumSeconds: 0,
  };
  private readonly onSent = (err: Error | null): void => {
    if (err) this.count.dropped.send_error++;
  };
  private closed = false;
  /** Undefined when no client rate limit is set: the hot path then skips the buckets. */
  private readonly policer: RatePolicer | undefined;

  /** The stale bound in ms (Infinity = none), and performance.now() when the loop last ran. */
  private readonly maxAgeMs: number;
  private aliveAtMs = performance.now();
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly markerId = randomBytes(8);

  /** Tag keys of data sockets; undefined in an open mesh (peer data untagged). */
  private tagKeys: PeerTagKeyRing | undefined;
  /** Untagged peer data is delivered (an open mesh, or the way out of one). */
  private acceptUntagged = true;
  private lastTable: ForwardingTable = { clients: [], peers: [] };

  constructor(private readonly options: EngineOptions) {
    this.policer = rateLimitOn(options.clientRateLimit) ? new RatePolicer(options.clientRateLimit, options.maxDatagramSize) : undefined;
    if (options.peerAuth) this.useKeys(options.peerAuth.keys);
    this.maxAgeMs = options.maxDatagramAgeMs !== undefined && options.maxDatagramAgeMs > 0 ? options.maxDatagramAgeMs : Infinity;
  }

  private useKeys(keys: MeshKeySet): void {
    this.tagKeys = new PeerTagKeyRing(keys);
    this.acceptUntagged = keys.acceptUnsigned;
  }

  /** This data socket's tag key as peers know it (the advertised address, the bound port). */
  private selfTagKey(port: Port): Buffer | undefined {
    const auth = this.options.peerAuth;
    return auth ? this.tagKeys?.signKey(auth.advertiseAddress, port.socket.address().port) : undefined;
  }

  setMeshKeys(keys: MeshKeySet): void {
    if (!this.options.peerAuth) throw new Error('setMeshKeys needs an engine started with peerAuth (the advertised address the tag keys bind)');
    this.useKeys(keys);
    for (const port of this.ports) port.tagKey = this.selfTagKey(port);
    this.setTable(this.lastTable);
  }

  async start(): Promise<void> {
    const count = this.options.rtp ? 2 : 1;
    for (let i = 0; i < count; i++) {
      const index = i as PortIndex;
      const socket = dgram.createSocket({ type: this.options.address.includes(':') ? 'udp6' : 'udp4' });
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(this.options.dataPort + i, this.options.address, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      try {
        socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
        socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
      } catch {
        // the kernel refused: keep its default
      }
      // Errors after binding are per-send (ICMP unreachable and the like); they must not stop the loop.
      socket.on('error', () => this.count.dropped.send_error++);
      const port = new Port(index, socket, this.options.maxDatagramSize);
      port.tagKey = this.selfTagKey(port);
      const bound = socket.address();
      port.selfAddress = bound.address === '0.0.0.0' ? '127.0.0.1' : bound.address === '::' ? '::1' : bound.address;
      port.selfPort = bound.port;
      port.marker.write('RMFL', 0, 'latin1');
      this.markerId.copy(port.marker, 4);
      socket.on('message', (msg, rinfo) => this.onMessage(port, msg, rinfo));
      this.ports.push(port);
    }
    if (this.maxAgeMs !== Infinity) {
      // Keeps aliveAtMs fresh while no data flows, so a quiet spell is not taken for a stall.
      this.heartbeat = setInterval(() => this.checkStall(performance.now(), true), Math.max(10, this.maxAgeMs / 4));
      this.heartbeat.unref();
    }
  }

  setTable(table: ForwardingTable): void {
    this.lastTable = table;
    const states = new Map<number, ClientState>();
    for (const c of table.clients) {
      const old = this.states.get(c.id);
      const state = new ClientState(c.id, c.origin ?? c.id, c.sends, c.receives);
      if (old) {
        state.lastHeardMs = old.lastHeardMs;
        state.datagramsIn = old.datagramsIn;
        state.datagramsOut = old.datagramsOut;
        state.datagramsRateLimited = old.datagramsRateLimited;
        // A table change must not refill an abusive client's buckets.
        for (let i = 0; i < 2; i++) Object.assign(state.buckets[i]!, old.buckets[i]);
      }
      states.set(c.id, state);
    }
    for (const port of this.ports) {
      const t = new PortTable();
      for (const c of table.clients) {
        const endpoint = c.endpoints[port.index];
        if (!endpoint) continue;
        const state = states.get(c.id)!;
        let byPort = t.clients.get(endpoint.address);
        if (!byPort) t.clients.set(endpoint.address, (byPort = new Map<number, ClientState>()));
        byPort.set(endpoint.port, state);
        if (c.receives && c.deliver) t.receivers.push({ state, address: endpoint.address, port: endpoint.port });
      }
      for (const p of table.peers) {
        const dataPort = p.dataPort + port.index;
        let byPort = t.peers.get(p.address);
        if (!byPort) t.peers.set(p.address, (byPort = new Map<number, PeerSource>()));
        // A peer staying in the table keeps its window: a fresh one would accept replays again.
        const old = port.table.peers.get(p.address)?.get(dataPort);
        byPort.set(dataPort, { keys: this.tagKeys?.verifyKeys(p.address, dataPort) ?? [], window: old?.window ?? new ReplayWindow() });
        t.peerList.push({ address: p.address, port: dataPort });
      }
      port.table = t;
    }
    this.states.clear();
    for (const [id, s] of states) this.states.set(id, s);
  }

  onControl(handler: ControlDatagramHandler): void {
    this.control = handler;
  }

  sendControl(portIndex: PortIndex, datagram: Buffer, to: Endpoint): void {
    const port = this.ports[portIndex];
    if (!port || this.closed) return;
    port.socket.send(datagram, to.port, to.address, this.onSent);
  }

  counters(): EngineCounters {
    const c = this.count;
    return {
      datagramsIn: { ...c.datagramsIn },
      datagramsOut: { ...c.datagramsOut },
      bytesIn: { ...c.bytesIn },
      bytesOut: { ...c.bytesOut },
      // The kernel's drops for a full receive buffer: not seen by node:dgram, read from /proc per call.
      dropped: { ...c.dropped, receive_buffer: this.kernelDrops() },
    };
  }

  private kernelDrops(): number {
    let total = 0;
    for (const port of this.ports) total += udpSocketDrops(port.selfAddress, port.selfPort);
    return total;
  }

  clientActivity(clientId: number): ClientActivity | undefined {
    const s = this.states.get(clientId);
    return s ? { lastHeardMs: s.lastHeardMs, datagramsIn: s.datagramsIn, datagramsOut: s.datagramsOut, datagramsRateLimited: s.datagramsRateLimited } : undefined;
  }

  latency(): LatencyHistogram {
    const h = this.histogram;
    return { bucketsSeconds: h.bucketsSeconds, counts: [...h.counts], count: h.count, sumSeconds: h.sumSeconds };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    await Promise.all(this.ports.map((p) => new Promise<void>((resolve) => p.socket.close(() => resolve()))));
  }

  // ---- the hot path

  private onMessage(port: Port, msg: Buffer, from: dgram.RemoteInfo): void {
    const started = performance.now();
    this.checkStall(started, false);
    const length = msg.length;
    if (length >= 4 && msg.readUInt32BE(0) === CONTROL_MAGIC) {
      // Not a sign of life by itself: anyone can send "RMSH" from a client's address. The session's
      // lastControlMs moves only when the datagram's tag verified (registration.ts).
      this.control(msg, port.index, from);
      return;
    }
    if (port.flushing) {
      // Queued before the stall was noticed: older than the bound, or of unknown age. Dropped
      // unclassified (counted in no client's activity: it is no sign of life now).
      if (length === MARKER_SIZE && from.port === port.selfPort && from.address === port.selfAddress && msg.equals(port.marker)) port.flushing = false;
      else this.drop('stale');
      return;
    }
    const table = port.table;
    const client = table.clients.get(from.address)?.get(from.port);
    let peer: PeerSource | undefined;
    if (client !== undefined) {
      this.fromClient(port, table, client, msg, length, started);
    } else if ((peer = table.peers.get(from.address)?.get(from.port)) !== undefined) {
      if (peer.keys.length === 0 || (this.acceptUntagged && isUntaggedPeerData(msg, length))) this.fromPeer(port, table, msg, length);
      else this.fromTaggedPeer(port, table, peer, msg, length);
    } else {
      this.count.dropped.unknown_source++;
      return;
    }
    this.observe(performance.now() - started);
  }

  private fromClient(port: Port, table: PortTable, client: ClientState, msg: Buffer, length: number, nowMs: number): void {
    const count = this.count;
    client.lastHeardMs = Date.now();
    client.datagramsIn++;
    count.datagramsIn.client++;
    count.bytesIn.client += length;
    if (length > this.options.maxDatagramSize) return this.drop('oversized');
    if (!client.sends) return this.drop('role');
    // Policed before any copy: an abusive sender costs the reflector only this receive.
    if (this.policer !== undefined && !this.policer.admit(client.buckets[port.index], length, nowMs)) {
      client.datagramsRateLimited++;
      return this.drop('rate_limited');
    }
    const socket = port.socket;
    const receivers = table.receivers;
    for (let i = 0; i < receivers.length; i++) {
      const r = receivers[i]!;
      // Not back to the sender, nor to a session it left here before failing over and back.
      if (r.state.origin === client.origin) continue;
      socket.send(msg, r.port, r.address, this.onSent);
      r.state.datagramsOut++;
      count.datagramsOut.client++;
      count.bytesOut.client += length;
    }
    const peers = table.peerList;
    if (peers.length === 0) return;
    const copy = peerCopy(port, client.origin, msg, length);
    const copyLength = copy.length;
    for (let i = 0; i < peers.length; i++) {
      const p = peers[i]!;
      socket.send(copy, p.port, p.address, this.onSent);
      count.datagramsOut.peer++;
      count.bytesOut.peer += copyLength;
    }
  }

  private fromPeer(port: Port, table: PortTable, msg: Buffer, length: number): void {
    const count = this.count;
    count.datagramsIn.peer++;
    count.bytesIn.peer += length;
    if (
      length < PEER_HEADER_SIZE ||
      msg.readUInt16BE(0) !== PEER_MAGIC ||
      msg[2] !== PEER_VERSION ||
      (msg[3]! & PEER_FLAG_TAGGED) !== 0
    ) {
      return this.drop('malformed');
    }
    if (length > this.options.maxDatagramSize + PEER_HEADER_SIZE) return this.drop('oversized');
    this.deliverFromPeer(port, table, msg, PEER_HEADER_SIZE, length - PEER_HEADER_SIZE);
  }

  /**
   * Peer data in an authenticated mesh: well-formed and tagged, not a replay (checked first: cheap),
   * tag verified, then the window moves; only then is anything delivered.
   */
  private fromTaggedPeer(port: Port, table: PortTable, peer: PeerSource, msg: Buffer, length: number): void {
    const count = this.count;
    count.datagramsIn.peer++;
    count.bytesIn.peer += length;
    if (length < PEER_TAGGED_OVERHEAD || msg.readUInt16BE(0) !== PEER_MAGIC || msg[2] !== PEER_VERSION) return this.drop('malformed');
    // Untagged data from a peer of an authenticated mesh is as unauthenticated as a forged tag.
    if ((msg[3]! & PEER_FLAG_TAGGED) === 0) return this.drop('bad_peer_tag');
    if (length > this.options.maxDatagramSize + PEER_TAGGED_OVERHEAD) return this.drop('oversized');
    const epoch = readPeerEpoch(msg);
    const sequence = msg.readUInt32BE(12);
    if (peer.window.check(epoch, sequence) !== FRESH) return this.drop('replay');
    if (!verifiesWithAny(msg, length, peer.keys)) return this.drop('bad_peer_tag');
    peer.window.update(epoch, sequence);
    this.deliverFromPeer(port, table, msg, PEER_TAGGED_HEADER_SIZE, length - PEER_TAGGED_OVERHEAD);
  }

  /** Delivers peer data (payload at msg[offset, offset + payloadLength)) to every local receiver but its origin. */
  private deliverFromPeer(port: Port, table: PortTable, msg: Buffer, offset: number, payloadLength: number): void {
    const count = this.count;
    const origin = msg.readUIntBE(4, CLIENT_ID_BYTES);
    const receivers = table.receivers;
    if (receivers.length === 0) return;
    // One view of the payload for every local receiver.
    const payload = msg.subarray(offset, offset + payloadLength);
    const socket = port.socket;
    for (let i = 0; i < receivers.length; i++) {
      const r = receivers[i]!;
      if (r.state.origin === origin) continue;
      socket.send(payload, r.port, r.address, this.onSent);
      r.state.datagramsOut++;
      count.datagramsOut.client++;
      count.bytesOut.client += payloadLength;
    }
  }

  /**
   * The loop did not run for longer than the bound (the process was stopped, starved or paused): what
   * waits in the sockets is that old. Each port drops its data until its marker, sent now to the back
   * of its own queue, comes back. While flushing, the heartbeat sends the marker again: the first may
   * have found the socket buffer full.
   */
  private checkStall(nowMs: number, resend: boolean): void {
    const stalled = nowMs - this.aliveAtMs > this.maxAgeMs;
    this.aliveAtMs = nowMs;
    if (!stalled && !resend) return;
    for (const port of this.ports) {
      if (stalled) {
        port.flushing = true;
        port.marker.writeUInt32BE((port.marker.readUInt32BE(12) + 1) >>> 0, 12);
      }
      if (port.flushing && !this.closed) port.socket.send(port.marker, port.selfPort, port.selfAddress, this.onSent);
    }
  }

  private drop(reason: DropReason): void {
    this.count.dropped[reason]++;
  }

  private observe(ms: number): void {
    const h = this.histogram;
    const seconds = ms / 1000;
    h.count++;
    h.sumSeconds += seconds;
    const buckets = h.bucketsSeconds;
    for (let i = buckets.length - 1; i >= 0 && seconds <= buckets[i]!; i--) h.counts[i]!++;
  }
}
