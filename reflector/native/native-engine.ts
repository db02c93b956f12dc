// The native data plane behind the DataPlaneEngine interface: the packet loop runs in C threads
// (recvmmsg in, sendmmsg fan-out), the forwarding table stays the control side's and is copied into
// the addon on every change, and counters are read straight from the memory the threads write.
// Behaviour matches the TypeScript engine (reflector/mirror/js-engine.ts) rule for rule.
import type {
  ClientActivity,
  ControlDatagramHandler,
  DataPlaneEngine,
  EngineCounters,
  EngineOptions,
  Endpoint,
  ForwardingTable,
  LatencyHistogram,
  PortIndex,
} from '../mirror/engine.js';
import { LATENCY_BUCKETS_SECONDS } from '../mirror/js-engine.js';
import type { NativeAuth, NativeHandle, NativeLayout, NativeMirrorAddon, NativePeer } from './addon.js';
import { PeerTagKeyRing } from '../security/peer-tag.js';
import type { MeshKeySet } from '../../protocol/security/mesh-key-set.js';
import { loadNativeMirror } from './addon.js';
import { SlotAllocator } from './slots.js';

/** Client activity lines; clients beyond share one line (their activity then reads as the sum). */
export const DEFAULT_SLOTS = 4096;

/** Engine-internal numbers, for benchmarks and debugging. */
export interface NativeEngineStats {
  /** recvmmsg calls that returned datagrams. */
  batches: number;
  /** sendmmsg calls. */
  sendCalls: number;
  /** Copies sent as one UDP GSO send of several datagrams. */
  gsoSends: number;
  controlToJs: number;
  /** Control datagrams dropped because JavaScript did not keep up (a flood). */
  controlDropped: number;
}

/** Knobs of the native engine beyond the common EngineOptions; the defaults suit the reflector. */
export interface NativeTuning {
  /** Client activity lines (default 4096). */
  slots?: number;
  /**
   * Send runs of one sender's datagrams as one UDP GSO copy per destination (default true; used only
   * where the kernel has UDP_SEGMENT). It pays when batches hold several datagrams of one sender.
   */
  gso?: boolean;
  /** SO_RCVBUF and SO_SNDBUF of the data sockets (default 4 MiB; the kernel caps it at rmem_max). */
  socketBufferBytes?: number;
}

export class NativeEngineUnavailableError extends Error {
  override name = 'NativeEngineUnavailableError';
}

export class NativeEngine implements DataPlaneEngine {
  readonly kind = 'native' as const;
  private readonly addon: NativeMirrorAddon;
  private readonly layout: NativeLayout;
  private handle: NativeHandle | undefined;
  private stats: Float64Array | undefined;
  private stride = 0;
  private nports = 0;
  private boundPorts: number[] = [];
  private control: ControlDatagramHandler = () => {};
  private pending: ForwardingTable | undefined;
  private readonly slots: SlotAllocator;
  /** Control sends that failed on the JavaScript thread (the packet threads count their own). */
  private controlSendErrors = 0;
  private closed = false;

  private readonly slotCount: number;
  private gsoOn = false;
  /** Authenticated mesh: tag keys of data sockets, and the replay window slot of each peer. */
  private tagKeys: PeerTagKeyRing | undefined;
  private lastTable: ForwardingTable = { clients: [], peers: [] };
  private readonly windows = new WindowSlots();

  constructor(
    private readonly options: EngineOptions,
    addon?: NativeMirrorAddon,
    private readonly tuning: NativeTuning = {},
  ) {
    this.slotCount = tuning.slots ?? DEFAULT_SLOTS;
    if (!addon) {
      const load = loadNativeMirror();
      if (!load.ok) throw new NativeEngineUnavailableError(load.reason);
      addon = load.addon;
    }
    this.addon = addon;
    this.layout = addon.layout;
    this.slots = new SlotAllocator(this.slotCount);
    this.tagKeys = options.peerAuth ? new PeerTagKeyRing(options.peerAuth.keys) : undefined;
  }

