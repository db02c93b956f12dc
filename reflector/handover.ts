// Handing clients to other reflectors (docs/protocol.md §4): one client on the operator's order
// (migrate), the quietest ones when a newcomer asks (offload), and the peer's side of a migration that
// ends here (moved; telling the old reflector once a migrated client registered). The steps of one
// migration, make before break, are migration.ts.
import type { Logger } from 'pino';
import { ApiError, ERROR_CODES, unknownClient, unknownPeer } from '../protocol/errors.js';
import type { MovedRequest, ReflectorInfo } from '../protocol/api-schemas.js';
import type { ClientActivity } from './mirror/engine.js';
import { Migrations, type MigrationDone, type MigrationResult } from './migration.js';
import type { PeerMesh } from './peers.js';
import type { Session, Sessions } from './sessions.js';
import { parseClientId } from '../protocol/wire/client-id.js';

export interface HandoverHost {
  readonly selfId: string;
  readonly registrationDeadlineMs: number;
  readonly migrationGraceMs: number;
  readonly sessions: Sessions;
  readonly peers: PeerMesh;
  readonly log: Logger;
  activity(clientId: number): ClientActivity | undefined;
  tableChanged(): void;
  /** Ends a session whose migration's grace period is over. */
  endSession(session: Session): void;
  recorded(result: MigrationResult, seconds: number | undefined): void;
}

export class Handover {
  private readonly migrations: Migrations;

  constructor(private readonly host: HandoverHost) {
    this.migrations = new Migrations({
      selfId: host.selfId,
      registrationDeadlineMs: host.registrationDeadlineMs,
      graceMs: host.migrationGraceMs,
      admitAt: async (peer, body) => {
        await host.peers.call(peer, '/v1/peers/admit', body);
      },
      tableChanged: () => host.tableChanged(),
      endSession: (session) => host.endSession(session),
      recorded: (result, seconds) => host.recorded(result, seconds),
    });
  }

  stop(): void {
    this.migrations.stop();
  }

  /** The operator's order: move one client to peer `to`; resolves when it registered there. */
  async migrate(clientIdText: string, to: string): Promise<MigrationDone> {
    const id = parseClientId(clientIdText);
    const session = id === undefined ? undefined : this.host.sessions.get(id);
    if (!session || session.state === 'departing') throw unknownClient(clientIdText);
    const peer = this.host.peers.get(to);
    if (!peer) throw unknownPeer(to);
    return this.migrateSession(session, peer.info);
  }

  /** A newcomer asks for `count` clients: the quietest movable ones go to it. */
  offload(to: string, count: number): number {
    const peer = this.host.peers.get(to);
    if (!peer) throw unknownPeer(to);
    const datagramsIn = (s: Session) => this.host.activity(s.id)?.datagramsIn ?? 0;
    const movable = this.movableSessions()
      .sort((a, b) => datagramsIn(a) - datagramsIn(b))
      .slice(0, count);
    this.host.log.info({ to, count: movable.length }, 'handing clients over to a peer');
    for (const s of movable) void this.migrateSession(s, peer.info).catch(() => undefined);
    return movable.length;
  }

  /** The target says a client we are migrating registered there: stop delivering to it here. */
  moved(request: MovedRequest): void {
    const id = parseClientId(request.clientId)!;
    const session = this.host.sessions.get(id);
    if (!session || !this.migrations.moved(session, request.migrationId)) {
      throw new ApiError(404, ERROR_CODES.UNKNOWN_MIGRATION, `no migration ${request.migrationId} of client ${request.clientId} here`);
    }
    this.host.peers.announce();
    this.host.log.info({ client: session.idText, migrationId: request.migrationId }, 'client moved; delivering stops');
  }

  /** A client that migrated here registered: tell the reflector it came from (which then stops delivering). */
  async tellMoved(session: Session): Promise<void> {
    const incoming = session.incoming;
    if (!incoming) return;
    const peer = this.host.peers.get(incoming.from);
    if (!peer) return;
    try {
      await this.host.peers.call(peer.info, '/v1/peers/moved', { clientId: session.idText, migrationId: incoming.migrationId });
      session.incoming = undefined;
    } catch (err) {
      this.host.log.warn({ client: session.idText, peer: incoming.from, err: (err as Error).message }, 'cannot tell the old reflector that a client moved');
    }
  }

  /** Registered clients not already on their way out (an abandoned migration may be tried again). */
  movableSessions(): Session[] {
    return this.host.sessions.all().filter((s) => s.state === 'active' && (!s.outgoing || s.outgoing.abandoned));
  }

  async migrateSession(session: Session, to: ReflectorInfo): Promise<MigrationDone> {
    try {
      const done = await this.migrations.migrate(session, to);
      this.host.peers.countPlaced(to.id, 1);
      this.host.log.info({ client: session.idText, to: to.id, durationMs: Math.round(done.durationMs * 10) / 10 }, 'client migrated');
      return done;
    } catch (err) {
      this.host.log.warn({ client: session.idText, to: to.id, err: (err as Error).message }, 'migration failed');
      throw err;
    }
  }
}
