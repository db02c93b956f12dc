// The reflector daemon: wires the data-plane engine, the client sessions, the peer mesh, admission,
// migration, metrics and the control API, and runs the timers (idle purge, event-stream pings, rate
// sampling). Decisions live in admission.ts and registration.ts; this file applies them.
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { chooseReflectors, planDrain, planRedistribution, predictedOutboundStreams, type Candidate } from './admission.js';
import { ApiError, SESSION_LIMIT_CODE, draining as drainingError, reflectorFull, unauthorized, unknownClient, unknownPeer } from '../protocol/errors.js';
import type {
  AdmitRequest,
  AdmitResponse,
  HelloRequest,
  HelloResponse,
  JoinRequest,
  JoinResponse,
  MovedRequest,
  PeerKeepalive,
  ReflectorInfo,
  StatusResponse,
} from '../protocol/api-schemas.js';
import { buildServer } from './api/server.js';
import type { ReflectorConfig } from './config.js';
import { ReflectorMetrics } from './metrics.js';
import { Migrations, type MigrationDone } from './migration.js';
import { createDataPlaneEngine } from './native/select.js';
import type { DataPlaneEngine, Endpoint, PortIndex } from './mirror/engine.js';
import { PeerMesh } from './peers.js';
import { MeshKeyFileWatch, MeshKeys } from './mesh-keys.js';
import { meshKeySetIds } from '../protocol/security/mesh-key-set.js';
import { RateLimitWatch } from './rate-limit-watch.js';
import { handleControlDatagram } from './registration.js';
import { PendingJoins, sessionCapError, type SessionOwner } from './session-caps.js';
import { Sessions, roleReceives, roleSends, type Session } from './sessions.js';
import { parseClientId } from '../protocol/wire/client-id.js';
import { bearerMatches } from './security/bearer.js';
import { MeshError } from '../client/types.js';

const PING_INTERVAL_MS = 1000;

export class Reflector {
  readonly info: ReflectorInfo;
  readonly sessions = new Sessions();
  readonly peers: PeerMesh;
  /** The mesh keys in force; they follow the key file (a rotation without a restart). */
  readonly meshKeys: MeshKeys;
  private readonly meshKeyWatch: MeshKeyFileWatch | undefined;
  private readonly engine: DataPlaneEngine;
  private readonly migrations: Migrations;
  private readonly metrics: ReflectorMetrics;
  private server: FastifyInstance | undefined;
  private readonly controlDrops = { malformed: 0, auth: 0 };
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly startedAt = performance.now();
  private draining = false;
  private drainLoop: Promise<void> | undefined;
  private stopped = false;
  private rate = { bytes: 0, at: performance.now(), bitsPerSecond: 0 };
  private readonly rateLimitWatch = new RateLimitWatch();
  private announcePending = false;
  private reported = { clients: 0, generation: 0 };
  private readonly pendingJoins = new PendingJoins();

  constructor(
    readonly config: ReflectorConfig,
    readonly log: Logger,
  ) {
    this.meshKeys = new MeshKeys(config.meshKeys);
    this.meshKeyWatch = config.meshKeyFile === undefined ? undefined : new MeshKeyFileWatch(config.meshKeyFile, this.meshKeys, log);
    this.info = {
      id: config.id,
      address: config.advertiseAddress,
      dataPort: config.dataPort,
      controlPort: config.controlPort,
      rtp: config.rtp,
    };
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
    // A rotation step: the data plane tags and verifies with the new set from its next datagram; peer
    // requests and joins read the set per request.
    this.meshKeys.on('changed', (set) => this.engine.setMeshKeys(set));
    this.peers = new PeerMesh({
      self: () => this.selfView(),
      adminToken: config.adminToken,
      meshKey: this.meshKeys,
      keepaliveIntervalMs: config.keepaliveIntervalMs,
      peerTimeoutMs: config.peerTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      seeds: config.join ? [config.join] : [],
    });
    this.peers.on('changed', (reason) => {
      log.info({ reason, peers: this.peers.all().map((p) => p.info.id) }, 'peer list changed');
      this.pushTable();
      this.announceReflectors();
    });
    this.migrations = new Migrations({
      selfId: config.id,
      registrationDeadlineMs: config.registrationDeadlineMs,
      graceMs: config.migrationGraceMs,
      admitAt: async (peer, body) => {
        await this.peers.call(peer, '/v1/peers/admit', body);
      },
      tableChanged: () => this.pushTable(),
      forget: (session) => this.endSession(session, undefined),
      recorded: (result, seconds) => this.metrics.migration(result, seconds),
    });
    this.metrics = new ReflectorMetrics({
      counters: () => this.counters(),
      latency: () => this.engine.latency(),
      clients: () => this.sessions.count(),
      peers: () => this.peers.all().length,
      outboundStreams: () => this.outboundStreams(),
      outboundStreamsPredicted: () =>
        predictedOutboundStreams(this.peers.all().length + 1, this.sessions.count() + this.peers.all().reduce((n, p) => n + p.clients, 0)),
      outboundBitsPerSecond: () => this.rate.bitsPerSecond,
    });
  }

