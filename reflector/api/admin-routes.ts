// Routes for the operator (docs/protocol.md §3.3): status, the peer list, migrate one client, drain,
// and the unauthenticated health, readiness and metrics endpoints.
import { Type } from 'typebox';
import type { ApiServer } from './server.js';
import { DrainRequest, DrainResponse, ErrorBody, MigrateRequest, MigrateResponse, PeerList, SessionParams, StatusResponse } from './schemas.js';
import type { Reflector } from '../reflector.js';

export function registerAdminRoutes(app: ApiServer, reflector: Reflector): void {
  const admin = { tags: ['admin'], security: [{ bearer: [] }] };
  const guard = (request: { headers: { authorization?: string } }, _reply: unknown, done: (err?: Error) => void): void => {
    try {
      reflector.authorizeAdmin(request.headers.authorization);
      done();
    } catch (err) {
      done(err as Error);
    }
  };

  app.get('/v1/status', { onRequest: guard, schema: { ...admin, summary: 'Clients, peers and counters', response: { 200: StatusResponse, 401: ErrorBody } } }, () => reflector.status(),
  );

  app.get('/v1/peers', { onRequest: guard, schema: { ...admin, summary: 'The peer list', response: { 200: PeerList, 401: ErrorBody } } }, () => ({
    peers: reflector.peers.infos(),
  }));

  app.put(
    '/v1/peers',
    { onRequest: guard, schema: { ...admin, summary: 'Replace the whole peer list', body: PeerList, response: { 200: PeerList, 400: ErrorBody, 401: ErrorBody } } },
    (request) => {
      reflector.peers.replace(request.body.peers);
      return { peers: reflector.peers.infos() };
    },
  );

  app.post(
    '/v1/clients/:clientId/migrate',
    {
      onRequest: guard,
      schema: {
        ...admin,
        summary: 'Move one client to a peer, make before break; returns when done',
        params: SessionParams,
        body: MigrateRequest,
        response: { 200: MigrateResponse, 404: ErrorBody, 409: ErrorBody, 502: ErrorBody, 503: ErrorBody, 504: ErrorBody },
      },
    },
    (request) => reflector.migrate(request.params.clientId, request.body.to),
  );

  app.post(
    '/v1/drain',
    {
      onRequest: guard,
      schema: { ...admin, summary: 'Stop admitting and move every client to the peers', body: Type.Optional(DrainRequest), response: { 202: DrainResponse, 401: ErrorBody } },
    },
    (request, reply) => {
      void reply.code(202).send({ clients: reflector.drain(request.body?.exclude ?? []) });
    },
  );

  const health = { tags: ['health'] };
  app.get('/healthz', { schema: { ...health, summary: '200 while the process serves', response: { 200: Type.Object({ status: Type.String() }) } } }, () => ({
    status: 'ok',
  }));
  app.get(
    '/readyz',
    { schema: { ...health, summary: '200 when bound and admitting clients; 503 while draining', response: { 200: Type.Object({ status: Type.String() }), 503: Type.Object({ status: Type.String() }) } } },
    (_request, reply) => {
      const r = reflector.readiness();
      void reply.code(r.ready ? 200 : 503).send({ status: r.reason });
    },
  );
  app.get('/metrics', { schema: { ...health, summary: 'Prometheus metrics', response: { 200: Type.String() } } }, async (_request, reply) =>
    reply.type(reflector.metricsContentType).send(await reflector.metricsText()),
  );
}
