// What the reflector tells about itself: GET /v1/status (clients, peers, counters), readiness for the
// kubelet, and the Prometheus metrics (metrics.ts reads the values below at scrape time).
import { performance } from 'node:perf_hooks';
import { predictedOutboundStreams } from './admission.js';
import { meshCapacity } from './mesh-capacity.js';
import type { ReflectorInfo, StatusResponse } from '../protocol/api-schemas.js';
import type { DataPlane } from './dataplane.js';
import type { MeshKeys } from './mesh-keys.js';
import { ReflectorMetrics, type AdmissionResult } from './metrics.js';
import type { MigrationResult } from './migration.js';
import type { Endpoint } from './mirror/engine.js';
import type { PeerMesh } from './peers.js';
import { meshKeySetIds } from '../protocol/security/mesh-key-set.js';
import { roleReceives, roleSends, type Sessions } from './sessions.js';

export interface StatusHost {
  readonly info: ReflectorInfo;
  readonly sessions: Sessions;
  readonly peers: PeerMesh;
  readonly dataplane: DataPlane;
  readonly meshKeys: MeshKeys;
  /** The operator's outbound budget per reflector (--budget-streams; 0 = unknown) and --max-clients, for the capacity gauges. */
  readonly budgetStreams: number;
  readonly maxMeshClients: number;
  draining(): boolean;
  stopped(): boolean;
}

export class StatusReport {
  private readonly metrics: ReflectorMetrics;
  private readonly startedAt = performance.now();

  constructor(private readonly host: StatusHost) {
    const { sessions, peers, dataplane } = host;
    this.metrics = new ReflectorMetrics({
      counters: () => dataplane.counters(),
      latency: () => dataplane.latency(),
      clients: () => sessions.count(),
      peers: () => peers.all().length,
      outboundStreams: () => this.outboundStreams(),
      outboundStreamsPredicted: () => predictedOutboundStreams(peers.all().length + 1, sessions.count() + peers.all().reduce((n, p) => n + p.clients, 0)),
      outboundBitsPerSecond: () => dataplane.outboundRate.bitsPerSecond,
      ...(host.budgetStreams > 0
        ? { meshCapacity: () => meshCapacity(host.budgetStreams, peers.all().length + 1, sessions.count() + peers.all().reduce((n, p) => n + p.clients, 0), host.maxMeshClients) }
        : {}),
    });
  }

  status(): StatusResponse {
    const { info, sessions, peers, dataplane } = this.host;
    const now = Date.now();
    return {
      reflector: info,
      draining: this.host.draining(),
      dataPlane: dataplane.kind,
      clients: sessions.all().map((s) => {
        const a = dataplane.activity(s.id);
        const heard = Math.max(s.lastControlMs, a?.lastHeardMs ?? 0);
        return {
          clientId: s.idText,
          ...(s.name ? { name: s.name } : {}),
          role: s.role,
          state: s.state,
          endpoints: s.endpoints.filter((e): e is Endpoint => e !== undefined),
          datagramsIn: a?.datagramsIn ?? 0,
          datagramsOut: a?.datagramsOut ?? 0,
          datagramsRateLimited: a?.datagramsRateLimited ?? 0,
          lastHeardMs: now - heard,
        };
      }),
      peers: peers.all().map((p) => ({ ...p.info, clients: p.clients, draining: p.draining, lastHeardMs: now - p.lastHeardMs })),
      counters: dataplane.counters(),
      outboundStreams: this.outboundStreams(),
      outboundBitsPerSecond: dataplane.outboundRate.bitsPerSecond,
      outboundRateStreams: dataplane.outboundRate.streams,
      awaitingPeerList: peers.awaitingPeerList,
      uptimeSeconds: Math.round((performance.now() - this.startedAt) / 100) / 10,
      meshKeys: meshKeySetIds(this.host.meshKeys.set),
    };
  }

  readiness(): { ready: boolean; reason: string } {
    if (this.host.stopped()) return { ready: false, reason: 'stopped' };
    if (this.host.draining()) return { ready: false, reason: 'draining' };
    const membership = this.host.peers.membershipProblem();
    if (membership) return { ready: false, reason: membership };
    return { ready: true, reason: 'admitting clients' };
  }

  /**
   * Streams this reflector sends now: each local sender to the other local receivers and to every
   * peer, and each remote client (from the peers' counts) to every local receiver.
   */
  outboundStreams(): number {
    const active = this.host.sessions.all().filter((s) => s.state === 'active');
    const receivers = active.filter((s) => roleReceives(s.role)).length;
    const peers = this.host.peers.all();
    let streams = 0;
    for (const s of active) if (roleSends(s.role)) streams += receivers - (roleReceives(s.role) ? 1 : 0) + peers.length;
    streams += peers.reduce((n, p) => n + p.clients, 0) * receivers;
    return streams;
  }

  // ---- what the other parts record

  admission(result: AdmissionResult): void {
    this.metrics.admission(result);
  }

  migration(result: MigrationResult, seconds: number | undefined): void {
    this.metrics.migration(result, seconds);
  }

  /** A control API request refused by the per-source rate limit (protocol/http-limits.ts). */
  requestRateLimited(): void {
    this.metrics.requestRateLimited();
  }

  /** A peer or admin request refused by the control guard (reflector/api/control-guard.ts). */
  controlRequestRefused(): void {
    this.metrics.controlRequestRefused();
  }

  metricsText(): Promise<string> {
    return this.metrics.text();
  }

  get metricsContentType(): string {
    return this.metrics.contentType;
  }
}
