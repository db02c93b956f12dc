// The operator's Prometheus metrics. Two families side by side:
// - controller-runtime's and client-go's standard names (controller_runtime_*, workqueue_*,
//   rest_client_*, leader_election_master_status, process_* and nodejs_*), so the dashboards and
//   alerts an SRE already has for kubebuilder operators work unchanged;
// - the operator's own (rmesh_operator_*): errors by stage, actions, informers, leadership, meshes.
// An rmesh_operator_* metric that would repeat a standard one (reconciles, their duration, the queue
// depth) is gone; docs/metrics.md lists both families.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { controllerRuntimeMetrics, leaderElectionMetrics, restClientMetrics, workQueueMetrics } from './standard-metrics.js';

/** The controller's name in the standard metrics' labels: controller-runtime's default, the kind in lower case. */
export const CONTROLLER_NAME = 'reflectormesh';

export class OperatorMetrics {
  readonly registry = new Registry();
  /** controller_runtime_*: reconciles by result, errors, duration, workers. */
  readonly controller = controllerRuntimeMetrics(this.registry);
  /** workqueue_*: as client-go's workqueue with controller-runtime's metrics provider. */
  readonly workQueue = workQueueMetrics(this.registry);
  /** rest_client_*: every request to the API server (operator/kube/rest-metrics.ts). */
  readonly restClient = restClientMetrics(this.registry);
  /** leader_election_master_status{name}: client-go's, by Lease name. */
  readonly leaderElection = leaderElectionMetrics(this.registry);
  readonly errors = new Counter({
    name: 'rmesh_operator_errors_total',
    help: 'Errors, by stage (observe, apply, status, event).',
    labelNames: ['stage'] as const,
    registers: [this.registry],
  });
  readonly actions = new Counter({
    name: 'rmesh_operator_actions_total',
    help: 'Actions applied, by type (createPod, deletePod, drain, setPeers, migrate) and result.',
    labelNames: ['type', 'result'] as const,
    registers: [this.registry],
  });
  readonly informer = new Counter({
    name: 'rmesh_operator_informer_transitions_total',
    help: 'Informer lists, watches, re-lists after 410 Gone, silent-watch restarts and errors.',
    labelNames: ['informer', 'what'] as const,
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: 'rmesh_operator_leader',
    help: '1 while this replica holds the leader Lease (or runs without leader election).',
    registers: [this.registry],
  });
  readonly meshes = new Gauge({
    name: 'rmesh_operator_meshes',
    help: 'ReflectorMeshes in the cache.',
    registers: [this.registry],
  });
  readonly statusWrites = new Counter({
    name: 'rmesh_operator_status_writes_total',
    help: 'Mesh status writes, by outcome: written, unchanged (nothing to write), deferred (only fast-moving numbers changed, within the minimum interval).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  constructor(options: { defaultMetrics?: boolean } = {}) {
    // Standard names (process_cpu_seconds_total, process_resident_memory_bytes, nodejs_*), no prefix:
    // the Node.js counterpart of controller-runtime's process and Go collectors.
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