  /** What we tell peers; the generation grows whenever the count changed since the last report. */
  private selfView(): { info: ReflectorInfo; clients: number; draining: boolean; generation: number } {
    const clients = this.sessions.count();
    if (clients !== this.reported.clients) this.reported = { clients, generation: this.reported.generation + 1 };
    return { info: this.info, clients, draining: this.draining, generation: this.reported.generation };
  }

  get dataPlane(): string {
    return this.engine.kind;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Binds the data sockets and the control API, starts the timers, and joins the mesh if asked. */
  async start(): Promise<void> {
    this.engine.onControl((buf, portIndex, from) => this.onControlDatagram(buf, portIndex, from));
    await this.engine.start();
    this.server = await buildServer(this, this.log);
    await this.server.listen({ host: this.config.address, port: this.config.controlPort });
    this.peers.start();
    this.meshKeyWatch?.start();
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(Math.max(50, Math.min(1000, Math.floor(this.config.clientIdleTimeoutMs / 4))), () => this.purge());
    every(PING_INTERVAL_MS, () => {
      for (const s of this.sessions.all()) s.events.ping();
    });
    every(1000, () => this.sampleRate());
    if (this.config.clientRateLimit) every(1000, () => this.warnRateLimited());
    this.log.info(
      { reflector: this.info, dataPlane: this.engine.kind, meshKeys: meshKeySetIds(this.meshKeys.set), clientRateLimit: this.config.clientRateLimit ?? 'none', apiRateLimit: this.config.apiRateLimit ?? 'none' },
      'reflector started',
    );
    if (this.config.join) void this.joinMesh(this.config.join.host, this.config.join.port);
  }

  /** SIGHUP: read the key file now instead of at the next poll. */
  reloadMeshKeys(): void {
    if (this.meshKeyWatch) this.meshKeyWatch.reload('signal');
    else this.log.info('SIGHUP: no --mesh-key-file to read again; the mesh keys stay');
  }

  /** Stops everything at once (the data sockets close; clients fail over). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.meshKeyWatch?.stop();
    this.peers.stop();
    this.migrations.stop();
    for (const s of this.sessions.all()) s.events.close('shutdown');
    await this.server?.close();
    await this.engine.close();
  }

  /** SIGTERM: drain the clients to the peers, tell the peers we leave, then stop. */
  async shutdown(): Promise<void> {
    this.log.info({ clients: this.sessions.count() }, 'shutting down: draining clients to peers');
    this.drain([]);
    const deadline = performance.now() + this.config.drainTimeoutMs;
    while (this.sessions.all().length > 0 && this.peers.all().some((p) => !p.draining) && performance.now() < deadline) {
      await sleep(100);
    }
    const left = this.sessions.all().length;
    if (left > 0) this.log.warn({ clients: left }, 'clients could not be moved; ending their sessions');
    await this.peers.sayBye();
    await this.stop();
    this.log.info('reflector stopped');
  }

  // ---- joining the mesh

  private async joinMesh(host: string, port: number): Promise<void> {
    for (let attempt = 1; !this.stopped; attempt++) {
      try {
        const answer = await this.peers.hello(host, port, true);
        await Promise.allSettled(
          answer.peers
            .filter((p) => p.id !== this.info.id)
            .map(async (p) => {
              this.peers.add(p);
              await this.peers.hello(p.address, p.controlPort, false);
            }),
        );
        this.log.info({ via: `${host}:${port}`, peers: this.peers.all().map((p) => p.info.id) }, 'joined the mesh');
        await this.redistribute();
        return;
      } catch (err) {
        this.log.warn({ via: `${host}:${port}`, attempt, err: (err as Error).message }, 'cannot join the mesh yet; retrying');
        await sleep(this.config.keepaliveIntervalMs);
      }
    }
  }

  /** Asks the most loaded peers to hand us clients until every reflector serves nr or nr-1. */
  private async redistribute(): Promise<void> {
    const plan = planRedistribution(this.sessions.count(), this.candidates());
    for (const [id, count] of plan) {
      const peer = this.peers.get(id);
      if (!peer) continue;
      this.log.info({ from: id, count }, 'asking a peer to hand over clients');
      await this.peers.call(peer.info, '/v1/peers/offload', { to: this.info.id, count }).catch((err: Error) => {
        this.log.warn({ peer: id, err: err.message }, 'offload request failed');
      });
    }
  }

  // ---- the data plane's control datagrams

  private onControlDatagram(buf: Buffer, portIndex: PortIndex, from: Endpoint): void {
    const outcome = handleControlDatagram(this.sessions, buf, portIndex, from, Date.now());
    if (outcome.kind === 'drop') {
      this.controlDrops[outcome.reason]++;
      this.log.debug({ from, reason: outcome.reason, detail: outcome.detail }, 'control datagram dropped');
      return;
    }
    if (outcome.kind === 'refuse') {
      this.engine.sendControl(portIndex, outcome.reply, from);
      return;
    }
    const session = outcome.session;
    // The table first, then the ACK: the client sends data the moment the ACK arrives, and the native
    // engine's thread would drop a datagram from a source its table does not know yet.
    if (outcome.changed) this.pushTable();
    this.engine.sendControl(portIndex, outcome.reply, from);
    if (outcome.activated) {
      this.log.info({ client: session.idText, endpoint: `${from.address}:${from.port}`, portIndex, migrationFrom: session.incoming?.from }, 'client registered');
      if (session.incoming) void this.tellMoved(session);
    }
  }

  private async tellMoved(session: Session): Promise<void> {
    const incoming = session.incoming;
    if (!incoming) return;
    const peer = this.peers.get(incoming.from);
    if (!peer) return;
    try {
      await this.peers.call(peer.info, '/v1/peers/moved', { clientId: session.idText, migrationId: incoming.migrationId });
      session.incoming = undefined;
    } catch (err) {
      this.log.warn({ client: session.idText, peer: incoming.from, err: (err as Error).message }, 'cannot tell the old reflector that a client moved');
    }
  }

  pushTable(): void {
    if (this.stopped) return;
    this.engine.setTable({ clients: this.sessions.forwardingClients(), peers: this.peers.forwardingPeers() });
  }

  private announceReflectors(): void {
    if (this.announcePending) return;
    this.announcePending = true;
    setImmediate(() => {
      this.announcePending = false;
      const reflectors = this.reflectorList();
      for (const s of this.sessions.all()) if (s.state !== 'departing') s.events.send('reflectors', { reflectors });
    });
  }

  reflectorList(): ReflectorInfo[] {
    return [this.info, ...this.peers.infos()];
  }

  // ---- liveness

  private purge(): void {
    const now = Date.now();
    for (const s of this.sessions.all()) {
      if (s.state === 'reserved' && now - s.createdAtMs > this.config.registrationDeadlineMs) {
        this.log.info({ client: s.idText }, 'reservation lapsed: the client did not register in time');
        this.endSession(s, 'lapsed');
      } else if (s.state === 'active') {
        const heard = Math.max(s.lastControlMs, this.engine.clientActivity(s.id)?.lastHeardMs ?? 0);
        if (now - heard > this.config.clientIdleTimeoutMs) {
          this.log.info({ client: s.idText, silentMs: now - heard }, 'client purged: idle');
          this.endSession(s, 'purged');
        }
      }
    }
  }

  private endSession(session: Session, byeReason: string | undefined): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    session.events.close(byeReason);
    this.pushTable();
    this.peers.announce();
  }

