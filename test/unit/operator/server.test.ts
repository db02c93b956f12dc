// The operator's health and metrics endpoints: what the kubelet probes and Prometheus scrapes.
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { describeError } from '../../../operator/errors.js';
import { OperatorMetrics } from '../../../operator/metrics.js';
import { startServer } from '../../../operator/server.js';

let server: FastifyInstance | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('operator server', () => {
  it('serves /healthz, /readyz with the reason when not ready, and /metrics', async () => {
    const metrics = new OperatorMetrics();
    let why: string | undefined = 'caches not synced';
    server = await startServer({ host: '127.0.2.1', port: 25900, metrics, notReady: () => why });
    const base = 'http://127.0.2.1:25900';
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not ready', reason: 'caches not synced' });
    why = undefined;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    metrics.reconciles.inc({ result: 'success' });
    metrics.queueDepth.set(3);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('rmesh_operator_reconciles_total{result="success"} 1');
    expect(text).toContain('rmesh_operator_queue_depth 3');
    expect(text).toContain('# TYPE rmesh_operator_reconcile_duration_seconds histogram');
  });
});

describe('/healthz', () => {
  it('answers 503 with the reason while the operator is unhealthy (a stale Lease, a stuck worker), 200 again after', async () => {
    let why: string | undefined = 'the pass over mesh media/conf has run for 301 s (limit 300 s)';
    server = await startServer({ host: '127.0.2.1', port: 25901, metrics: new OperatorMetrics(), notReady: () => undefined, unhealthy: () => why });
    const sick = await fetch('http://127.0.2.1:25901/healthz');
    expect(sick.status).toBe(503);
    expect(await sick.json()).toEqual({ status: 'unhealthy', reason: why });
    why = undefined;
    expect((await fetch('http://127.0.2.1:25901/healthz')).status).toBe(200);
  });
});

describe('describeError', () => {
  it('keeps the API server\'s message of a client-node error, not its headers', () => {
    const err = Object.assign(new Error('HTTP-Code: 403\nMessage: Unknown API Status Code!\nBody: ...\nHeaders: {...}'), {
      code: 403,
      body: JSON.stringify({ kind: 'Status', message: 'pods is forbidden: User "x" cannot create resource "pods"', code: 403 }),
    });
    expect(describeError(err)).toBe('HTTP 403: pods is forbidden: User "x" cannot create resource "pods"');
    expect(describeError(new Error('socket hang up'))).toBe('socket hang up');
  });
});
