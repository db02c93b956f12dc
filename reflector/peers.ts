// The peer mesh as one reflector sees it: the other reflectors, their client counts and draining flag
// (carried by keep-alives, so admission needs no extra round trip), the keep-alive loop, the removal
// of peers silent past the timeout, hello (join through any member, which introduces the newcomer),
// and healing: peers lost to a stall or a partition, and the --join seeds when we are alone, get hellos
// again with backoff (lost-peers.ts) until they answer.
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { ApiError, ERROR_CODES } from '../protocol/errors.js';
import { controlUrl, requestJson, type RequestOptions } from '../client/http.js';
import { peerControlKey, signPeerRequest } from '../protocol/security/peer-control.js';
import { MeshError } from '../client/types.js';
import type { Subkeys } from '../protocol/security/mesh-key-set.js';
import { LostPeers } from './lost-peers.js';
import { backoffDelayMs, type BackoffPolicy } from '../protocol/backoff.js';
import { isClientCount, type HelloResponse, type PeerKeepalive, type ReflectorInfo } from '../protocol/api-schemas.js';
import type { ForwardingPeer } from './mirror/engine.js';

export interface Peer {
  info: ReflectorInfo;
  clients: number;
  draining: boolean;
  /** Date.now() of the last request from it or answer by it. */
  lastHeardMs: number;
  /** The peer's count generation of `clients`: an older report (a late answer) does not overwrite a newer one. */
  generation: number;
  /** It has answered or spoken to us: listed by the operator is not enough (it may not run yet). */
  confirmed: boolean;
}

export interface SelfView {
  info: ReflectorInfo;
  clients: number;
  draining: boolean;
  generation: number;
}

export interface PeerMeshOptions {
  self: () => SelfView;
  adminToken: string | undefined;
  /**
   * The mesh key, or the reflector's live keys (reflector/mesh-keys.ts): peer requests are then signed
   * with the current key's peer-control subkey instead of the admin token.
   */
  meshKey?: Buffer | undefined | { of(purpose: 'peer-control'): Subkeys };
  keepaliveIntervalMs: number;
  peerTimeoutMs: number;
  requestTimeoutMs: number;
  /** The --join addresses: said hello to again (asking to be introduced) when every peer is lost. */
  seeds?: readonly { host: string; port: number }[];
  /** --await-peer-list: a membership problem until the operator's first peer list arrives. */
  awaitPeerList?: boolean;
}

/** A lost peer not heard of for this long (and not in the operator's list) is gone for good. */
const FORGET_AFTER_MIN_MS = 60_000;

export interface PeerMeshEvents {
  /** Membership or a peer's data address changed. */
  changed: [reason: string];
  /** A peer was removed (timed out, said bye, or left the operator's list). */
  removed: [peer: Peer, reason: string];
}

/**
 * Why a peer cannot go into the forwarding table, or undefined. Checked before anything changes: a
 * name instead of an IP would be resolved for every datagram (the native engine refuses the whole
 * table), a data port of 65535 in RTP mode makes P+1 an invalid port (dgram throws on the hot path and
 * the process dies), and a peer at our own data address loops every datagram back as duplicates.
 */
export function peerInfoProblem(info: ReflectorInfo, self: ReflectorInfo): string | undefined {
  const family = isIP(info.address);
  if (family === 0) return `peer ${info.id}: address "${info.address}" is not an IP address; reflectors advertise the IP clients and peers use`;
  if (family === 6 && isIP(self.address) === 4) return `peer ${info.id}: IPv6 address ${info.address} in a mesh on IPv4 (this reflector is at ${self.address})`;
  if (self.rtp && info.dataPort >= 65535) return `peer ${info.id}: data port ${info.dataPort} leaves no port for RTCP (P+1) in RTP mode`;
  if (info.address === self.address && info.dataPort === self.dataPort) {
    return `peer ${info.id} has this reflector's own data address ${self.address}:${self.dataPort}; every datagram would loop back`;
  }
  return undefined;
}

function badPeer(problem: string): ApiError {
  return new ApiError(400, ERROR_CODES.BAD_PEER, `${problem}; fix the peer's --advertise-address/--data-port or the peer list`);
}

export class PeerMesh extends EventEmitter<PeerMeshEvents> {
  private readonly map = new Map<string, Peer>();
  private timer: NodeJS.Timeout | undefined;
  private announcing = false;
  /** Peers with a keep-alive in flight: a slow peer gets one at a time, not a pile. */
  private readonly pending = new Set<string>();