  /** A warning per client its rate limit dropped datagrams of (at most every 10 s per client). */
  private warnRateLimited(): void {
    const clients = this.sessions.all().map((s) => ({ id: s.id, dropped: this.engine.clientActivity(s.id)?.datagramsRateLimited ?? 0 }));
    for (const w of this.rateLimitWatch.check(clients, Date.now())) {
      const s = this.sessions.get(w.id);
      this.log.warn(
        { client: s?.idText, name: s?.name, endpoints: s?.endpoints.filter((e) => e !== undefined), dropped: w.dropped, droppedTotal: w.total, limit: this.config.clientRateLimit },
        'client over its rate limit: datagrams dropped',
      );
    }
  }

  private sampleRate(): void {
    const now = performance.now();
    const c = this.engine.counters();
    const bytes = c.bytesOut.client + c.bytesOut.peer;
    const seconds = (now - this.rate.at) / 1000;
    if (seconds > 0) this.rate = { bytes, at: now, bitsPerSecond: Math.round(((bytes - this.rate.bytes) * 8) / seconds) };
  }

  // ---- the control API's operations (called by the routes in api/)

  /**
   * Places a new client; `owner` (token subject, source) is what the session caps count it against: its
   * joins in flight here, and at each reflector that could take it, the sessions it holds there.
   */
  async join(request: JoinRequest, owner: SessionOwner = {}): Promise<JoinResponse> {
    const capped = sessionCapError(owner, this.pendingJoins.all(), this.config.sessionCaps);
    if (capped) {
      this.metrics.admission('refused');
      throw capped;
    }
    const release = this.pendingJoins.add(owner);
    try {
      return await this.place(request, owner);
    } finally {
      release();
    }
  }

