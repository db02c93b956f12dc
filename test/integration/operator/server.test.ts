// The operator's HTTP endpoints on a real server (port 0: the OS chooses): what the kubelet probes and
// Prometheus scrapes; under abuse, a source that polls too fast gets 429 with Retry-After, and the
// server timeouts are set. (Its routes are GET only: no body is ever read.)
import { afterEach, describe, expect, it } from 'vitest';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { OperatorMetrics } from '../../../operator/metrics.js';
import { OPERATOR_RATE_LIMIT, startServer } from '../../../operator/server.js';
import { SERVER_TIMEOUTS } from '../../../protocol/http-limits.js';

let server: FastifyInstance | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The base URL of the server just started. */
function baseOf(s: FastifyInstance): string {
  const { address, port } = s.server.address() as AddressInfo;
  return `http://${address}:${port}`;
}

describe('operator server', () => {
  it('serves /healthz, /readyz with the reason when not ready, and /metrics', async () => {
    const metrics = new OperatorMetrics();
    let why: string | undefined = 'caches not synced';
    server = await startServer({ host: '127.0.0.1', port: 0, metrics, notReady: () => why });
    const base = baseOf(server);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const notReady = await fetch(`${base}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not ready', reason: 'caches not synced' });
    why = undefined;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    metrics.controller.init('reflectormesh', 2);
    metrics.controller.reconciled('reflectormesh', 'requeue_after', 0.02);
    metrics.workQueue.of('reflectormesh', { depth: () => 3, processingSeconds: () => [] });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain('controller_runtime_reconcile_total{controller="reflectormesh",result="requeue_after"} 1');
    expect(text).toContain('workqueue_depth{name="reflectormesh",controller="reflectormesh"} 3');
    expect(text).toContain('# TYPE controller_runtime_reconcile_time_seconds histogram');
  });
});

describe('/healthz', () => {
  it('answers 503 with the reason while the operator is unhealthy (a stale Lease, a stuck worker), 200 again after', async () => {
    let why: string | undefined = 'the pass over mesh media/conf has run for 301 s (limit 300 s)';
    server = await startServer({ host: '127.0.0.1', port: 0, metrics: new OperatorMetrics(), notReady: () => undefined, unhealthy: () => why });
    const base = baseOf(server);
    const sick = await fetch(`${base}/healthz`);
    expect(sick.status).toBe(503);
    expect(await sick.json()).toEqual({ status: 'unhealthy', reason: why });
    why = undefined;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});

describe('operator server limits', () => {
  it('answers 429 with Retry-After to a source past its burst, over real HTTP', async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, metrics: new OperatorMetrics(), notReady: () => undefined, rateLimit: { perSecond: 1, burst: 5 } });
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 8; i++) {
      const r = await fetch(`${baseOf(server)}/healthz`);
      statuses.push(r.status);
      if (r.status === 429) limited = r;
      else await r.arrayBuffer();
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(6)).toEqual([429, 429]);
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited!.json()).toMatchObject({ statusCode: 429, code: 'RMESH_RATE_LIMITED' });
  });

  it('sets the timeouts that close slow and idle connections, and has a default rate limit', async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, metrics: new OperatorMetrics(), notReady: () => undefined });
    expect(server.server.requestTimeout).toBe(SERVER_TIMEOUTS.requestTimeout);
    expect(server.server.keepAliveTimeout).toBe(SERVER_TIMEOUTS.keepAliveTimeout);
    expect(server.server.timeout).toBe(SERVER_TIMEOUTS.connectionTimeout);
    expect(OPERATOR_RATE_LIMIT.perSecond).toBeGreaterThan(0);
  });
});