  private readonly retryPolicy: BackoffPolicy;
  /** Peers lost to silence, retried with backoff until they answer. */
  private readonly lost: LostPeers;
  /** Hellos in flight (to a lost peer's id or a seed's address): one at a time each. */
  private readonly helloing = new Set<string>();
  /** Backoff of each seed (by HOST:PORT), retried only while every peer is lost. */
  private readonly seedFailures = new Map<string, { failures: number; nextAttemptMs: number }>();
  /** The operator's peer list (PUT /v1/peers): the set this reflector should be peered with. */
  private expected: Set<string> | undefined;
  /** True once this reflector has had a peer: alone after that means cut off, not a mesh of one. */
  private everPeered = false;

  /** The peer-control subkey requests are signed with now (a rotation changes it); undefined = the admin token. */
  private readonly signingKey: () => Buffer | undefined;

  constructor(private readonly options: PeerMeshOptions) {
    super();
    const keys = options.meshKey;
    const fixed = Buffer.isBuffer(keys) ? peerControlKey(keys) : undefined;
    this.signingKey = keys === undefined || Buffer.isBuffer(keys) ? () => fixed : () => keys.of('peer-control').sign;
    // From one keep-alive interval up to the peer timeout: a few intervals after the network heals.
    this.retryPolicy = { initialMs: options.keepaliveIntervalMs, maxMs: Math.max(options.keepaliveIntervalMs, options.peerTimeoutMs) };
    this.lost = new LostPeers(this.retryPolicy, Math.max(FORGET_AFTER_MIN_MS, 12 * options.peerTimeoutMs));
  }

  /** How peer requests authenticate: signed with the current mesh key when there is one, else the admin token. */
  private get credentials(): Pick<RequestOptions, 'authorize' | 'token'> {
    const key = this.signingKey();
    return key ? { authorize: (method, path, body) => signPeerRequest(key, method, path, body) } : { token: this.options.adminToken };
  }

  get(id: string): Peer | undefined {
    return this.map.get(id);
  }

  all(): Peer[] {
    return [...this.map.values()];
  }

  infos(): ReflectorInfo[] {
    return this.all().map((p) => p.info);
  }

  forwardingPeers(): ForwardingPeer[] {
    return this.all().map((p) => ({ id: p.info.id, address: p.info.address, dataPort: p.info.dataPort }));
  }

  /** Adds a peer or updates its address; returns true when membership or addresses changed. */
  add(info: ReflectorInfo, clients = 0, draining = false): boolean {
    const self = this.options.self().info;
    if (info.id === self.id) return false;
    const problem = peerInfoProblem(info, self);
    if (problem) throw badPeer(problem);
    // Two processes cannot hold one data address: a peer there under another id (a replaced pod on
    // the same node) is gone, and keeping both would send every datagram there twice.
    for (const other of [...this.map.values()]) {
      if (other.info.id !== info.id && other.info.address === info.address && other.info.dataPort === info.dataPort) {
        this.remove(other.info.id, `replaced by ${info.id} at the same data address`);
      }
    }
    const old = this.map.get(info.id);
    const changed = !old || !sameInfo(old.info, info);
    if (!isClientCount(clients)) clients = 0; // a peer's answer out of range: its keep-alives correct it
    this.map.set(info.id, {
      info,
      clients: old && !changed ? Math.max(old.clients, clients) : clients,
      draining,
      lastHeardMs: Date.now(),
      generation: old && !changed ? old.generation : 0,
      confirmed: old?.confirmed ?? false,
    });
    this.lost.clear(info.id);
    if (changed) this.emit('changed', `peer ${info.id} ${old ? 'updated' : 'added'}`);
    return changed;
  }

  /** Removes a peer; `retry` (it went silent) keeps saying hello to it until it answers. */
  remove(id: string, reason: string, retry = false): boolean {
    const peer = this.map.get(id);
    if (!peer) return false;
    this.map.delete(id);
    if (retry) this.lost.lost(peer.info, Date.now(), peer.confirmed);
    else this.lost.clear(id);
    this.emit('removed', peer, reason);
    this.emit('changed', `peer ${id} removed: ${reason}`);
    return true;
  }