  private async place(request: JoinRequest, owner: SessionOwner): Promise<JoinResponse> {
    const role = request.role ?? 'sendrecv';
    const origin = request.origin === undefined ? undefined : parseClientId(request.origin);
    const decision = chooseReflectors(this.selfCandidate(), this.candidates(), this.config);
    if (!decision.admit) {
      this.metrics.admission('refused');
      throw new ApiError(503, decision.code, decision.message);
    }
    let lastError: Error | undefined;
    let capped: ApiError | undefined;
    for (const id of decision.order) {
      if (id === this.info.id) {
        if (this.draining || this.isFull()) continue;
        const atCap = sessionCapError(owner, this.sessions.owners(), this.config.sessionCaps);
        if (atCap) {
          capped = atCap;
          continue;
        }
        const session = this.sessions.create({ role, name: request.name, origin, owner }, Date.now());
        this.peers.announce();
        this.metrics.admission('local');
        this.log.info({ client: session.idText, role, name: request.name }, 'client admitted');
        return this.joinResponse(session, this.info);
      }
      const peer = this.peers.get(id);
      if (!peer) continue;
      // The id and key are made here and reserved at the peer; we keep no session.
      const probe = this.sessions.create({ role }, Date.now());
      this.sessions.delete(probe.id);
      try {
        const answer = await this.peers.call<AdmitResponse>(peer.info, '/v1/peers/admit', {
          clientId: probe.idText,
          sessionKey: probe.keyText,
          role,
          ...(request.origin !== undefined ? { origin: request.origin } : {}),
          ...(request.name !== undefined ? { name: request.name } : {}),
          owner,
        });
        this.peers.heard(id, answer.clients, undefined, answer.generation);
        this.metrics.admission('peer');
        this.log.info({ client: probe.idText, role, at: id }, 'client admitted at a peer');
        return this.joinResponse(probe, peer.info);
      } catch (err) {
        lastError = err as Error;
        if (lastError instanceof MeshError && lastError.code === SESSION_LIMIT_CODE) capped = new ApiError(429, lastError.code, lastError.message);
        else this.log.warn({ peer: id, err: lastError.message }, 'peer did not admit a client; trying the next');
      }
    }
    this.metrics.admission('refused');
    if (this.draining) throw drainingError(this.info.id);
    // The owner's caps kept it out where there was room: say so, not "full".
    if (capped) throw capped;
    throw new ApiError(503, 'RMESH_MESH_FULL', `no reflector could take the client${lastError ? ` (last: ${lastError.message})` : ''}; try again later`);
  }

