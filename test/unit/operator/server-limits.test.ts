// The operator's HTTP endpoints under abuse, on a real server: a source that polls too fast gets 429
// with Retry-After, and the server timeouts are set. (Its routes are GET only: no body is ever read.)
import { afterEach, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { OperatorMetrics } from '../../../operator/metrics.js';
import { OPERATOR_RATE_LIMIT, startServer } from '../../../operator/server.js';
import { SERVER_TIMEOUTS } from '../../../reflector/api/request-limits.js';

let server: FastifyInstance | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('operator server limits', () => {
  it('answers 429 with Retry-After to a source past its burst, over real HTTP', async () => {
    server = await startServer({ host: '127.0.9.5', port: 50510, metrics: new OperatorMetrics(), notReady: () => undefined, rateLimit: { perSecond: 1, burst: 5 } });
    const statuses: number[] = [];
    let limited: Response | undefined;
    for (let i = 0; i < 8; i++) {
      const r = await fetch('http://127.0.9.5:50510/healthz');
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
    server = await startServer({ host: '127.0.9.5', port: 50511, metrics: new OperatorMetrics(), notReady: () => undefined });
    expect(server.server.requestTimeout).toBe(SERVER_TIMEOUTS.requestTimeout);
    expect(server.server.keepAliveTimeout).toBe(SERVER_TIMEOUTS.keepAliveTimeout);
    expect(server.server.timeout).toBe(SERVER_TIMEOUTS.connectionTimeout);
    expect(OPERATOR_RATE_LIMIT.perSecond).toBeGreaterThan(0);
  });
});