  /** Replaces the whole list (the operator's view): unlisted peers go, listed ones are added. */
  replace(infos: readonly ReflectorInfo[]): void {
    const self = this.options.self().info;
    const wanted = new Map(infos.filter((i) => i.id !== self.id).map((i) => [i.id, i]));
    // All checked before anything changes: a bad list is refused whole.
    const endpoints = new Map<string, string>();
    for (const info of wanted.values()) {
      const problem = peerInfoProblem(info, self);
      if (problem) throw badPeer(problem);
      const endpoint = `${info.address}:${info.dataPort}`;
      const twin = endpoints.get(endpoint);
      if (twin !== undefined) throw badPeer(`peers ${twin} and ${info.id} have the same data address ${endpoint}`);
      endpoints.set(endpoint, info.id);
    }
    this.expected = new Set(wanted.keys());
    for (const id of this.lost.ids()) if (!wanted.has(id)) this.lost.clear(id);
    for (const id of [...this.map.keys()]) if (!wanted.has(id)) this.remove(id, 'not in the peer list');
    for (const info of wanted.values()) this.add(info, this.map.get(info.id)?.clients ?? 0, this.map.get(info.id)?.draining ?? false);
  }

  /** Records a sign of life and the counts a peer reported; false when the peer is unknown. */
  heard(id: string, clients?: number, draining?: boolean, generation?: number): boolean {
    const peer = this.map.get(id);
    if (!peer) return false;
    peer.lastHeardMs = Date.now();
    peer.confirmed = true;
    this.everPeered = true;
    if (isClientCount(clients) && (generation === undefined || generation >= peer.generation)) {
      peer.clients = clients;
      if (generation !== undefined) peer.generation = generation;
    }
    if (draining !== undefined) peer.draining = draining;
    return true;
  }

