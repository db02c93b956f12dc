// Which clients are still there: a reservation whose client did not register in time lapses, a
// registered client silent (no data, no keep-alive) for --client-idle-timeout is purged; and a client
// its rate limit keeps dropping is named in the log (at most every 10 s per client). Peers' liveness is
// peers.ts's (keep-alives) and lost-peers.ts's.
import type { Logger } from 'pino';
import type { ReflectorConfig } from './config.js';
import type { ClientActivity } from './mirror/engine.js';
import { RateLimitWatch } from './rate-limit-watch.js';
import type { Session, Sessions } from './sessions.js';

export interface LivenessHost {
  readonly config: Pick<ReflectorConfig, 'registrationDeadlineMs' | 'clientIdleTimeoutMs' | 'clientRateLimit'>;
  readonly sessions: Sessions;
  readonly log: Logger;
  activity(clientId: number): ClientActivity | undefined;
  /** Ends a session, with the reason its event stream's `bye` gives. */
  end(session: Session, byeReason: string): void;
}

export class Liveness {
  private readonly rateLimitWatch = new RateLimitWatch();

  constructor(private readonly host: LivenessHost) {}

  /** How often purge() should run: a quarter of the idle timeout, between 50 ms and 1 s. */
  get purgeIntervalMs(): number {
    return Math.max(50, Math.min(1000, Math.floor(this.host.config.clientIdleTimeoutMs / 4)));
  }

  /** Ends lapsed reservations and idle clients. */
  purge(now = Date.now()): void {
    const { config, log } = this.host;
    for (const s of this.host.sessions.all()) {
      if (s.state === 'reserved' && now - s.createdAtMs > config.registrationDeadlineMs) {
        log.info({ client: s.idText }, 'reservation lapsed: the client did not register in time');
        this.host.end(s, 'lapsed');
      } else if (s.state === 'active') {
        const heard = Math.max(s.lastControlMs, this.host.activity(s.id)?.lastHeardMs ?? 0);
        if (now - heard > config.clientIdleTimeoutMs) {
          log.info({ client: s.idText, silentMs: now - heard }, 'client purged: idle');
          this.host.end(s, 'purged');
        }
      }
    }
  }

  /** A warning per client its rate limit dropped datagrams of (at most every 10 s per client). */
  warnRateLimited(now = Date.now()): void {
    const { sessions, log, config } = this.host;
    const clients = sessions.all().map((s) => ({ id: s.id, dropped: this.host.activity(s.id)?.datagramsRateLimited ?? 0 }));
    for (const w of this.rateLimitWatch.check(clients, now)) {
      const s = sessions.get(w.id);
      log.warn(
        { client: s?.idText, name: s?.name, endpoints: s?.endpoints.filter((e) => e !== undefined), dropped: w.dropped, droppedTotal: w.total, limit: config.clientRateLimit },
        'client over its rate limit: datagrams dropped',
      );
    }
  }
}
