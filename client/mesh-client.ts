// The client SDK: joins a reflector mesh through any reflector, registers its UDP address from its own
// data socket(s) (so it works behind NAT), sends and receives payloads, follows migration orders (make
// before break) and reflector-list updates, and fails over by itself when its reflector goes silent.
// docs/protocol.md is the contract; this is its reference implementation.
import type dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { parseClientId } from '../protocol/wire/client-id.js';
import { ControlType } from '../protocol/wire/control-datagram.js';
import type { ByeEvent, JoinResponse, MigrateEvent, ReflectorsEvent } from '../protocol/api-schemas.js';
import { backoffDelayMs, type BackoffPolicy } from '../protocol/backoff.js';
import { ERROR_CODES } from '../protocol/errors.js';
import { controlUrl } from './http.js';
import { EventStream } from './event-stream.js';
import { EventTooLongError } from './sse-parser.js';
import { DataSockets } from './data-sockets.js';
import { askToJoin, currentToken, isTokenRefusal, leaveSession, parseTarget, type JoinTarget, type SessionGrant } from './joining.js';
import {
  MeshError,
  type DataSource,
  type MeshClientEvents,
  type MeshClientOptions,
  type MeshClientStats,
  type PortIndex,
  type ReflectorInfo,
  type SessionInfo,
} from './types.js';

export * from './types.js';
export { isTokenRefusal };
const DEFAULT_FAILOVER_TIMEOUT_MS = 3000;
const DEFAULT_REQUEST_TIMEOUT_MS = 3000;
const DEFAULT_REGISTER_RETRY_MS = 200;
const STREAM_RETRY_MS = 250;
const FAILOVER_RETRY: BackoffPolicy = { initialMs: 500, maxMs: 5000 }; // jittered: a mesh's clients don't retry in step
const DEFAULT_RECEIVE_BUFFER_BYTES = 1 << 20;

export class MeshClient extends EventEmitter<MeshClientEvents> {
  private readonly joinTargets: string[];
  private readonly requestTimeoutMs: number;
  private readonly failoverTimeoutMs: number;
  private readonly data: DataSockets;
  private session: SessionGrant | undefined;
  /** Where data and keep-alives go; undefined while not registered anywhere (joining, failing over). */
  private target: ReflectorInfo | undefined;
  private reflectorList: ReflectorInfo[] = [];
  /** Data is accepted only from reflectors' data sockets: address -> port -> known. */
  private readonly sources = new Map<string, Set<number>>();
  /**
   * The client id of the first session: a failover join presents it (JoinRequest.origin), so that a
   * session left behind at a reflector that was only cut off is never sent this client's own datagrams.
   */
  private originIdText: string | undefined;
  private stream: EventStream | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private livenessTimer: NodeJS.Timeout | undefined;
  private lastSignOfLife = 0;
  private migrationId: string | undefined;
  private failingOver = false;
  private closed = false;
  private readonly counters: MeshClientStats = { datagramsSent: 0, datagramsReceived: 0, bytesSent: 0, bytesReceived: 0, sendsDropped: 0, migrations: 0, failovers: 0 };

  constructor(private readonly options: MeshClientOptions) {
    super();
    this.joinTargets = typeof options.join === 'string' ? [options.join] : [...options.join];
    if (this.joinTargets.length === 0) throw new MeshError('no reflector to join through', ERROR_CODES.NO_REFLECTOR, 0);
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.failoverTimeoutMs = options.failoverTimeoutMs ?? DEFAULT_FAILOVER_TIMEOUT_MS;
    this.data = new DataSockets(
      {
        session: () => this.session,
        closed: () => this.closed,
        data: (msg, portIndex, from) => this.onData(msg, portIndex, from),
        warning: (err) => this.emit('warning', err),
        acked: (from) => { if (this.isFromTarget(from)) this.lastSignOfLife = Date.now(); },
        refused: (from) => { if (this.isFromTarget(from)) void this.runFailover('refused'); },
      },
      options.registerRetryMs ?? DEFAULT_REGISTER_RETRY_MS,
    );
  }

