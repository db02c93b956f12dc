// The reflector's side of the peer protocol (docs/protocol.md §3.2) that is not the peer list itself
// (peers.ts): what we report of ourselves (the client count and its generation), the answers to hello,
// keep-alive and bye, joining a mesh through a member (--join), and the redistribution after a join.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { planRedistribution, type Candidate } from './admission.js';
import { unknownPeer } from '../protocol/errors.js';
import type { HelloRequest, HelloResponse, PeerKeepalive, ReflectorInfo } from '../protocol/api-schemas.js';
import type { PeerMesh, SelfView } from './peers.js';

/** Our own view as peers see it; the generation grows whenever the client count changed since the last report. */
export class SelfReport {
  private reported = { clients: 0, generation: 0 };

  constructor(
    private readonly info: ReflectorInfo,
    private readonly clients: () => number,
    private readonly draining: () => boolean,
  ) {}

  view(): SelfView {
    const clients = this.clients();
    if (clients !== this.reported.clients) this.reported = { clients, generation: this.reported.generation + 1 };
    return { info: this.info, clients, draining: this.draining(), generation: this.reported.generation };
  }
}

export interface PeerProtocolHost {
  readonly info: ReflectorInfo;
  readonly peers: PeerMesh;
  readonly self: SelfReport;
  readonly log: Logger;
  /** Waited between attempts to join the mesh. */
  readonly retryMs: number;
  /** Clients served here now. */
  clients(): number;
  /** The peers as admission candidates. */
  candidates(): Candidate[];
  stopped(): boolean;
}

export class PeerProtocol {
  constructor(private readonly host: PeerProtocolHost) {}

  hello(request: HelloRequest): HelloResponse {
    const { peers, log, info } = this.host;
    const known = peers.get(request.reflector.id) !== undefined;
    peers.add(request.reflector, request.clients);
    peers.heard(request.reflector.id, request.clients);
    const others = peers.infos().filter((p) => p.id !== request.reflector.id);
    if (request.introduce) {
      for (const p of others) {
        void peers.call(p, '/v1/peers/hello', { reflector: request.reflector, clients: request.clients, introduce: false }).catch((err: Error) =>
          log.warn({ peer: p.id, newcomer: request.reflector.id, err: err.message }, 'cannot introduce a newcomer to a peer'),
        );
      }
    }
    if (!known) log.info({ peer: request.reflector.id, introduce: request.introduce }, 'peer said hello');
    return { reflector: info, clients: this.host.clients(), peers: others };
  }

  keepalive(request: PeerKeepalive): PeerKeepalive {
    if (!this.host.peers.heard(request.id, request.clients, request.draining, request.generation)) {
      // It lost us or we lost it: it says hello on this answer; if we lost it, we say hello too.
      this.host.peers.unknownPeerSpoke(request.id);
      throw unknownPeer(request.id);
    }
    const self = this.host.self.view();
    return { id: self.info.id, clients: self.clients, draining: self.draining, generation: self.generation };
  }

  bye(id: string): void {
    if (this.host.peers.remove(id, 'said bye')) this.host.log.info({ peer: id }, 'peer left the mesh');
  }

  /** Says hello through a member (asking to be introduced), then to every peer it lists; retried until it works or we stop. */
  async joinMesh(host: string, port: number): Promise<void> {
    const { peers, log, info } = this.host;
    for (let attempt = 1; !this.host.stopped(); attempt++) {
      try {
        const answer = await peers.hello(host, port, true);
        await Promise.allSettled(
          answer.peers
            .filter((p) => p.id !== info.id)
            .map(async (p) => {
              peers.add(p);
              await peers.hello(p.address, p.controlPort, false);
            }),
        );
        log.info({ via: `${host}:${port}`, peers: peers.all().map((p) => p.info.id) }, 'joined the mesh');
        await this.redistribute();
        return;
      } catch (err) {
        log.warn({ via: `${host}:${port}`, attempt, err: (err as Error).message }, 'cannot join the mesh yet; retrying');
        await sleep(this.host.retryMs);
      }
    }
  }

  /** Asks the most loaded peers to hand us clients until every reflector serves nr or nr-1. */
  private async redistribute(): Promise<void> {
    const { peers, log, info } = this.host;
    const plan = planRedistribution(this.host.clients(), this.host.candidates());
    for (const [id, count] of plan) {
      const peer = peers.get(id);
      if (!peer) continue;
      log.info({ from: id, count }, 'asking a peer to hand over clients');
      await peers.call(peer.info, '/v1/peers/offload', { to: info.id, count }).catch((err: Error) => {
        log.warn({ peer: id, err: err.message }, 'offload request failed');
      });
    }
  }
}
