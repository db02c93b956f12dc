// Names the clients their rate limit is dropping (docs/security.md "Limits"): the engine counts each
// client's dropped datagrams; once a second the reflector asks this which clients' counts grew, and
// logs a warning per client at most once per interval, so an operator can tell who is abusive (or whose
// limit is too tight) without a log line per datagram. Pure logic.

export interface RateLimitedClient {
  id: number;
  /** The client's datagrams dropped by its rate limit so far. */
  dropped: number;
}

export interface RateLimitWarning {
  id: number;
  /** Dropped since the last warning about this client. */
  dropped: number;
  total: number;
}

export class RateLimitWatch {
  private readonly seen = new Map<number, { reported: number; warnedAtMs: number }>();

  constructor(private readonly intervalMs = 10_000) {}

  /** The warnings due now; clients no longer listed are forgotten. */
  check(clients: Iterable<RateLimitedClient>, nowMs: number): RateLimitWarning[] {
    const warnings: RateLimitWarning[] = [];
    const present = new Set<number>();
    for (const c of clients) {
      present.add(c.id);
      const s = this.seen.get(c.id) ?? { reported: 0, warnedAtMs: -Infinity };
      if (c.dropped > s.reported && nowMs - s.warnedAtMs >= this.intervalMs) {
        warnings.push({ id: c.id, dropped: c.dropped - s.reported, total: c.dropped });
        s.reported = c.dropped;
        s.warnedAtMs = nowMs;
      }
      this.seen.set(c.id, s);
    }
    for (const id of this.seen.keys()) if (!present.has(id)) this.seen.delete(id);
    return warnings;
  }
}