  start(): Promise<void> {
    if (this.handle) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('the native engine is closed; create a new one'));
    try {
      const opened = this.addon.open(
        {
          address: this.options.address,
          dataPort: this.options.dataPort,
          rtp: this.options.rtp,
          maxDatagramSize: this.options.maxDatagramSize,
          slots: this.slotCount,
          latencyBucketsSeconds: LATENCY_BUCKETS_SECONDS,
          gso: this.tuning.gso ?? true,
          maxDatagramAgeMs: this.options.maxDatagramAgeMs ?? 0,
          ...(this.options.clientRateLimit
            ? {
                clientPacketsPerSecond: this.options.clientRateLimit.packetsPerSecond,
                clientBitsPerSecond: this.options.clientRateLimit.bitsPerSecond,
                clientBurstMs: this.options.clientRateLimit.burstMs,
              }
            : {}),
          ...(this.tuning.socketBufferBytes === undefined ? {} : { socketBufferBytes: this.tuning.socketBufferBytes }),
        },
        (datagram, portIndex, address, port) => this.control(datagram, portIndex as PortIndex, { address, port }),
      );
      this.handle = opened.handle;
      this.stats = new Float64Array(opened.stats);
      this.stride = opened.portStride;
      this.nports = opened.ports.length;
      this.boundPorts = opened.ports;
      this.gsoOn = opened.gso;
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (this.pending) this.setTable(this.pending);
    this.pending = undefined;
    return Promise.resolve();
  }

  /** True when the kernel took UDP GSO and the engine uses it (after start). */
  get gso(): boolean {
    return this.gsoOn;
  }

  /** The bound port of each port index (after start). */
  get ports(): readonly number[] {
    return this.boundPorts;
  }

  setMeshKeys(keys: MeshKeySet): void {
    if (!this.options.peerAuth) throw new Error('setMeshKeys needs an engine started with peerAuth (the advertised address the tag keys bind)');
    this.tagKeys = new PeerTagKeyRing(keys);
    // A new table carries the keys: the packet threads pick it up at their next batch.
    if (this.handle) this.setTable(this.lastTable);
  }

  setTable(table: ForwardingTable): void {
    if (this.closed) return;
    this.lastTable = table;
    if (!this.handle || !this.stats) {
      this.pending = table;
      return;
    }
    const { slots, fresh } = this.slots.assign(table.clients.map((c) => c.id));
    for (const slot of fresh) this.resetSlot(slot);
    if (!this.tagKeys || !this.options.peerAuth) {
      this.addon.setTable(this.handle, table.clients, slots, table.peers);
      return;
    }
    const keys = this.tagKeys;
    const advertised = this.options.peerAuth.advertiseAddress;
    const selfKeys = this.boundPorts.map((port) => keys.signKey(advertised, port));
    const auth: NativeAuth = {
      ...(selfKeys.every((k) => k !== undefined) ? { selfKeys } : {}),
      keyCount: keys.verifyKeys(advertised, 0).length,
      acceptUnsigned: keys.acceptUnsigned,
    };
    const peers: NativePeer[] = this.windows.assign(table.peers).map(({ peer, slot, generation }) => {
      const perPort = this.boundPorts.map((_, index) => keys.verifyKeys(peer.address, peer.dataPort + index));
      return {
        address: peer.address,
        dataPort: peer.dataPort,
        // per key, per port (the addon's layout)
        tagKeys: Array.from({ length: auth.keyCount }, (_, k) => perPort.map((byKey) => byKey[k]!)),
        windowSlot: slot,
        windowGeneration: generation,
      };
    });
    this.addon.setTable(this.handle, table.clients, slots, peers, auth);
  }

  onControl(handler: ControlDatagramHandler): void {
    this.control = handler;
  }

  sendControl(portIndex: PortIndex, datagram: Buffer, to: Endpoint): void {
    if (!this.handle || this.closed || portIndex >= this.nports) return;
    try {
      if (!this.addon.send(this.handle, portIndex, datagram, to.address, to.port)) this.controlSendErrors++;
    } catch {
      // Same as the TypeScript engine: a control send that fails is counted, never thrown at the caller.
      this.controlSendErrors++;
    }
  }

  counters(): EngineCounters {
    const l = this.layout;
    const sum = (offset: number): number => this.sumPorts(offset);
    return {
      datagramsIn: { client: sum(l.inClient), peer: sum(l.inPeer) },
      datagramsOut: { client: sum(l.outClient), peer: sum(l.outPeer) },
      bytesIn: { client: sum(l.bytesInClient), peer: sum(l.bytesInPeer) },
      bytesOut: { client: sum(l.bytesOutClient), peer: sum(l.bytesOutPeer) },
      dropped: {
        unknown_source: sum(l.dropUnknownSource),
        malformed: sum(l.dropMalformed),
        oversized: sum(l.dropOversized),
        role: sum(l.dropRole),
        auth: 0,
        send_error: sum(l.dropSendError) + this.controlSendErrors,
        rate_limited: sum(l.dropRateLimited),
        bad_peer_tag: sum(l.dropBadPeerTag),
        replay: sum(l.dropReplay),
        stale: sum(l.dropStale),
      },
    };
  }

