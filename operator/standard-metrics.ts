// The metric names, labels and buckets controller-runtime and client-go export, for the operator to
// export the same (operator/metrics.ts). Copied from their sources, so a dashboard or alert written
// for any kubebuilder operator reads this one:
// - controller_runtime_*: sigs.k8s.io/controller-runtime pkg/internal/controller/metrics/metrics.go
//   (commit 86a0d40e), results from pkg/internal/controller/controller.go (labelError, labelRequeueAfter,
//   labelRequeue, labelSuccess; every series initialised to 0 as its initMetrics does);
// - workqueue_*: controller-runtime pkg/internal/metrics/workqueue.go (labels name and controller, both
//   the controller's name; buckets ExponentialBuckets(10e-9, 10, 12)); what is counted when: client-go
//   util/workqueue/metrics.go and queue.go (commit 32ce75a7); depth's third label, priority, is left out:
//   this queue has no priorities (controller-runtime writes "" there, which Prometheus drops);
// - rest_client_*: controller-runtime pkg/metrics/client_go_adapter.go (requests_total {code, method,
//   host}; request_duration_seconds {verb, host} with its buckets); the values as client-go's
//   rest/request.go sanitize(): code is the HTTP status or "<error>", host is the server's host:port,
//   method and verb the HTTP method;
// - leader_election_master_status: controller-runtime pkg/metrics/leaderelection.go, name = the Lease's.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** prometheus.ExponentialBuckets(10e-9, 10, 12): 10 ns to 1000 s. */
const WORKQUEUE_BUCKETS = Array.from({ length: 12 }, (_, i) => Number((1e-8 * 10 ** i).toPrecision(1)));

const RECONCILE_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15,
  20, 25, 30, 40, 50, 60,
];

const REST_CLIENT_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0];

/** controller-runtime's reconcile results. */
export type ReconcileResult = 'success' | 'error' | 'requeue' | 'requeue_after';
const RESULTS: readonly ReconcileResult[] = ['error', 'requeue_after', 'requeue', 'success'];

export function controllerRuntimeMetrics(registry: Registry) {
  const registers = [registry];
  const total = new Counter({ name: 'controller_runtime_reconcile_total', help: 'Total number of reconciliations per controller', labelNames: ['controller', 'result'] as const, registers });
  const errors = new Counter({ name: 'controller_runtime_reconcile_errors_total', help: 'Total number of reconciliation errors per controller', labelNames: ['controller'] as const, registers });
  const time = new Histogram({ name: 'controller_runtime_reconcile_time_seconds', help: 'Length of time per reconciliation per controller', labelNames: ['controller'] as const, buckets: RECONCILE_BUCKETS, registers });
  const maxConcurrent = new Gauge({ name: 'controller_runtime_max_concurrent_reconciles', help: 'Maximum number of concurrent reconciles per controller', labelNames: ['controller'] as const, registers });
  const active = new Gauge({ name: 'controller_runtime_active_workers', help: 'Number of currently used workers per controller', labelNames: ['controller'] as const, registers });
  return {
    /** The controller's series at their starting values (controller-runtime's initMetrics). */
    init(controller: string, workers: number): void {
      for (const result of RESULTS) total.inc({ controller, result }, 0);
      errors.inc({ controller }, 0);
      maxConcurrent.set({ controller }, workers);
      active.set({ controller }, 0);
    },
    reconciled(controller: string, result: ReconcileResult, seconds: number): void {
      total.inc({ controller, result });
      if (result === 'error') errors.inc({ controller });
      time.observe({ controller }, seconds);
    },
    workerBusy(controller: string, busy: boolean): void {
      active.inc({ controller }, busy ? 1 : -1);
    },
  };
}
export type ControllerRuntimeMetrics = ReturnType<typeof controllerRuntimeMetrics>;

/** What the scrape reads of a queue: the keys waiting, and how long each key in progress has been. */
export interface QueueProbe {
  depth(): number;
  processingSeconds(): number[];
}

