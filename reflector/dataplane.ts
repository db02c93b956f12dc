// The reflector's side of the data plane: it picks the engine (native or TypeScript), feeds it the
// forwarding table, answers the control datagrams the engine hands up (REGISTER, KEEPALIVE), and
// reads its counters (adding the control datagrams dropped here) and its outbound rate. The packet
// loop itself is reflector/mirror and reflector/native; nothing here runs per data datagram.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { ReflectorConfig } from './config.js';
import type { ClientActivity, DataPlaneEngine, Endpoint, EngineCounters, ForwardingTable, LatencyHistogram, PortIndex } from './mirror/engine.js';
import { createDataPlaneEngine } from './native/select.js';
import { handleControlDatagram } from './registration.js';
import type { MeshKeySet } from '../protocol/security/mesh-key-set.js';
import { OutboundRate, type RateWindow } from './outbound-rate.js';
import type { Session, Sessions } from './sessions.js';

export interface DataPlaneHost {
  readonly sessions: Sessions;
  /** The table the engine should forward with now (clients and peers). */
  table(): ForwardingTable;
  /** A client registered: log it, and tell the reflector it came from if it migrated here. */
  activated(session: Session, from: Endpoint, portIndex: PortIndex): void;
}

export class DataPlane {
  private readonly engine: DataPlaneEngine;
  private readonly controlDrops = { malformed: 0, auth: 0 };
  private readonly rate = new OutboundRate(0, 0, performance.now());
  private closed = false;

  constructor(
    config: ReflectorConfig,
    private readonly host: DataPlaneHost,
    private readonly log: Logger,
  ) {
    const choice = createDataPlaneEngine(config.dataPlane, {
      address: config.address,
      dataPort: config.dataPort,
      rtp: config.rtp,
      maxDatagramSize: config.maxDatagramSize,
      maxDatagramAgeMs: config.maxDatagramAgeMs,
      // Always given (an open mesh has the open set), so a rotation step can change the keys later.
      peerAuth: { keys: config.meshKeys, advertiseAddress: config.advertiseAddress },
      ...(config.clientRateLimit ? { clientRateLimit: config.clientRateLimit } : {}),
    });
    if (choice.fallbackReason) log.info({ reason: choice.fallbackReason }, 'native data plane unavailable; using the TypeScript engine');
    this.engine = choice.engine;
  }

  get kind(): string {
    return this.engine.kind;
  }

  async start(): Promise<void> {
    this.engine.onControl((buf, portIndex, from) => this.onControlDatagram(buf, portIndex, from));
    await this.engine.start();
  }

  /** The reflector is stopping: no more table pushes (sessions ending on the way out change nothing). */
  stopTableUpdates(): void {
    this.closed = true;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.engine.close();
  }

  /** Pushes the forwarding table again (a session or a peer changed); nothing after close. */
  pushTable(): void {
    if (this.closed) return;
    this.engine.setTable(this.host.table());
  }

  /** A rotation step: the engine tags and verifies with the new set from its next datagram. */
  setMeshKeys(set: MeshKeySet): void {
    this.engine.setMeshKeys(set);
  }

  activity(clientId: number): ClientActivity | undefined {
    return this.engine.clientActivity(clientId);
  }

  latency(): LatencyHistogram {
    return this.engine.latency();
  }

  /** The engine's counters, with the control datagrams dropped here added to its drops. */
  counters(): EngineCounters {
    const c = this.engine.counters();
    return {
      ...c,
      dropped: { ...c.dropped, malformed: c.dropped.malformed + this.controlDrops.malformed, auth: c.dropped.auth + this.controlDrops.auth },
    };
  }

  /** The outbound rate over the last sample, with its stream count (sampleRate runs every second). */
  get outboundRate(): RateWindow {
    return this.rate.current;
  }

  /** Closes a rate window; `streams` is the outbound stream count now (StatusReport.outboundStreams). */
  sampleRate(streams: number): void {
    const c = this.engine.counters();
    this.rate.sample(c.bytesOut.client + c.bytesOut.peer, streams, performance.now());
  }

  private onControlDatagram(buf: Buffer, portIndex: PortIndex, from: Endpoint): void {
    const outcome = handleControlDatagram(this.host.sessions, buf, portIndex, from, Date.now());
    if (outcome.kind === 'drop') {
      this.controlDrops[outcome.reason]++;
      this.log.debug({ from, reason: outcome.reason, detail: outcome.detail }, 'control datagram dropped');
      return;
    }
    if (outcome.kind === 'refuse') {
      this.engine.sendControl(portIndex, outcome.reply, from);
      return;
    }
    // The table first, then the ACK: the client sends data the moment the ACK arrives, and the native
    // engine's thread would drop a datagram from a source its table does not know yet.
    if (outcome.changed) this.pushTable();
    this.engine.sendControl(portIndex, outcome.reply, from);
    if (outcome.activated) this.host.activated(outcome.session, from, portIndex);
  }
}
