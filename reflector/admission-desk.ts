// Where a client is placed: a join asks here, and the desk applies admission.ts's decision (this
// reflector or the peers, fewest clients first), the session caps (session-caps.ts) and the limits;
// a peer's admit reserves a session here for a client placed by it or migrating to us.
import type { Logger } from 'pino';
import { chooseReflectors, type Candidate } from './admission.js';
import { ApiError, draining as drainingError, ERROR_CODES, reflectorFull, SESSION_LIMIT_CODE } from '../protocol/errors.js';
import type { AdmitRequest, AdmitResponse, JoinRequest, JoinResponse, ReflectorInfo } from '../protocol/api-schemas.js';
import { MeshError } from '../client/types.js';
import type { ReflectorConfig } from './config.js';
import type { AdmissionResult } from './metrics.js';
import type { SelfReport } from './peer-protocol.js';
import type { PeerMesh } from './peers.js';
import { PendingJoins, sessionCapError, type SessionOwner } from './session-caps.js';
import type { Session, Sessions } from './sessions.js';
import { parseClientId } from '../protocol/wire/client-id.js';

type AdmissionConfig = Pick<
  ReflectorConfig,
  'maxClients' | 'maxClientsPerReflector' | 'sessionCaps' | 'keepaliveIntervalMs' | 'clientIdleTimeoutMs' | 'registrationDeadlineMs'
>;

export interface AdmissionHost {
  readonly config: AdmissionConfig;
  readonly info: ReflectorInfo;
  readonly sessions: Sessions;
  readonly peers: PeerMesh;
  readonly self: SelfReport;
  readonly log: Logger;
  draining(): boolean;
  /** The peers as admission candidates. */
  candidates(): Candidate[];
  reflectorList(): ReflectorInfo[];
  recorded(result: AdmissionResult): void;
  tableChanged(): void;
}

export class AdmissionDesk {
  private readonly pendingJoins = new PendingJoins();

  constructor(private readonly host: AdmissionHost) {}

  /**
   * Places a new client; `owner` (token subject, source) is what the session caps count it against: its
   * joins in flight here, and at each reflector that could take it, the sessions it holds there.
   */
  async join(request: JoinRequest, owner: SessionOwner = {}): Promise<JoinResponse> {
    const capped = sessionCapError(owner, this.pendingJoins.all(), this.host.config.sessionCaps);
    if (capped) {
      this.host.recorded('refused');
      throw capped;
    }
    const release = this.pendingJoins.add(owner);
    try {
      return await this.place(request, owner);
    } finally {
      release();
    }
  }

  /** Counts a join refused for its client token (401) or for a role the token does not allow (403). */
  joinRefused(result: 'unauthorized' | 'forbidden'): void {
    this.host.recorded(result);
  }