/** The events of one queue that move its counters and histograms (client-go's defaultQueueMetrics). */
export interface QueueInstruments {
  /** A key was added that was not already waiting. */
  added(): void;
  /** A worker took a key that had waited this long. */
  started(waitedSeconds: number): void;
  /** A worker finished a key it had worked on this long. */
  finished(workedSeconds: number): void;
  /** A delayed add (a backoff retry or a requeue after a time). */
  retried(): void;
}

export function workQueueMetrics(registry: Registry) {
  const registers = [registry];
  const labelNames = ['name', 'controller'] as const;
  const probes = new Map<string, QueueProbe>();
  const each = (g: Gauge<'name' | 'controller'>, value: (p: QueueProbe) => number) => {
    for (const [name, probe] of probes) g.set({ name, controller: name }, value(probe));
  };
  new Gauge({ name: 'workqueue_depth', help: 'Current depth of workqueue', labelNames, registers, collect() { each(this, (p) => p.depth()); } });
  const adds = new Counter({ name: 'workqueue_adds_total', help: 'Total number of adds handled by workqueue', labelNames, registers });
  const latency = new Histogram({ name: 'workqueue_queue_duration_seconds', help: 'How long in seconds an item stays in workqueue before being requested', labelNames, buckets: WORKQUEUE_BUCKETS, registers });
  const work = new Histogram({ name: 'workqueue_work_duration_seconds', help: 'How long in seconds processing an item from workqueue takes.', labelNames, buckets: WORKQUEUE_BUCKETS, registers });
  new Gauge({
    name: 'workqueue_unfinished_work_seconds',
    help: "How many seconds of work has been done that is in progress and hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce the number of stuck threads by observing the rate at which this increases.",
    labelNames,
    registers,
    collect() { each(this, (p) => p.processingSeconds().reduce((a, b) => a + b, 0)); },
  });
  new Gauge({
    name: 'workqueue_longest_running_processor_seconds',
    help: 'How many seconds has the longest running processor for workqueue been running.',
    labelNames,
    registers,
    collect() { each(this, (p) => Math.max(0, ...p.processingSeconds())); },
  });
  const retries = new Counter({ name: 'workqueue_retries_total', help: 'Total number of items added to the workqueue with a non-zero delay (rate-limited requeues, explicit RequeueAfter or AddAfter calls)', labelNames, registers });
  return {
    /** The instruments of the queue called `name`; its gauges read `probe` at each scrape. */
    of(name: string, probe: QueueProbe): QueueInstruments {
      const labels = { name, controller: name };
      probes.set(name, probe);
      adds.inc(labels, 0);
      retries.inc(labels, 0);
      return {
        added: () => adds.inc(labels),
        started: (s) => latency.observe(labels, s),
        finished: (s) => work.observe(labels, s),
        retried: () => retries.inc(labels),
      };
    },
  };
}
export type WorkQueueMetrics = ReturnType<typeof workQueueMetrics>;

export function restClientMetrics(registry: Registry) {
  const registers = [registry];
  const requests = new Counter({ name: 'rest_client_requests_total', help: 'Number of HTTP requests, partitioned by status code, method, and host.', labelNames: ['code', 'method', 'host'] as const, registers });
  const duration = new Histogram({ name: 'rest_client_request_duration_seconds', help: 'Request latency in seconds. Broken down by verb and host.', labelNames: ['verb', 'host'] as const, buckets: REST_CLIENT_BUCKETS, registers });
  return {
    /** One request's outcome: the HTTP status, or undefined when no response came (client-go's "<error>"). */
    request(method: string, host: string, status: number | undefined, seconds: number): void {
      requests.inc({ code: status === undefined ? '<error>' : String(status), method, host });
      duration.observe({ verb: method, host }, seconds);
    },
  };
}
export type RestClientMetrics = ReturnType<typeof restClientMetrics>;

export function leaderElectionMetrics(registry: Registry) {
  const status = new Gauge({
    name: 'leader_election_master_status',
    help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease. Please make sure to group by name.",
    labelNames: ['name'] as const,
    registers: [registry],
  });
  return {
    set(lease: string, leading: boolean): void {
      status.set({ name: lease }, leading ? 1 : 0);
    },
  };
}
