// The operator's Prometheus metrics (prefix rmesh_operator_): reconciles and their duration, errors,
// queue depth, actions applied, informer restarts, calls to reflectors and leadership.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'rmesh_operator_reconciles_total',
    help: 'Reconcile passes, by result (success, error).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: 'rmesh_operator_reconcile_duration_seconds',
    help: 'Duration of one reconcile pass (observe, decide, apply).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'rmesh_operator_errors_total',
    help: 'Errors, by stage (observe, apply, status, event).',
    labelNames: ['stage'] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'rmesh_operator_queue_depth',
    help: 'Mesh keys waiting in the work queue.',
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

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'rmesh_operator_' });
  }
}
