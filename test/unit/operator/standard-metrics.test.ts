// The operator exports controller-runtime's and client-go's standard metrics (operator/standard-metrics.ts)
// under their names and labels: after a pass over a mesh of the fake cluster, after a failing pass, and
// from the work queue's own events.
import { describe, expect, it } from 'vitest';
import { WorkQueue } from '../../../operator/controller/queue.js';
import { CONTROLLER_NAME, OperatorMetrics } from '../../../operator/metrics.js';
import { parsePrometheusText, sampleValue, type MetricFamily } from '../../support/prometheus-text.js';
import { setup } from './controller-setup.js';

const controller = { controller: 'reflectormesh' };
const queue = { name: 'reflectormesh', controller: 'reflectormesh' };

async function scrape(metrics: OperatorMetrics): Promise<Map<string, MetricFamily>> {
  return parsePrometheusText(await metrics.registry.metrics());
}

describe('controller-runtime metrics after passes over a mesh of the fake API', () => {
  it('has every standard name with its labels after a pass; the pass counts as requeue_after (it asks for the status refresh)', async () => {
    const metrics = new OperatorMetrics();
    const c = setup({ replicas: 2 }, { metrics, workers: 3 });
    await c.pass();
    const f = await scrape(metrics);
    expect(CONTROLLER_NAME).toBe('reflectormesh');
    for (const [result, value] of [['requeue_after', 1], ['success', 0], ['error', 0], ['requeue', 0]] as const) {
      expect(sampleValue(f, 'controller_runtime_reconcile_total', { ...controller, result }), result).toBe(value);
    }
    expect(sampleValue(f, 'controller_runtime_reconcile_errors_total', controller)).toBe(0);
    expect(sampleValue(f, 'controller_runtime_reconcile_time_seconds_count', controller)).toBe(1);
    expect(sampleValue(f, 'controller_runtime_max_concurrent_reconciles', controller)).toBe(3);
    expect(sampleValue(f, 'controller_runtime_active_workers', controller)).toBe(0);
    for (const name of ['workqueue_depth', 'workqueue_adds_total', 'workqueue_retries_total', 'workqueue_unfinished_work_seconds', 'workqueue_longest_running_processor_seconds']) {
      expect(() => sampleValue(f, name, queue), name).not.toThrow();
    }
    for (const name of ['workqueue_queue_duration_seconds', 'workqueue_work_duration_seconds', 'rest_client_request_duration_seconds', 'controller_runtime_reconcile_time_seconds']) {
      expect(f.get(name)?.type, name).toBe('histogram');
    }
    for (const name of ['rest_client_requests_total', 'leader_election_master_status']) expect(f.has(name), name).toBe(true);
    // Replaced by the standard names: no number twice.
    for (const gone of ['rmesh_operator_reconciles_total', 'rmesh_operator_reconcile_duration_seconds', 'rmesh_operator_queue_depth']) expect(f.has(gone), gone).toBe(false);
  });

  it('a failing pass (the API refuses a pod) moves reconcile_errors_total and result="error"', async () => {
    const metrics = new OperatorMetrics();
    const c = setup({ replicas: 2 }, { metrics });
    c.kube.failCreates = 1;
    await expect(c.pass()).rejects.toThrow(/admission webhook said no/);
    const f = await scrape(metrics);
    expect(sampleValue(f, 'controller_runtime_reconcile_errors_total', controller)).toBe(1);
    expect(sampleValue(f, 'controller_runtime_reconcile_total', { ...controller, result: 'error' })).toBe(1);
    expect(sampleValue(f, 'controller_runtime_reconcile_total', { ...controller, result: 'requeue_after' })).toBe(0);
    expect(sampleValue(f, 'controller_runtime_reconcile_time_seconds_count', controller)).toBe(1);
  });

  it('uses controller-runtime\'s buckets (reconcile time 5 ms..60 s, 40 of them; work queue 10 ns..1000 s, 12)', async () => {
    const metrics = new OperatorMetrics();
    metrics.controller.init('reflectormesh', 1);
    metrics.controller.reconciled('reflectormesh', 'success', 0.001);
    metrics.workQueue.of('reflectormesh', { depth: () => 0, processingSeconds: () => [] }).started(0.5);
    const f = await scrape(metrics);
    const les = (family: string) => f.get(family)!.samples.filter((s) => s.name === `${family}_bucket`).map((s) => s.labels.le);
    const reconcile = les('controller_runtime_reconcile_time_seconds');
    expect(reconcile).toHaveLength(41);
    expect([reconcile[0], reconcile[39], reconcile[40]]).toEqual(['0.005', '60', '+Inf']);
    expect(les('workqueue_queue_duration_seconds').map((le) => (le === '+Inf' ? Infinity : Number(le)))).toEqual([1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1, 10, 100, 1000, Infinity]);
  });
});

describe('work queue metrics, counted as client-go counts them', () => {
  it('adds, depth, waits, work, retries and work in progress', async () => {
    let now = 1_000_000;
    const metrics = new OperatorMetrics();
    const q = new WorkQueue({ now: () => now });
    q.instrument(metrics.workQueue.of('reflectormesh', q));
    const value = async (name: string) => sampleValue(await scrape(metrics), name, queue);

    q.add('media/a');
    q.add('media/a'); // already waiting: not an add
    q.add('media/b');
    expect(await value('workqueue_adds_total')).toBe(2);
    expect(await value('workqueue_depth')).toBe(2);

    now += 2000;
    expect(await q.get()).toBe('media/a');
    expect(await value('workqueue_depth')).toBe(1);
    q.add('media/a'); // while processed: an add, waiting again
    expect(await value('workqueue_adds_total')).toBe(3);
    expect(await value('workqueue_depth')).toBe(2);
    now += 3000;
    expect(await value('workqueue_longest_running_processor_seconds')).toBe(3);
    expect(await value('workqueue_unfinished_work_seconds')).toBe(3);
    q.done('media/a');
    expect(await value('workqueue_longest_running_processor_seconds')).toBe(0);

    const f = await scrape(metrics);
    // media/a waited 2 s; its work took 3 s.
    expect(sampleValue(f, 'workqueue_queue_duration_seconds_sum', queue)).toBe(2);
    expect(sampleValue(f, 'workqueue_work_duration_seconds_sum', queue)).toBe(3);

    q.addAfter('media/c', 60_000);
    q.addRateLimited('media/d');
    expect(await value('workqueue_retries_total')).toBe(2);
    q.shutDown();
  });
});
