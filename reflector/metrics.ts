// The reflector's Prometheus metrics (docs/protocol.md §5), read from the engine's counters and the
// control side's state at scrape time, so the hot path only increments plain numbers.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineCounters, LatencyHistogram } from './mirror/engine.js';
import type { MeshCapacity } from './mesh-capacity.js';
import type { MigrationResult } from './migration.js';

export interface MetricsSource {
  counters(): EngineCounters & { dropped: Record<string, number> };
  latency(): LatencyHistogram;
  clients(): number;
  peers(): number;
  outboundStreams(): number;
  outboundStreamsPredicted(): number;
  outboundBitsPerSecond(): number;
  /** The mesh's capacity by the model; absent without a budget (--budget-streams), and so are its gauges. */
  meshCapacity?: () => MeshCapacity;
}

/** refused: no reflector could take the client; unauthorized / forbidden: its token was refused (401) / did not allow its role (403). */
export type AdmissionResult = 'local' | 'peer' | 'refused' | 'unauthorized' | 'forbidden';

export class ReflectorMetrics {
  readonly registry = new Registry();
  private readonly migrations: Counter<'result'>;
  private readonly migrationDuration: Histogram;
  private readonly admissions: Counter<'result'>;
  private readonly apiRateLimited: Counter;
  private readonly controlRefused: Counter;

  constructor(private readonly source: MetricsSource) {
    const r = [this.registry];
    const bySource = (name: string, help: string, label: 'source' | 'destination', pick: (c: EngineCounters) => { client: number; peer: number }) =>
      new Counter({
        name,
        help,
        labelNames: [label],
        registers: r,
        collect() {
          const v = pick(source.counters());
          this.reset();
          this.inc({ [label]: 'client' }, v.client);
          this.inc({ [label]: 'peer' }, v.peer);
        },
      });
    bySource('rmesh_datagrams_received_total', 'Datagrams received on the data sockets, by source kind.', 'source', (c) => c.datagramsIn);
    bySource('rmesh_datagrams_sent_total', 'Datagrams sent, by destination kind.', 'destination', (c) => c.datagramsOut);
    bySource('rmesh_bytes_received_total', 'Bytes received on the data sockets, by source kind.', 'source', (c) => c.bytesIn);
    bySource('rmesh_bytes_sent_total', 'Bytes sent, by destination kind (peer bytes include the peer header).', 'destination', (c) => c.bytesOut);
    new Counter({
      name: 'rmesh_datagrams_dropped_total',
      help: 'Datagrams dropped, by reason.',
      labelNames: ['reason'],
      registers: r,
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(source.counters().dropped)) this.inc({ reason }, n);
      },
    });
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge({
        name,
        help,
        registers: r,
        collect() {
          this.set(read());
        },
      });
    gauge('rmesh_clients', 'Clients this reflector serves (reserved and active).', () => source.clients());
    gauge('rmesh_peers', 'Peer reflectors this reflector knows.', () => source.peers());
    gauge('rmesh_outbound_streams', 'Outbound streams this reflector sends now.', () => source.outboundStreams());
    gauge('rmesh_outbound_streams_predicted', "The capacity model's peak outbound streams for the current mesh, nr*(m+n-2).", () =>
      source.outboundStreamsPredicted(),
    );
    gauge('rmesh_outbound_bits_per_second', 'Outbound data rate over the last second.', () => source.outboundBitsPerSecond());
    // For autoscalers (docs/metrics.md): the same value at every reflector of a mesh, so max() or avg() over the pods is it.
    const capacity = source.meshCapacity;
    if (capacity) {
      gauge('rmesh_mesh_free_client_slots', 'More clients the whole mesh can admit within the outbound budget (capacity model, every client counted as sendrecv).', () => capacity().freeClientSlots);
      gauge('rmesh_mesh_capacity_utilisation', "The capacity model's peak outbound streams of a reflector of this mesh over the budget (1 = full).", () => capacity().utilisation);
    }
    this.migrations = new Counter({ name: 'rmesh_migrations_total', help: 'Migrations of clients away from this reflector, by result.', labelNames: ['result'], registers: r });
    this.migrationDuration = new Histogram({
      name: 'rmesh_migration_duration_seconds',
      help: 'From the admit at the target to its moved notice.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    });
    this.admissions = new Counter({ name: 'rmesh_admissions_total', help: 'Join requests answered here, by result.', labelNames: ['result'], registers: r });
    for (const result of ['ok', 'timeout', 'refused'] satisfies MigrationResult[]) this.migrations.inc({ result }, 0);
    for (const result of ['local', 'peer', 'refused', 'unauthorized', 'forbidden']) this.admissions.inc({ result }, 0);
    this.apiRateLimited = new Counter({
      name: 'rmesh_api_requests_rate_limited_total',
      help: 'Control API requests refused with 429 by the per-source rate limit (--api-rate-limit).',
      registers: r,
    });
    this.controlRefused = new Counter({
      name: 'rmesh_control_requests_refused_total',
      help: 'Peer and admin requests refused with 401 (no or a bad signature or admin token); they count against the per-source limit of failed requests.',
      registers: r,
    });
  }

  requestRateLimited(): void {
    this.apiRateLimited.inc();
  }

  controlRequestRefused(): void {
    this.controlRefused.inc();
  }

  migration(result: MigrationResult, seconds: number | undefined): void {
    this.migrations.inc({ result });
    if (seconds !== undefined) this.migrationDuration.observe(seconds);
  }

  admission(result: AdmissionResult): void {
    this.admissions.inc({ result });
  }

  async text(): Promise<string> {
    return (await this.registry.metrics()) + latencyText(this.source.latency());
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** The engine's latency histogram in Prometheus text form (prom-client cannot adopt external buckets). */
function latencyText(h: LatencyHistogram): string {
  const name = 'rmesh_forwarding_latency_seconds';
  const lines = [
    `# HELP ${name} From a datagram's arrival in the data plane to its last copy handed to the socket.`,
    `# TYPE ${name} histogram`,
  ];
  h.bucketsSeconds.forEach((le, i) => lines.push(`${name}_bucket{le="${le}"} ${h.counts[i]}`));
  lines.push(`${name}_bucket{le="+Inf"} ${h.count}`, `${name}_sum ${h.sumSeconds}`, `${name}_count ${h.count}`);
  return lines.join('\n') + '\n';
}
