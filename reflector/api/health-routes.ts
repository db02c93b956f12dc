// The unauthenticated endpoints of the kubelet and Prometheus: health, readiness and metrics.
import { Type } from 'typebox';
import type { ApiServer } from './server.js';

/** What the health routes ask of the reflector. */
export interface HealthOperations {
  readiness(): { ready: boolean; reason: string };
  metricsText(): Promise<string>;
  readonly metricsContentType: string;
}

export function healthRoutes(app: ApiServer, { operations }: { operations: HealthOperations }, done: (err?: Error) => void): void {
  const health = { tags: ['health'] };
  const status = Type.Object({ status: Type.String() });
  app.get('/healthz', { schema: { ...health, summary: '200 while the process serves', response: { 200: status } } }, () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { ...health, summary: '200 when bound and admitting clients; 503 while draining', response: { 200: status, 503: status } } }, (_request, reply) => {
    const r = operations.readiness();
    void reply.code(r.ready ? 200 : 503).send({ status: r.reason });
  });
  app.get(
    '/metrics',
    {
      schema: {
        ...health,
        summary: 'Prometheus metrics (text exposition format)',
        response: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: Type.String() } } } },
      },
    },
    async (_request, reply) => reply.type(operations.metricsContentType).send(await operations.metricsText()),
  );
  done();
}