  private joinResponse(session: Session, at: ReflectorInfo): JoinResponse {
    return {
      clientId: session.idText,
      sessionKey: session.keyText,
      role: session.role,
      reflector: at,
      reflectors: this.reflectorList(),
      keepaliveIntervalMs: this.config.keepaliveIntervalMs,
      idleTimeoutMs: this.config.clientIdleTimeoutMs,
      registrationDeadlineMs: this.config.registrationDeadlineMs,
    };
  }

  /** Counts a join refused for its client token (401) or for a role the token does not allow (403). */
  joinRefused(result: 'unauthorized' | 'forbidden'): void {
    this.metrics.admission(result);
  }

  /** Checks a session's bearer token; throws 404/401. */
  authorizeSession(clientIdText: string, authorization: string | undefined): Session {
    const id = parseClientId(clientIdText);
    const session = id === undefined ? undefined : this.sessions.get(id);
    if (!session) throw unknownClient(clientIdText);
    if (!bearerMatches(authorization, session.keyText)) throw unauthorized(`client ${clientIdText} must authenticate with its session key`);
    return session;
  }

  leave(session: Session): void {
    this.log.info({ client: session.idText }, 'client left');
    this.endSession(session, 'left');
  }

  hello(request: HelloRequest): HelloResponse {
    const known = this.peers.get(request.reflector.id) !== undefined;
    this.peers.add(request.reflector, request.clients);
    this.peers.heard(request.reflector.id, request.clients);
    const others = this.peers.infos().filter((p) => p.id !== request.reflector.id);
    if (request.introduce) {
      for (const p of others) {
        void this.peers.call(p, '/v1/peers/hello', { reflector: request.reflector, clients: request.clients, introduce: false }).catch((err: Error) =>
          this.log.warn({ peer: p.id, newcomer: request.reflector.id, err: err.message }, 'cannot introduce a newcomer to a peer'),
        );
      }
    }
    if (!known) this.log.info({ peer: request.reflector.id, introduce: request.introduce }, 'peer said hello');
    return { reflector: this.info, clients: this.sessions.count(), peers: others };
  }

  peerKeepalive(request: PeerKeepalive): PeerKeepalive {
    if (!this.peers.heard(request.id, request.clients, request.draining, request.generation)) {
      // It lost us or we lost it: it says hello on this answer; if we lost it, we say hello too.
      this.peers.unknownPeerSpoke(request.id);
      throw unknownPeer(request.id);
    }
    const self = this.selfView();
    return { id: self.info.id, clients: self.clients, draining: self.draining, generation: self.generation };
  }

  peerBye(id: string): void {
    if (this.peers.remove(id, 'said bye')) this.log.info({ peer: id }, 'peer left the mesh');
  }

