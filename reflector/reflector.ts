// The reflector daemon's root: it makes the parts, wires them to each other through their narrow host
// interfaces, and runs the lifecycle (start, stop, SIGTERM's shutdown) and the timers. It decides
// nothing itself. The parts:
//   dataplane.ts       the engine, the forwarding table, the clients' control datagrams, the outbound
//                      rate (outbound-rate.ts)
//   admission-desk.ts  joins and peers' admits (decisions: admission.ts, session-caps.ts)
//   peers.ts, peer-protocol.ts   the peer list, keep-alives; hello/keep-alive/bye, joining a mesh
//   handover.ts        migrate, offload, moved (one migration's steps: migration.ts)
//   drain.ts           drain and SIGTERM's wait
//   liveness.ts        lapsed reservations, idle clients, rate-limit warnings
//   status.ts          /v1/status, readiness, metrics
//   security/          mesh keys, tokens, signatures, session keys (session-auth.ts)
//   api/               the control API, one fastify plugin per audience, each typed against the
//                      operations below (clientOperations, peerOperations, adminOperations, health)
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AdmissionDesk } from './admission-desk.js';
import type { Candidate } from './admission.js';
import type { AdminOperations } from './api/admin-routes.js';
import type { ClientOperations } from './api/client-routes.js';
import type { HealthOperations } from './api/health-routes.js';
import type { PeerOperations } from './api/peer-routes.js';
import type { ReflectorInfo } from '../protocol/api-schemas.js';
import { buildServer, type ControlApi } from './api/server.js';
import type { ReflectorConfig } from './config.js';
import { DataPlane } from './dataplane.js';
import { Drain } from './drain.js';
import { Handover } from './handover.js';
import { Liveness } from './liveness.js';
import { MeshKeyFileWatch, MeshKeys } from './mesh-keys.js';
import { PeerProtocol, SelfReport } from './peer-protocol.js';
import { PeerMesh } from './peers.js';
import { meshKeySetIds } from '../protocol/security/mesh-key-set.js';
import { authorizeSession } from './security/session-auth.js';
import { Sessions, type Session } from './sessions.js';
import { StatusReport } from './status.js';

/** Event streams get a ": ping" comment this often (proxies and clients see the stream alive). */
const PING_INTERVAL_MS = 1000;
/** The outbound rate is sampled, and rate-limit warnings checked, this often. */
const SAMPLE_INTERVAL_MS = 1000;

export class Reflector implements ControlApi {
  readonly info: ReflectorInfo;
  readonly sessions = new Sessions();
  readonly peers: PeerMesh;
  /** The mesh keys in force; they follow the key file (a rotation without a restart). */
  readonly meshKeys: MeshKeys;
  readonly clientOperations: ClientOperations;
  readonly peerOperations: PeerOperations;
  readonly adminOperations: AdminOperations;
  readonly health: HealthOperations;
  private readonly meshKeyWatch: MeshKeyFileWatch | undefined;
  private readonly dataplane: DataPlane;
  private readonly self: SelfReport;
  private readonly admission: AdmissionDesk;
  private readonly peerProtocol: PeerProtocol;
  private readonly handover: Handover;
  private readonly drain: Drain;
  private readonly liveness: Liveness;
  private readonly report: StatusReport;
  private server: FastifyInstance | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private stopped = false;
  private announcePending = false;

  constructor(
    readonly config: ReflectorConfig,
    readonly log: Logger,
  ) {
    this.info = { id: config.id, address: config.advertiseAddress, dataPort: config.dataPort, controlPort: config.controlPort, rtp: config.rtp };
    this.meshKeys = new MeshKeys(config.meshKeys);
    this.meshKeyWatch = config.meshKeyFile === undefined ? undefined : new MeshKeyFileWatch(config.meshKeyFile, this.meshKeys, log);
    const draining = () => this.drain.active;
    const stopped = () => this.stopped;
    const candidates = () => this.candidates();
    const common = { info: this.info, sessions: this.sessions, log };

    this.dataplane = new DataPlane(config, {
      sessions: this.sessions,
      table: () => ({ clients: this.sessions.forwardingClients(), peers: this.peers.forwardingPeers() }),
      activated: (session, from, portIndex) => this.activated(session, from, portIndex),
    }, log);
    // A rotation step: the data plane tags and verifies with the new set from its next datagram; peer
    // requests and joins read the set per request.
    this.meshKeys.on('changed', (set) => this.dataplane.setMeshKeys(set));
    this.self = new SelfReport(this.info, () => this.sessions.count(), draining);
    this.peers = new PeerMesh({
      self: () => this.self.view(),
      adminToken: config.adminToken,
      meshKey: this.meshKeys,
      keepaliveIntervalMs: config.keepaliveIntervalMs,
      peerTimeoutMs: config.peerTimeoutMs,
      requestTimeoutMs: config.requestTimeoutMs,
      seeds: config.join ? [config.join] : [],
      awaitPeerList: config.awaitPeerList ?? false,
    });
    this.peers.on('changed', (reason) => {
      log.info({ reason, peers: this.peers.all().map((p) => p.info.id) }, 'peer list changed');
      this.dataplane.pushTable();
      this.announceReflectors();
    });
    const parts = { ...common, peers: this.peers, dataplane: this.dataplane, meshKeys: this.meshKeys, draining, stopped };
    this.report = new StatusReport({ ...parts, budgetStreams: config.budgetStreams, maxMeshClients: config.maxClients });
    this.handover = new Handover({
      ...parts,
      selfId: config.id,
      registrationDeadlineMs: config.registrationDeadlineMs,
      migrationGraceMs: config.migrationGraceMs,
      activity: (id) => this.dataplane.activity(id),
      tableChanged: () => this.dataplane.pushTable(),
      endSession: (session) => this.endSession(session, undefined),
      recorded: (result, seconds) => this.report.migration(result, seconds),
    });
    this.drain = new Drain({ ...parts, config, handover: this.handover, candidates });
    this.liveness = new Liveness({ ...common, config, activity: (id) => this.dataplane.activity(id), end: (s, reason) => this.endSession(s, reason) });
    this.admission = new AdmissionDesk({
      ...parts,
      config,
      self: this.self,
      candidates,
      reflectorList: () => this.reflectorList(),
      recorded: (result) => this.report.admission(result),
      tableChanged: () => this.dataplane.pushTable(),
    });
    this.peerProtocol = new PeerProtocol({ ...parts, self: this.self, retryMs: config.keepaliveIntervalMs, clients: () => this.sessions.count(), candidates });

    this.clientOperations = this.makeClientOperations();
    this.peerOperations = {
      hello: (request) => this.peerProtocol.hello(request),
      peerKeepalive: (request) => this.peerProtocol.keepalive(request),
      peerBye: (id) => this.peerProtocol.bye(id),
      admit: (request) => this.admission.admit(request),
      moved: (request) => this.handover.moved(request),
      offload: (to, count) => this.handover.offload(to, count),
    };
    this.adminOperations = {
      status: () => this.report.status(),
      peerList: () => this.peers.infos(),
      replacePeers: (peers) => this.peers.replace(peers),
      migrate: (clientId, to) => this.handover.migrate(clientId, to),
      drain: (exclude) => this.drain.start(exclude),
    };
    this.health = this.report;
  }