  /** The current session, or undefined before join() and while failing over. */
  get info(): SessionInfo | undefined {
    if (!this.session || !this.target) return undefined;
    return {
      clientId: this.session.clientIdText,
      role: this.session.role,
      reflector: this.target,
      reflectors: [...this.reflectorList],
      portCount: this.data.sockets.length === 2 ? 2 : 1,
    };
  }

  get clientId(): string | undefined {
    return this.session?.clientIdText;
  }

  get reflector(): ReflectorInfo | undefined {
    return this.target;
  }

  get reflectors(): ReflectorInfo[] {
    return [...this.reflectorList];
  }

  /** Local addresses of the data sockets, by port index. */
  get localEndpoints(): DataSource[] {
    return this.data.sockets.map((s) => {
      const a = s.address();
      return { address: a.address, port: a.port };
    });
  }

  stats(): MeshClientStats {
    return { ...this.counters };
  }

  /**
   * Joins the mesh through the first reflector of `join` that answers and registers at the reflector
   * the mesh assigns. Rejects with MeshError (code RMESH_MESH_FULL, RMESH_REFLECTOR_FULL, ...) when
   * no reflector admits the client.
   */
  async join(): Promise<SessionInfo> {
    if (this.closed) throw new MeshError('the client is closed', ERROR_CODES.CLOSED, 0);
    const started = performance.now();
    await this.joinThrough(this.joinTargets.map(parseTarget));
    const info = this.info!;
    this.emit('registered', { session: info, durationMs: performance.now() - started });
    return info;
  }

  /** Sends a payload to the mesh on a port index (1 = RTCP in RTP mode). Dropped (and counted) while failing over. */
  send(payload: Buffer, portIndex: PortIndex = 0): void {
    const target = this.target;
    const socket = this.data.sockets[portIndex];
    if (!target || !socket) {
      if (!socket && this.data.sockets.length > 0) throw new RangeError(`port index ${portIndex} is not in use (the mesh is not in RTP mode)`);
      this.counters.sendsDropped++;
      return;
    }
    if (this.session?.role === 'recvonly') throw new MeshError('a recvonly client cannot send', ERROR_CODES.ROLE, 0);
    socket.send(payload, target.dataPort + portIndex, target.address);
    this.counters.datagramsSent++;
    this.counters.bytesSent += payload.length;
  }

  /** Moves to another reflector now (a fresh join through the others); normally automatic. */
  async failover(reason = 'requested'): Promise<void> {
    await this.runFailover(reason);
  }

  /** Ends the session at the reflector and closes everything. */
  async leave(): Promise<void> {
    const session = this.session;
    const target = this.target;
    this.shutdown();
    if (session && target) {
      await leaveSession(target, session, this.requestTimeoutMs);
    }
    this.emit('closed', 'left');
    this.removeAllListeners();
  }

  /** Closes sockets and timers without telling the reflector (the session will be purged as idle). */
  close(): void {
    if (this.closed) return;
    this.shutdown();
    this.emit('closed', 'closed');
    this.removeAllListeners();
  }

  // ---- joining and registering

  private async joinThrough(targets: JoinTarget[]): Promise<void> {
    let lastError: Error = new MeshError('no reflector to join through', ERROR_CODES.NO_REFLECTOR, 0);
    let refusal: Error | undefined;
    const token = await currentToken(this.options.token);
    const ask = {
      role: this.options.role ?? 'sendrecv',
      ...(this.options.name ? { name: this.options.name } : {}),
      ...(this.originIdText !== undefined ? { origin: this.originIdText } : {}),
      ...(token !== undefined ? { token } : {}),
      timeoutMs: this.requestTimeoutMs,
    };
    for (const t of targets) {
      if (this.closed) break;
      try {
        const answer = await askToJoin(t, ask, (err) => this.emit('warning', err), () => this.closed);
        await this.adopt(answer);
        return;
      } catch (err) {
        lastError = err as Error;
        // The mesh's word (full, or the token refused) beats a reflector that did not answer.
        if (err instanceof MeshError && (err.statusCode === 503 || isTokenRefusal(err))) refusal = err;
      }
    }
    throw refusal ?? lastError;
  }