  admit(request: AdmitRequest): AdmitResponse {
    if (this.draining) throw drainingError(this.info.id);
    if (this.isFull()) throw reflectorFull(this.info.id, this.config.maxClientsPerReflector);
    const id = parseClientId(request.clientId)!;
    if (request.migrationId && !request.from) {
      throw new ApiError(400, 'RMESH_BAD_REQUEST', 'an admit with a migrationId must name the reflector it comes from ("from")');
    }
    const existing = this.sessions.get(id);
    if (existing && existing.state !== 'departing') {
      throw new ApiError(409, 'RMESH_CLIENT_EXISTS', `client ${request.clientId} already has a session here`);
    }
    // A new client placed here by the reflector it joined through counts against its owner's caps here;
    // a migration does not (the client is admitted already, and rebalancing must not fail).
    if (request.owner && !request.migrationId) {
      const capped = sessionCapError(request.owner, this.sessions.owners(), this.config.sessionCaps);
      if (capped) throw capped;
    }
    if (request.from) this.peers.heard(request.from);
    if (existing) this.sessions.delete(id);
    const session = this.sessions.create(
      {
        id,
        keyText: request.sessionKey,
        role: request.role,
        name: request.name,
        origin: request.origin === undefined ? undefined : parseClientId(request.origin),
        owner: request.owner,
        incoming: request.migrationId && request.from ? { migrationId: request.migrationId, from: request.from } : undefined,
        lastNonce: [BigInt(request.nonces?.[0] ?? 0), BigInt(request.nonces?.[1] ?? 0)],
      },
      Date.now(),
    );
    if (existing) this.pushTable();
    this.peers.announce();
    this.log.info({ client: session.idText, migrationFrom: request.from }, 'client reserved for a peer');
    const self = this.selfView();
    return { clientId: session.idText, clients: self.clients, generation: self.generation };
  }

  moved(request: MovedRequest): void {
    const id = parseClientId(request.clientId)!;
    const session = this.sessions.get(id);
    if (!session || !this.migrations.moved(session, request.migrationId)) {
      throw new ApiError(404, 'RMESH_UNKNOWN_MIGRATION', `no migration ${request.migrationId} of client ${request.clientId} here`);
    }
    this.peers.announce();
    this.log.info({ client: session.idText, migrationId: request.migrationId }, 'client moved; delivering stops');
  }

  offload(to: string, count: number): number {
    const peer = this.peers.get(to);
    if (!peer) throw unknownPeer(to);
    const movable = this.movableSessions()
      .sort((a, b) => (this.engine.clientActivity(a.id)?.datagramsIn ?? 0) - (this.engine.clientActivity(b.id)?.datagramsIn ?? 0))
      .slice(0, count);
    this.log.info({ to, count: movable.length }, 'handing clients over to a peer');
    for (const s of movable) void this.migrateSession(s, peer.info).catch(() => undefined);
    return movable.length;
  }

  async migrate(clientIdText: string, to: string): Promise<MigrationDone> {
    const id = parseClientId(clientIdText);
    const session = id === undefined ? undefined : this.sessions.get(id);
    if (!session || session.state === 'departing') throw unknownClient(clientIdText);
    const peer = this.peers.get(to);
    if (!peer) throw unknownPeer(to);
    return this.migrateSession(session, peer.info);
  }

  private async migrateSession(session: Session, to: ReflectorInfo): Promise<MigrationDone> {
    try {
      const done = await this.migrations.migrate(session, to);
      this.peers.countPlaced(to.id, 1);
      this.log.info({ client: session.idText, to: to.id, durationMs: Math.round(done.durationMs * 10) / 10 }, 'client migrated');
      return done;
    } catch (err) {
      this.log.warn({ client: session.idText, to: to.id, err: (err as Error).message }, 'migration failed');
      throw err;
    }
  }

  /** Stops admitting and moves every client to the other reflectors; idempotent. */
  drain(exclude: readonly string[]): number {
    this.draining = true;
    if (!this.drainLoop) {
      this.log.info({ clients: this.sessions.count(), exclude }, 'draining');
      this.drainLoop = this.runDrain(new Set(exclude)).finally(() => {
        this.drainLoop = undefined;
      });
    }
    return this.sessions.count();
  }

