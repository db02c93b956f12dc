// The operator's HTTP endpoints for the kubelet and Prometheus: /healthz (the process serves, its Lease
// is fresh when leading, no worker is stuck; the kubelet restarts it otherwise),
// /readyz (caches synced when leading, or a healthy standby), /metrics. GET only, so bodies are refused
// beyond a few bytes; requests are limited per source address and slow connections closed
// (docs/security.md "Limits"), since the port is reachable from the pod network.
import Fastify, { type FastifyInstance } from 'fastify';
import type { OperatorMetrics } from './metrics.js';
import { ERROR_CODES, errorBody } from '../protocol/errors.js';
import { bodyTooLarge, installRateLimit, SERVER_TIMEOUTS, type RequestRateLimit } from '../protocol/http-limits.js';

/** Probes every few seconds and a scrape every 15-30 s need far less; a runaway loop or a scan gets 429. */
export const OPERATOR_RATE_LIMIT: RequestRateLimit = { perSecond: 50, burst: 100 };

export interface ServerOptions {
  host: string;
  port: number;
  metrics: OperatorMetrics;
  /** Undefined when ready; otherwise why not. */
  notReady: () => string | undefined;
  /** Undefined when healthy; otherwise why not (a stale Lease, a stuck worker): /healthz answers 503. */
  unhealthy?: () => string | undefined;
  /** Requests per source address (default OPERATOR_RATE_LIMIT; perSecond 0 = no limit). */
  rateLimit?: RequestRateLimit;
}

export async function startServer(o: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false, bodyLimit: 1024, ...SERVER_TIMEOUTS });
  installRateLimit(app, { rate: o.rateLimit ?? OPERATOR_RATE_LIMIT });
  app.setErrorHandler((error: { code?: string; statusCode?: number; message: string }, request, reply) => {
    const tooLarge = bodyTooLarge(error, request);
    if (tooLarge) return reply.code(413).send(tooLarge);
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    return reply.code(status).send(errorBody(status, error.code ?? ERROR_CODES.ERROR, error.message));
  });
  app.get('/healthz', (_request, reply) => {
    const why = o.unhealthy?.();
    if (why) return reply.code(503).send({ status: 'unhealthy', reason: why });
    return reply.send({ status: 'ok' });
  });
  app.get('/readyz', async (_request, reply) => {
    const why = o.notReady();
    if (why) return reply.code(503).send({ status: 'not ready', reason: why });
    return { status: 'ready' };
  });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', o.metrics.registry.contentType);
    return o.metrics.registry.metrics();
  });
  await app.listen({ host: o.host, port: o.port });
  return app;
}