  /** Takes on the session of a join answer: binds sockets, registers, opens the event stream. */
  private async adopt(answer: JoinResponse): Promise<void> {
    const clientId = parseClientId(answer.clientId);
    if (clientId === undefined) throw new MeshError(`bad client id ${answer.clientId}`, ERROR_CODES.PROTOCOL, 0);
    this.originIdText ??= answer.clientId;
    await this.data.bind(answer.reflector.rtp ? 2 : 1, {
      address: this.options.bindAddress ?? '0.0.0.0',
      port: this.options.bindPort ?? 0,
      receiveBufferBytes: this.options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER_BYTES,
    });
    this.session = {
      clientId,
      clientIdText: answer.clientId,
      key: Buffer.from(answer.sessionKey, 'base64url'),
      keyText: answer.sessionKey,
      role: answer.role,
      keepaliveIntervalMs: answer.keepaliveIntervalMs,
      registrationDeadlineMs: answer.registrationDeadlineMs,
    };
    this.setReflectors(answer.reflectors, false);
    this.addSource(answer.reflector);
    await this.data.register(answer.reflector, answer.registrationDeadlineMs);
    this.target = answer.reflector;
    this.lastSignOfLife = Date.now();
    this.openStream(answer.reflector);
    this.startTimers();
  }

  // ---- the data path

  /** A payload, delivered only when it comes from a reflector's data socket. */
  private onData(msg: Buffer, portIndex: PortIndex, from: dgram.RemoteInfo): void {
    const ports = this.sources.get(from.address);
    if (ports === undefined || !ports.has(from.port - portIndex)) return;
    this.counters.datagramsReceived++;
    this.counters.bytesReceived += msg.length;
    this.emit('data', msg, portIndex, from);
  }

  private isFromTarget(from: dgram.RemoteInfo): boolean {
    const t = this.target;
    return t !== undefined && t.address === from.address && from.port >= t.dataPort && from.port <= t.dataPort + 1;
  }

  private addSource(reflector: ReflectorInfo): void {
    let ports = this.sources.get(reflector.address);
    if (!ports) this.sources.set(reflector.address, (ports = new Set()));
    ports.add(reflector.dataPort);
  }

  private setReflectors(reflectors: ReflectorInfo[], announce: boolean): void {
    this.reflectorList = reflectors;
    for (const r of reflectors) this.addSource(r);
    if (announce) this.emit('reflectors', [...reflectors]);
  }

  // ---- the event stream and liveness

  private openStream(reflector: ReflectorInfo): void {
    const session = this.session!;
    this.stream?.close();
    const stream = new EventStream(
      controlUrl(reflector.address, reflector.controlPort, `/v1/sessions/${session.clientIdText}/events`),
      session.keyText,
      this.requestTimeoutMs,
    );
    this.stream = stream;
    stream.on('alive', () => {
      if (this.stream === stream) this.lastSignOfLife = Date.now();
    });
    stream.on('event', (name, data) => {
      if (this.stream === stream) this.onEvent(name, data);
    });
    stream.on('closed', (error) => {
      if (this.stream !== stream || this.closed) return;
      if (error?.cause instanceof EventTooLongError) this.emit('warning', error);
      // Reopen while the reflector lives; the liveness timer decides when it is dead.
      setTimeout(() => {
        if (this.stream === stream && !this.closed && this.target === reflector) this.openStream(reflector);
      }, STREAM_RETRY_MS).unref();
    });
    stream.open();
  }

  private onEvent(name: string, data: string): void {
    let body: unknown;
    try {
      body = JSON.parse(data);
    } catch {
      this.emit('warning', new Error(`bad ${name} event: ${data}`));
      return;
    }
    if (name === 'reflectors') this.setReflectors((body as ReflectorsEvent).reflectors, true);
    else if (name === 'migrate') void this.runMigration(body as MigrateEvent);
    else if (name === 'bye') {
      const reason = (body as ByeEvent).reason;
      if (reason !== 'migrated' && !this.closed) void this.runFailover(`bye: ${reason}`);
    }
  }