  clientActivity(clientId: number): ClientActivity | undefined {
    const slot = this.slots.slotOf(clientId);
    if (slot === undefined) return undefined;
    const l = this.layout;
    const base = l.globalDoubles + Math.min(slot, this.slotCount) * l.slotDoubles;
    const lastHeardMonotonic = this.maxPorts(base + l.slotLastHeard);
    return {
      // The threads stamp the monotonic clock; the interface speaks Date.now().
      lastHeardMs: lastHeardMonotonic === 0 ? 0 : Math.round(Date.now() - (this.addon.nowMs() - lastHeardMonotonic)),
      datagramsIn: this.sumPorts(base + l.slotIn),
      datagramsOut: this.sumPorts(base + l.slotOut),
      datagramsRateLimited: this.sumPorts(base + l.slotRateLimited),
    };
  }

  latency(): LatencyHistogram {
    const l = this.layout;
    const counts: number[] = [];
    let cumulative = 0;
    for (let i = 0; i < LATENCY_BUCKETS_SECONDS.length; i++) {
      cumulative += this.sumPorts(l.latencyBuckets + i);
      counts.push(cumulative);
    }
    return {
      bucketsSeconds: LATENCY_BUCKETS_SECONDS,
      counts,
      count: this.sumPorts(l.latencyCount),
      sumSeconds: this.sumPorts(l.latencySum),
    };
  }

  engineStats(): NativeEngineStats {
    const l = this.layout;
    return {
      batches: this.sumPorts(l.batches),
      sendCalls: this.sumPorts(l.sendCalls),
      gsoSends: this.sumPorts(l.gsoSends),
      controlToJs: this.sumPorts(l.controlToJs),
      controlDropped: this.sumPorts(l.controlDropped),
    };
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    // Joins the packet threads: they wake at once (shutdown of the sockets), finish their batch and exit.
    if (this.handle) this.addon.close(this.handle);
    return Promise.resolve();
  }

  private sumPorts(offset: number): number {
    const stats = this.stats;
    if (!stats) return 0;
    let total = 0;
    for (let p = 0; p < this.nports; p++) total += stats[p * this.stride + offset]!;
    return total;
  }

  private maxPorts(offset: number): number {
    const stats = this.stats;
    if (!stats) return 0;
    let max = 0;
    for (let p = 0; p < this.nports; p++) max = Math.max(max, stats[p * this.stride + offset]!);
    return max;
  }

  private resetSlot(slot: number): void {
    const stats = this.stats;
    if (!stats || slot >= this.slotCount) return;
    const l = this.layout;
    for (let p = 0; p < this.nports; p++) {
      const start = p * this.stride + l.globalDoubles + slot * l.slotDoubles;
      stats.fill(0, start, start + l.slotDoubles);
    }
  }
}

/** Replay windows per port in the addon (RM_MAX_WINDOWS). */
export const MAX_PEER_WINDOWS = 1024;

/**
 * The replay window slot of each peer data address: kept while the peer stays in the table (a fresh
 * window would accept replays again), freed when it goes; every assignment has a new generation, so
 * the packet threads reset a slot that changed hands.
 */
export class WindowSlots {
  private readonly byEndpoint = new Map<string, { slot: number; generation: number }>();
  private readonly free: number[] = [];
  private next = 0;
  private generation = 0;

  assign<P extends { address: string; dataPort: number }>(peers: readonly P[]): { peer: P; slot: number; generation: number }[] {
    const ids = peers.map((p) => `${p.address} ${p.dataPort}`);
    const present = new Set(ids);
    for (const [id, entry] of this.byEndpoint) {
      if (present.has(id)) continue;
      this.byEndpoint.delete(id);
      this.free.push(entry.slot);
    }
    return peers.map((peer, i) => {
      let entry = this.byEndpoint.get(ids[i]!);
      if (!entry) {
        const slot = this.next < MAX_PEER_WINDOWS ? this.next++ : this.free.shift();
        if (slot === undefined) throw new Error(`more than ${MAX_PEER_WINDOWS} peers: the native data plane keeps a replay window for at most ${MAX_PEER_WINDOWS}`);
        entry = { slot, generation: ++this.generation };
        this.byEndpoint.set(ids[i]!, entry);
      }
      return { peer, slot: entry.slot, generation: entry.generation };
    });
  }
}
