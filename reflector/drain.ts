// Draining (docs/protocol.md §3.3): stop admitting and move every client to the other reflectors,
// retried until none is left or the reflector stops; SIGTERM drains, then waits (at most
// --drain-timeout) for the clients to be gone before the reflector leaves the mesh.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { planDrain, type Candidate } from './admission.js';
import type { ReflectorConfig } from './config.js';
import type { Handover } from './handover.js';
import type { PeerMesh } from './peers.js';
import type { Sessions } from './sessions.js';

/** Between two rounds of a drain: migrations of the last round settle, new peers may appear. */
const DRAIN_ROUND_MS = 200;
/** How often SIGTERM looks whether the clients are gone. */
const SHUTDOWN_POLL_MS = 100;
/**
 * SIGTERM with clients and no peer to take them, in a reflector that has been in a mesh: how long it
 * waits for one (within --drain-timeout). Its replacement may be Ready, and so let a disruption budget
 * evict this one, before the operator has wired the two (a drain of two nodes at once did that).
 */
export const SHUTDOWN_PEER_WAIT_MS = 10_000;

export interface DrainHost {
  readonly config: Pick<ReflectorConfig, 'maxClients' | 'maxClientsPerReflector' | 'drainTimeoutMs'>;
  readonly sessions: Sessions;
  readonly peers: PeerMesh;
  readonly handover: Handover;
  readonly log: Logger;
  candidates(): Candidate[];
  stopped(): boolean;
}

export class Drain {
  private draining = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly host: DrainHost) {}

  /** Whether this reflector drains (it admits no client from then on). */
  get active(): boolean {
    return this.draining;
  }

  /** Stops admitting and moves every client to the other reflectors, but those in `exclude`; idempotent. */
  start(exclude: readonly string[]): number {
    this.draining = true;
    if (!this.loop) {
      this.host.log.info({ clients: this.host.sessions.count(), exclude }, 'draining');
      this.loop = this.run(new Set(exclude)).finally(() => {
        this.loop = undefined;
      });
    }
    return this.host.sessions.count();
  }

  /**
   * SIGTERM: drain, and wait until the clients are gone, no peer could take them (none for
   * SHUTDOWN_PEER_WAIT_MS), or the drain timeout.
   */
  async beforeShutdown(): Promise<void> {
    const { sessions, peers, config, log } = this.host;
    log.info({ clients: sessions.count() }, 'shutting down: draining clients to peers');
    this.start([]);
    const started = performance.now();
    const deadline = started + config.drainTimeoutMs;
    const peerDeadline = started + Math.min(SHUTDOWN_PEER_WAIT_MS, config.drainTimeoutMs);
    let waitingForPeer = false;
    while (sessions.all().length > 0 && performance.now() < deadline) {
      if (!peers.all().some((p) => !p.draining)) {
        if (!peers.wasInMesh || performance.now() >= peerDeadline) break;
        if (!waitingForPeer) log.info({ clients: sessions.count(), waitMs: Math.round(peerDeadline - performance.now()) }, 'no peer to take the clients yet: waiting for one');
        waitingForPeer = true;
      }
      await sleep(SHUTDOWN_POLL_MS);
    }
    const left = sessions.all().length;
    if (left > 0) log.warn({ clients: left }, 'clients could not be moved; ending their sessions');
  }

  private async run(exclude: Set<string>): Promise<void> {
    const { sessions, peers, handover, config } = this.host;
    while (!this.host.stopped()) {
      const movable = handover.movableSessions();
      const reserved = sessions.all().filter((s) => s.state === 'reserved').length;
      if (movable.length === 0 && reserved === 0) return;
      const targets = planDrain(movable.length, this.host.candidates().filter((p) => !exclude.has(p.id)), config);
      await Promise.allSettled(
        movable.map((s, i) => {
          const peer = targets[i] === undefined ? undefined : peers.get(targets[i]);
          return peer ? handover.migrateSession(s, peer.info) : Promise.resolve();
        }),
      );
      await sleep(DRAIN_ROUND_MS);
    }
  }
}