  private startTimers(): void {
    if (this.keepaliveTimer) return;
    const interval = this.session?.keepaliveIntervalMs ?? 1000;
    this.keepaliveTimer = setInterval(() => {
      const target = this.target;
      if (!target || this.failingOver) return;
      for (let i = 0; i < this.data.sockets.length; i++) this.data.sendControl(ControlType.Keepalive, i as PortIndex, target);
    }, interval);
    this.livenessTimer = setInterval(() => {
      if (!this.target || this.failingOver || this.closed) return;
      if (Date.now() - this.lastSignOfLife > this.failoverTimeoutMs) void this.runFailover('silent');
    }, Math.min(250, this.failoverTimeoutMs / 4));
  }

  // ---- migration (make before break) and failover

  private async runMigration(order: MigrateEvent): Promise<void> {
    const from = this.target;
    if (!from || this.migrationId === order.migrationId || this.failingOver) return;
    this.migrationId = order.migrationId;
    const started = performance.now();
    this.addSource(order.to);
    try {
      await this.data.register(order.to, this.session?.registrationDeadlineMs ?? 5000);
    } catch (err) {
      this.emit('warning', new Error(`migration ${order.migrationId} to ${order.to.id} failed: ${(err as Error).message}`));
      this.migrationId = undefined;
      return;
    }
    if (this.target !== from || this.closed) return;
    // The target delivers to us already; switch sending now, then follow its event stream.
    this.target = order.to;
    this.lastSignOfLife = Date.now();
    this.migrationId = undefined;
    this.openStream(order.to);
    this.counters.migrations++;
    this.emit('migrated', { migrationId: order.migrationId, from, to: order.to, durationMs: performance.now() - started });
  }

  private async runFailover(reason: string): Promise<void> {
    if (this.failingOver || this.closed) return;
    const from = this.target;
    const oldSession = this.session;
    if (!from) return;
    this.failingOver = true;
    const silentMs = Date.now() - this.lastSignOfLife;
    const started = performance.now();
    this.target = undefined;
    this.stream?.close();
    this.stream = undefined;
    // The old session may still exist (a stalled stream, or a reflector that was only slow: 'silent'
    // under load): end it, best effort, without waiting. Left alone it is purged only when idle, and
    // until then that reflector sends the client every datagram a second time, its own included (its
    // new session's copies reach the old one through the peers): the soak test saw this.
    if (oldSession) {
      void leaveSession(from, oldSession, this.requestTimeoutMs);
    }
    try {
      for (let failures = 0; !this.closed; failures++) {
        const others = this.reflectorList.filter((r) => r.id !== from.id);
        const candidates = [...others, from].map((r) => ({ host: r.address, port: r.controlPort }));
        try {
          await this.joinThrough(candidates);
          break;
        } catch (err) {
          if (isTokenRefusal(err) && typeof this.options.token !== 'function') {
            // A fixed token that the mesh refuses now (expired) will not be accepted on a retry.
            this.emit('warning', new Error(`failover from ${from.id} impossible, giving up: ${(err as Error).message}`));
            this.shutdown();
            this.emit('closed', `token refused: ${err.code}`);
            this.removeAllListeners();
            return;
          }
          this.emit('warning', new Error(`failover from ${from.id} failed, retrying: ${(err as Error).message}`));
          await new Promise((r) => setTimeout(r, backoffDelayMs(FAILOVER_RETRY, failures)));
        }
      }
    } finally {
      this.failingOver = false;
    }
    if (this.closed || !this.target || !this.session) return;
    this.counters.failovers++;
    this.emit('failover', {
      from,
      to: this.target,
      reason,
      silentMs,
      durationMs: performance.now() - started,
      clientId: this.session.clientIdText,
    });
  }

  private shutdown(): void {
    this.closed = true;
    clearInterval(this.keepaliveTimer);
    clearInterval(this.livenessTimer);
    this.stream?.close();
    this.stream = undefined;
    this.data.close();
    this.target = undefined;
  }
}