  /** Our own view of a peer's count after we placed a client there (keep-alives correct it). */
  countPlaced(id: string, delta: number): void {
    const peer = this.map.get(id);
    if (peer) peer.clients = Math.max(0, peer.clients + delta);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.keepaliveIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Says hello to a reflector at host:port and adds it (and, if asked, is introduced to its peers). */
  async hello(host: string, port: number, introduce: boolean): Promise<HelloResponse> {
    const self = this.options.self();
    const answer = await requestJson<HelloResponse>(controlUrl(host, port, '/v1/peers/hello'), {
      method: 'POST',
      body: { reflector: self.info, clients: self.clients, introduce },
      ...this.credentials,
      timeoutMs: this.options.requestTimeoutMs,
    });
    this.add(answer.reflector, answer.clients);
    this.heard(answer.reflector.id);
    return answer;
  }

  /** Calls a peer's endpoint with the mesh's token; an answer counts as a sign of life. */
  async call<T>(peer: ReflectorInfo, path: string, body: unknown, timeoutMs = this.options.requestTimeoutMs): Promise<T> {
    const answer = await requestJson<T>(controlUrl(peer.address, peer.controlPort, path), {
      method: 'POST',
      body,
      ...this.credentials,
      timeoutMs,
    });
    this.heard(peer.id);
    return answer;
  }

  /** Tells every peer we are leaving, so they drop us at once instead of after the timeout. */
  async sayBye(): Promise<void> {
    const id = this.options.self().info.id;
    await Promise.allSettled(this.all().map((p) => this.call(p.info, '/v1/peers/bye', { id }, 1000)));
  }

  /**
   * Sends a keep-alive to every peer now (soon, once per burst): our client count changed, and peers
   * admit by it, so a stale count would pile clients onto one reflector.
   */
  announce(): void {
    if (this.announcing || !this.timer) return;
    this.announcing = true;
    setImmediate(() => {
      this.announcing = false;
      for (const peer of this.all()) void this.keepalive(peer);
    });
  }

  /**
   * A peer we do not know sent a keep-alive (refused with RMESH_UNKNOWN_PEER, so it says hello). If we
   * lost it, say hello to it as well, now, rather than at its next backoff.
   */
  unknownPeerSpoke(id: string): void {
    if (this.lost.retryNow(id, Date.now()) && this.timer) this.heal(Date.now());
  }

  /** Whether this reflector has had a peer: a mesh member, not a reflector running alone. */
  get wasInMesh(): boolean {
    return this.everPeered;
  }

  /**
   * Waiting for the operator's first peer list (--await-peer-list). Once one has come this stays false:
   * a later list, even an empty one, is the operator's view, and peers lost after it are the problem below.
   */
  get awaitingPeerList(): boolean {
    return this.options.awaitPeerList === true && this.expected === undefined;
  }

  /**
   * Why this reflector is not fully in its mesh, or undefined: the operator's peer list not yet
   * received (with --await-peer-list), peers of that list missing, or (without a list) every peer lost
   * after it had some. /readyz reports it: a reflector cut off from the mesh must not be told clients
   * that the others cannot reach.
   */
  membershipProblem(): string | undefined {
    if (this.awaitingPeerList) return 'waiting for the operator\'s peer list (PUT /v1/peers; --await-peer-list)';
    if (this.expected !== undefined) {
      // Only peers that were in the mesh with us: one the operator lists that never came up is not a loss.
      const lost = new Set(this.lost.confirmedIds());
      const missing = [...this.expected].filter((id) => !this.map.has(id) && lost.has(id));
      if (missing.length === 0) return undefined;
      return `${missing.length} of ${this.expected.size} peers in the peer list unreachable (${missing.join(', ')}); saying hello again with backoff`;
    }
    const lost = this.lost.confirmedIds();
    if (this.everPeered && this.map.size === 0 && lost.length > 0) {
      return `cut off from the mesh: lost every peer (${lost.join(', ')}); saying hello again with backoff`;
    }
    return undefined;
  }

  private tick(): void {
    const now = Date.now();
    for (const peer of this.all()) {
      if (now - peer.lastHeardMs > this.options.peerTimeoutMs) {
        this.remove(peer.info.id, `silent for ${now - peer.lastHeardMs} ms`, true);
        continue;
      }
      void this.keepalive(peer);
    }
    this.heal(now);
  }

  /** Hellos to the lost peers that are due, and to the seeds when no peer is left. */
  private heal(now: number): void {
    for (const entry of this.lost.due(now, (id) => this.expected?.has(id) === true)) {
      void this.retryHello(entry.info.id, () => this.hello(entry.info.address, entry.info.controlPort, false), (ok) => {
        // Answered, perhaps under another id (a replaced reflector at that address): either way found.
        if (ok) this.lost.clear(entry.info.id);
        else this.lost.failed(entry.info.id, Date.now());
      });
    }
    if (this.map.size > 0 || this.lost.size === 0) return;
    for (const seed of this.options.seeds ?? []) {
      const key = `${seed.host}:${seed.port}`;
      const state = this.seedFailures.get(key) ?? { failures: 0, nextAttemptMs: 0 };
      if (state.nextAttemptMs > now) continue;
      void this.retryHello(key, () => this.rejoin(seed.host, seed.port), (ok) => {
        if (ok) return this.seedFailures.delete(key);
        this.seedFailures.set(key, { failures: state.failures + 1, nextAttemptMs: Date.now() + backoffDelayMs(this.retryPolicy, state.failures) });
      });
    }
  }

  private async retryHello(key: string, attempt: () => Promise<unknown>, done: (ok: boolean) => void): Promise<void> {
    if (this.helloing.has(key)) return;
    this.helloing.add(key);
    try {
      await attempt();
      done(true);
    } catch {
      done(false);
    } finally {
      this.helloing.delete(key);
    }
  }

  /** Hello through a seed, asking to be introduced; its peers are added (they are told about us). */
  private async rejoin(host: string, port: number): Promise<void> {
    const answer = await this.hello(host, port, true);
    const self = this.options.self().info;
    for (const p of answer.peers) {
      if (p.id === self.id) continue;
      try {
        this.add(p);
      } catch {
        // a peer the seed lists but we cannot use: the seed's own problem, reported there
      }
    }
  }

  private async keepalive(peer: Peer): Promise<void> {
    if (this.pending.has(peer.info.id)) return;
    const self = this.options.self();
    const body: PeerKeepalive = { id: self.info.id, clients: self.clients, draining: self.draining, generation: self.generation };
    this.pending.add(peer.info.id);
    try {
      // A slow answer is still a sign of life: wait up to the peer timeout, not the interval.
      const answer = await this.call<PeerKeepalive>(peer.info, '/v1/peers/keepalive', body, this.options.peerTimeoutMs);
      this.heard(peer.info.id, answer.clients, answer.draining, answer.generation);
    } catch (err) {
      if (err instanceof MeshError && err.code === ERROR_CODES.UNKNOWN_PEER) {
        // The peer dropped us (a partition, a restart): introduce ourselves again.
        await this.hello(peer.info.address, peer.info.controlPort, false).catch(() => undefined);
      }
    } finally {
      this.pending.delete(peer.info.id);
    }
  }
}

function sameInfo(a: ReflectorInfo, b: ReflectorInfo): boolean {
  return a.address === b.address && a.dataPort === b.dataPort && a.controlPort === b.controlPort && a.rtp === b.rtp;
}