  /** A peer reserves a session here: for a client it placed here, or one migrating to us (`migrationId`). */
  admit(request: AdmitRequest): AdmitResponse {
    const { sessions, info, config } = this.host;
    if (this.host.draining()) throw drainingError(info.id);
    if (this.isFull()) throw reflectorFull(info.id, config.maxClientsPerReflector);
    const id = parseClientId(request.clientId)!;
    if (request.migrationId && !request.from) {
      throw new ApiError(400, ERROR_CODES.BAD_REQUEST, 'an admit with a migrationId must name the reflector it comes from ("from")');
    }
    const existing = sessions.get(id);
    if (existing && existing.state !== 'departing') {
      throw new ApiError(409, ERROR_CODES.CLIENT_EXISTS, `client ${request.clientId} already has a session here`);
    }
    // A new client placed here by the reflector it joined through counts against its owner's caps here;
    // a migration does not (the client is admitted already, and rebalancing must not fail).
    if (request.owner && !request.migrationId) {
      const capped = sessionCapError(request.owner, sessions.owners(), config.sessionCaps);
      if (capped) throw capped;
    }
    if (request.from) this.host.peers.heard(request.from);
    if (existing) sessions.delete(id);
    const session = sessions.create(
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
    if (existing) this.host.tableChanged();
    this.host.peers.announce();
    this.host.log.info({ client: session.idText, migrationFrom: request.from }, 'client reserved for a peer');
    const self = this.host.self.view();
    return { clientId: session.idText, clients: self.clients, generation: self.generation };
  }

  isFull(): boolean {
    const { config, sessions } = this.host;
    return config.maxClientsPerReflector > 0 && sessions.count() >= config.maxClientsPerReflector;
  }

  private async place(request: JoinRequest, owner: SessionOwner): Promise<JoinResponse> {
    const { info, config } = this.host;
    const decision = chooseReflectors({ id: info.id, clients: this.host.sessions.count(), draining: this.host.draining() }, this.host.candidates(), config);
    if (!decision.admit) {
      this.host.recorded('refused');
      throw new ApiError(503, decision.code, decision.message);
    }
    let lastError: Error | undefined;
    let capped: ApiError | undefined;
    for (const id of decision.order) {
      if (id === info.id) {
        if (this.host.draining() || this.isFull()) continue;
        const atCap = sessionCapError(owner, this.host.sessions.owners(), config.sessionCaps);
        if (atCap) {
          capped = atCap;
          continue;
        }
        return this.placeHere(request, owner);
      }
      try {
        const placed = await this.placeAtPeer(id, request, owner);
        if (placed) return placed;
      } catch (err) {
        lastError = err as Error;
        if (lastError instanceof MeshError && lastError.code === SESSION_LIMIT_CODE) capped = new ApiError(429, lastError.code, lastError.message);
        else this.host.log.warn({ peer: id, err: lastError.message }, 'peer did not admit a client; trying the next');
      }
    }
    this.host.recorded('refused');
    if (this.host.draining()) throw drainingError(info.id);
    // The owner's caps kept it out where there was room: say so, not "full".
    if (capped) throw capped;
    throw new ApiError(503, ERROR_CODES.MESH_FULL, `no reflector could take the client${lastError ? ` (last: ${lastError.message})` : ''}; try again later`);
  }

  private placeHere(request: JoinRequest, owner: SessionOwner): JoinResponse {
    const role = request.role ?? 'sendrecv';
    const origin = request.origin === undefined ? undefined : parseClientId(request.origin);
    const session = this.host.sessions.create({ role, name: request.name, origin, owner }, Date.now());
    this.host.peers.announce();
    this.host.recorded('local');
    this.host.log.info({ client: session.idText, role, name: request.name }, 'client admitted');
    return this.joinResponse(session, this.host.info);
  }

  /** Reserves the client at peer `id`; undefined when it is no longer a peer. */
  private async placeAtPeer(id: string, request: JoinRequest, owner: SessionOwner): Promise<JoinResponse | undefined> {
    const peer = this.host.peers.get(id);
    if (!peer) return undefined;
    const role = request.role ?? 'sendrecv';
    // The id and key are made here and reserved at the peer; we keep no session.
    const probe = this.host.sessions.create({ role }, Date.now());
    this.host.sessions.delete(probe.id);
    const answer = await this.host.peers.call<AdmitResponse>(peer.info, '/v1/peers/admit', {
      clientId: probe.idText,
      sessionKey: probe.keyText,
      role,
      ...(request.origin !== undefined ? { origin: request.origin } : {}),
      ...(request.name !== undefined ? { name: request.name } : {}),
      owner,
    });
    this.host.peers.heard(id, answer.clients, undefined, answer.generation);
    this.host.recorded('peer');
    this.host.log.info({ client: probe.idText, role, at: id }, 'client admitted at a peer');
    return this.joinResponse(probe, peer.info);
  }

  private joinResponse(session: Session, at: ReflectorInfo): JoinResponse {
    const { config } = this.host;
    return {
      clientId: session.idText,
      sessionKey: session.keyText,
      role: session.role,
      reflector: at,
      reflectors: this.host.reflectorList(),
      keepaliveIntervalMs: config.keepaliveIntervalMs,
      idleTimeoutMs: config.clientIdleTimeoutMs,
      registrationDeadlineMs: config.registrationDeadlineMs,
    };
  }
}
