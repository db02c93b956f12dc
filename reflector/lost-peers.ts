// The peers this reflector lost (silent past the peer timeout) and when to say hello to each again.
// A stall or a partition longer than the timeout makes both sides drop each other, and then nobody
// sends the keep-alive whose answer would start a new hello: remembering who we lost, and retrying
// with capped exponential backoff and jitter, heals the mesh by itself once the network lets it,
// without a storm of hellos while it does not. Pure bookkeeping (no I/O): PeerMesh does the hellos.
import { backoffDelayMs, type BackoffPolicy } from '../protocol/backoff.js';
import type { ReflectorInfo } from '../protocol/api-schemas.js';

export interface LostPeer {
  info: ReflectorInfo;
  /** Date.now() when it was lost. */
  sinceMs: number;
  /** It had answered or spoken to us before it went silent: a loss, not a peer that never came up. */
  confirmed: boolean;
  /** Hellos that failed since. */
  failures: number;
  /** Date.now() of the next hello. */
  nextAttemptMs: number;
}

export class LostPeers {
  private readonly map = new Map<string, LostPeer>();

  constructor(
    private readonly policy: BackoffPolicy,
    /** A lost peer not heard of for this long is forgotten (it is gone for good), unless kept. */
    private readonly forgetAfterMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** A peer went silent: the first hello is due at once (after our own stall, the peers are alive). */
  lost(info: ReflectorInfo, nowMs: number, confirmed = true): void {
    this.map.set(info.id, { info, sinceMs: nowMs, confirmed, failures: 0, nextAttemptMs: nowMs });
  }

  /** The peer is back (or left on purpose, or the operator dropped it): nothing more to retry. */
  clear(id: string): void {
    this.map.delete(id);
  }

  /** A hello failed: the next one after a longer delay, up to the cap. */
  failed(id: string, nowMs: number): void {
    const entry = this.map.get(id);
    if (!entry) return;
    entry.nextAttemptMs = nowMs + backoffDelayMs(this.policy, entry.failures, this.random);
    entry.failures++;
  }

  /** The peer spoke to us though we had lost it (a keep-alive we refused): say hello now. */
  retryNow(id: string, nowMs: number): boolean {
    const entry = this.map.get(id);
    if (!entry) return false;
    entry.nextAttemptMs = Math.min(entry.nextAttemptMs, nowMs);
    return true;
  }

  /** The peers whose hello is due; forgets those lost longer than forgetAfterMs unless `keep` says otherwise. */
  due(nowMs: number, keep: (id: string) => boolean = () => false): LostPeer[] {
    const due: LostPeer[] = [];
    for (const [id, entry] of this.map) {
      if (nowMs - entry.sinceMs > this.forgetAfterMs && !keep(id)) {
        this.map.delete(id);
        continue;
      }
      if (entry.nextAttemptMs <= nowMs) due.push(entry);
    }
    return due;
  }

  ids(): string[] {
    return [...this.map.keys()];
  }

  /** The lost peers that had been in the mesh with us (not those listed that never came up). */
  confirmedIds(): string[] {
    return [...this.map.values()].filter((e) => e.confirmed).map((e) => e.info.id);
  }

  get size(): number {
    return this.map.size;
  }
}