  private makeClientOperations(): ClientOperations {
    return {
      join: (request, owner) => this.admission.join(request, owner),
      joinRefused: (result) => this.admission.joinRefused(result),
      authorizeSession: (clientIdText, authorization) => authorizeSession(this.sessions, clientIdText, authorization),
      reflectorList: () => this.reflectorList(),
      leave: (session) => {
        this.log.info({ client: session.idText }, 'client left');
        this.endSession(session, 'left');
      },
    };
  }

  get isDraining(): boolean {
    return this.drain.active;
  }

  /** A control API request refused by the per-source rate limit (protocol/http-limits.ts). */
  requestRateLimited(): void {
    this.report.requestRateLimited();
  }

  /** A peer or admin request refused by the control guard (reflector/api/control-guard.ts). */
  controlRequestRefused(): void {
    this.report.controlRequestRefused();
  }

  /** Binds the data sockets and the control API, starts the timers, and joins the mesh if asked. */
  async start(): Promise<void> {
    await this.dataplane.start();
    this.server = await buildServer(this, this.log);
    await this.server.listen({ host: this.config.address, port: this.config.controlPort });
    this.peers.start();
    this.meshKeyWatch?.start();
    this.every(this.liveness.purgeIntervalMs, () => this.liveness.purge());
    this.every(PING_INTERVAL_MS, () => {
      for (const s of this.sessions.all()) s.events.ping();
    });
    this.every(SAMPLE_INTERVAL_MS, () => this.dataplane.sampleRate(this.report.outboundStreams()));
    if (this.config.clientRateLimit) this.every(SAMPLE_INTERVAL_MS, () => this.liveness.warnRateLimited());
    this.log.info(
      { reflector: this.info, dataPlane: this.dataplane.kind, meshKeys: meshKeySetIds(this.meshKeys.set), clientRateLimit: this.config.clientRateLimit ?? 'none', apiRateLimit: this.config.apiRateLimit ?? 'none' },
      'reflector started',
    );
    if (this.config.join) void this.peerProtocol.joinMesh(this.config.join.host, this.config.join.port);
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
    this.dataplane.stopTableUpdates();
    for (const t of this.timers) clearInterval(t);
    this.meshKeyWatch?.stop();
    this.peers.stop();
    this.handover.stop();
    for (const s of this.sessions.all()) s.events.close('shutdown');
    await this.server?.close();
    await this.dataplane.close();
  }

  /** SIGTERM: drain the clients to the peers, tell the peers we leave, then stop. */
  async shutdown(): Promise<void> {
    await this.drain.beforeShutdown();
    await this.peers.sayBye();
    await this.stop();
    this.log.info('reflector stopped');
  }

  reflectorList(): ReflectorInfo[] {
    return [this.info, ...this.peers.infos()];
  }

  private every(ms: number, fn: () => void): void {
    const t = setInterval(fn, ms);
    t.unref();
    this.timers.push(t);
  }

  private activated(session: Session, from: { address: string; port: number }, portIndex: number): void {
    this.log.info({ client: session.idText, endpoint: `${from.address}:${from.port}`, portIndex, migrationFrom: session.incoming?.from }, 'client registered');
    if (session.incoming) void this.handover.tellMoved(session);
  }

  /** Tells every client's event stream the reflectors now in the mesh (once per turn of the event loop). */
  private announceReflectors(): void {
    if (this.announcePending) return;
    this.announcePending = true;
    setImmediate(() => {
      this.announcePending = false;
      const reflectors = this.reflectorList();
      for (const s of this.sessions.all()) if (s.state !== 'departing') s.events.send('reflectors', { reflectors });
    });
  }

  private endSession(session: Session, byeReason: string | undefined): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    session.events.close(byeReason);
    this.dataplane.pushTable();
    this.peers.announce();
  }

  private candidates(): Candidate[] {
    return this.peers.all().map((p) => ({ id: p.info.id, clients: p.clients, draining: p.draining }));
  }
}
