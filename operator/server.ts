// The operator's HTTP endpoints for the kubelet and Prometheus: /healthz (the process serves),
// /readyz (caches synced when leading, or a healthy standby), /metrics.
import Fastify, { type FastifyInstance } from 'fastify';
import type { OperatorMetrics } from './metrics.js';

export interface ServerOptions {
  host: string;
  port: number;
  metrics: OperatorMetrics;
  /** Undefined when ready; otherwise why not. */
  notReady: () => string | undefined;
}

export async function startServer(o: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  app.get('/healthz', (_request, reply) => reply.send({ status: 'ok' }));
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