  private async runDrain(exclude: Set<string>): Promise<void> {
    while (!this.stopped) {
      const movable = this.movableSessions();
      const reserved = this.sessions.all().filter((s) => s.state === 'reserved').length;
      if (movable.length === 0 && reserved === 0) return;
      const peers = this.candidates().filter((p) => !exclude.has(p.id));
      const targets = planDrain(movable.length, peers, this.config);
      await Promise.allSettled(
        movable.map((s, i) => {
          const peer = targets[i] === undefined ? undefined : this.peers.get(targets[i]);
          return peer ? this.migrateSession(s, peer.info) : Promise.resolve();
        }),
      );
      await sleep(200);
    }
  }

  private movableSessions(): Session[] {
    return this.sessions.all().filter((s) => s.state === 'active' && (!s.outgoing || s.outgoing.abandoned));
  }

  status(): StatusResponse {
    const now = Date.now();
    const c = this.counters();
    return {
      reflector: this.info,
      draining: this.draining,
      dataPlane: this.engine.kind,
      clients: this.sessions.all().map((s) => {
        const a = this.engine.clientActivity(s.id);
        const heard = Math.max(s.lastControlMs, a?.lastHeardMs ?? 0);
        return {
          clientId: s.idText,
          ...(s.name ? { name: s.name } : {}),
          role: s.role,
          state: s.state,
          endpoints: s.endpoints.filter((e): e is Endpoint => e !== undefined),
          datagramsIn: a?.datagramsIn ?? 0,
          datagramsOut: a?.datagramsOut ?? 0,
          datagramsRateLimited: a?.datagramsRateLimited ?? 0,
          lastHeardMs: now - heard,
        };
      }),
      peers: this.peers.all().map((p) => ({ ...p.info, clients: p.clients, draining: p.draining, lastHeardMs: now - p.lastHeardMs })),
      counters: c,
      outboundStreams: this.outboundStreams(),
      outboundBitsPerSecond: this.rate.bitsPerSecond,
      uptimeSeconds: Math.round((performance.now() - this.startedAt) / 100) / 10,
      meshKeys: meshKeySetIds(this.meshKeys.set),
    };
  }

  readiness(): { ready: boolean; reason: string } {
    if (this.stopped) return { ready: false, reason: 'stopped' };
    if (this.draining) return { ready: false, reason: 'draining' };
    const membership = this.peers.membershipProblem();
    if (membership) return { ready: false, reason: membership };
    return { ready: true, reason: 'admitting clients' };
  }

  /** A control API request refused by the per-source rate limit (reflector/api/request-limits.ts). */
  requestRateLimited(): void {
    this.metrics.requestRateLimited();
  }

  /** A peer or admin request refused by the control guard (reflector/api/control-guard.ts). */
  controlRequestRefused(): void {
    this.metrics.controlRequestRefused();
  }

  metricsText(): Promise<string> {
    return this.metrics.text();
  }

  get metricsContentType(): string {
    return this.metrics.contentType;
  }

  // ---- helpers

  private counters() {
    const c = this.engine.counters();
    return {
      ...c,
      dropped: { ...c.dropped, malformed: c.dropped.malformed + this.controlDrops.malformed, auth: c.dropped.auth + this.controlDrops.auth },
    };
  }

  /**
   * Streams this reflector sends now: each local sender to the other local receivers and to every
   * peer, and each remote client (from the peers' counts) to every local receiver.
   */
  private outboundStreams(): number {
    const active = this.sessions.all().filter((s) => s.state === 'active');
    const receivers = active.filter((s) => roleReceives(s.role)).length;
    const peers = this.peers.all();
    let streams = 0;
    for (const s of active) if (roleSends(s.role)) streams += receivers - (roleReceives(s.role) ? 1 : 0) + peers.length;
    streams += peers.reduce((n, p) => n + p.clients, 0) * receivers;
    return streams;
  }

  private isFull(): boolean {
    return this.config.maxClientsPerReflector > 0 && this.sessions.count() >= this.config.maxClientsPerReflector;
  }

  private selfCandidate(): Candidate {
    return { id: this.info.id, clients: this.sessions.count(), draining: this.draining };
  }

  private candidates(): Candidate[] {
    return this.peers.all().map((p) => ({ id: p.info.id, clients: p.clients, draining: p.draining }));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
