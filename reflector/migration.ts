// Moving one client to another reflector, make before break (docs/protocol.md §4): the target
// reserves the client, the client is told on its event stream, registers at the target (which
// delivers to it at once and tells us `moved`), and only then do we stop delivering; we keep
// forwarding its datagrams still in flight for a grace period, then end it.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { MeshError } from '../client/types.js';
import { ApiError, ERROR_CODES } from '../protocol/errors.js';
import type { AdmitRequest, ReflectorInfo } from '../protocol/api-schemas.js';
import type { Session } from './sessions.js';
import { formatClientId } from '../protocol/wire/client-id.js';

/** How long the old reflector keeps delivering after the target says the client moved. */
const DELIVERY_OVERLAP_MS = 250;

export type MigrationResult = 'ok' | 'timeout' | 'refused';

export interface MigrationHost {
  readonly selfId: string;
  readonly registrationDeadlineMs: number;
  readonly graceMs: number;
  /** POST /v1/peers/admit at the target. */
  admitAt(peer: ReflectorInfo, body: AdmitRequest): Promise<void>;
  /** The session's delivery changed: push the forwarding table. */
  tableChanged(): void;
  /** The grace period is over: drop the session. */
  endSession(session: Session): void;
  recorded(result: MigrationResult, seconds: number | undefined): void;
}

export interface MigrationDone {
  migrationId: string;
  durationMs: number;
}

interface Waiter {
  session: Session;
  resolve: () => void;
}

export class Migrations {
  private readonly waiting = new Map<string, Waiter>();
  private readonly graceTimers = new Set<NodeJS.Timeout>();

  constructor(private readonly host: MigrationHost) {}

  async migrate(session: Session, to: ReflectorInfo): Promise<MigrationDone> {
    if (session.state !== 'active') {
      throw new ApiError(409, ERROR_CODES.NOT_ACTIVE, `client ${session.idText} is ${session.state}; only a registered (active) client can be migrated`);
    }
    if (session.outgoing && !session.outgoing.abandoned) {
      throw new ApiError(409, ERROR_CODES.MIGRATING, `client ${session.idText} is already migrating to ${session.outgoing.to}`);
    }
    const migrationId = randomUUID();
    const started = performance.now();
    session.outgoing = { migrationId, to: to.id };
    try {
      await this.host.admitAt(to, {
        clientId: session.idText,
        ...(session.origin !== session.id ? { origin: formatClientId(session.origin) } : {}),
        sessionKey: session.keyText,
        role: session.role,
        ...(session.name !== undefined ? { name: session.name } : {}),
        ...(session.owner !== undefined ? { owner: session.owner } : {}),
        migrationId,
        from: this.host.selfId,
        // The target starts from our nonces: a REGISTER captured before the migration is old there too.
        nonces: session.lastNonce.map(String),
      });
    } catch (err) {
      session.outgoing = undefined;
      this.host.recorded('refused', undefined);
      const status = err instanceof MeshError && err.statusCode === 503 ? 503 : 502;
      const code = err instanceof MeshError ? err.code : ERROR_CODES.PEER_ERROR;
      throw new ApiError(status, code, `reflector ${to.id} did not take client ${session.idText}: ${(err as Error).message}`);
    }
    const moved = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(migrationId);
        resolve(false);
      }, this.host.registrationDeadlineMs);
      this.waiting.set(migrationId, {
        session,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      });
    });
    session.events.send('migrate', { migrationId, to });
    if (!(await moved)) {
      if (session.outgoing?.migrationId === migrationId) session.outgoing.abandoned = true;
      this.host.recorded('timeout', undefined);
      throw new ApiError(
        504,
        ERROR_CODES.MIGRATION_TIMEOUT,
        `client ${session.idText} did not register at ${to.id} within ${this.host.registrationDeadlineMs} ms; it stays at ${this.host.selfId}`,
      );
    }
    const durationMs = performance.now() - started;
    this.host.recorded('ok', durationMs / 1000);
    return { migrationId, durationMs };
  }

  /** The target says the client registered there: stop delivering, end the session after the grace period. */
  moved(session: Session, migrationId: string): boolean {
    if (session.outgoing?.migrationId !== migrationId) return false;
    if (session.state !== 'departing' && !session.outgoing.moved) {
      session.outgoing.moved = true;
      // Keep delivering a moment longer: a peer's copy sent before the client registered at the
      // target can still sit in our socket behind this `moved` request (the event loop may read
      // the HTTP request first), and stopping at once would lose it. A duplicate beats a gap.
      this.after(Math.min(DELIVERY_OVERLAP_MS, this.host.graceMs / 2), () => {
        session.state = 'departing';
        this.host.tableChanged();
      });
      this.after(this.host.graceMs, () => this.host.endSession(session));
    }
    this.waiting.get(migrationId)?.resolve();
    this.waiting.delete(migrationId);
    return true;
  }

  private after(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.graceTimers.delete(timer);
      run();
    }, ms);
    this.graceTimers.add(timer);
  }

  stop(): void {
    for (const t of this.graceTimers) clearTimeout(t);
    this.graceTimers.clear();
  }
}
