// The control API's HTTP server: fastify with TypeBox schemas, an OpenAPI 3 document at
// GET /openapi.json, JSON errors for everything (validation, bad JSON, unknown routes), and the three
// route groups by audience: clients, peers, admin.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import { ApiError, errorBody } from './errors.js';
import { registerClientRoutes } from './client-routes.js';
import { registerPeerRoutes } from './peer-routes.js';
import { registerAdminRoutes } from './admin-routes.js';
import { bodyTooLarge, installRateLimit, SERVER_TIMEOUTS } from './request-limits.js';
import type { Reflector } from '../reflector.js';

export type ApiServer = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

/** Body limit of the admin and peer routes (a peer list of a thousand reflectors fits). */
export const BODY_LIMIT = 1024 * 1024;
/** Body limit of the client routes, which anyone who reaches the port may call: a join is a few hundred bytes. */
export const CLIENT_BODY_LIMIT = 16 * 1024;

export async function buildServer(reflector: Reflector, log: Logger): Promise<ApiServer> {
  const app = Fastify({
    loggerInstance: log,
    // Keep-alives and event streams would flood the log; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // Slow or broken clients cannot hold sockets: whole request within 10 s, idle sockets closed.
    ...SERVER_TIMEOUTS,
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as ApiServer;

  // The client routes take small bodies only (checked against Content-Length before reading).
  app.addHook('onRoute', (route) => {
    const tags = (route.schema as { tags?: string[] } | undefined)?.tags ?? [];
    if (route.bodyLimit === undefined && tags.includes('clients')) route.bodyLimit = CLIENT_BODY_LIMIT;
  });
  // Per-source request rate, before any body is read, on what the public calls: the client routes and
  // paths that match no route (scanners). The admin and peer routes are the operator's and the peers'
  // (guarded by the admin token; never throttled), health and metrics the kubelet's and Prometheus's.
  const adminToken = reflector.config.adminToken;
  installRateLimit(app, {
    rate: reflector.config.apiRateLimit,
    exempt: (request) => {
      const tags = (request.routeOptions.schema as { tags?: string[] } | undefined)?.tags;
      if (!request.is404 && !(tags ?? []).includes('clients')) return true;
      if (adminToken === undefined) return false;
      try {
        reflector.authorizeAdmin(request.headers.authorization);
        return true;
      } catch {
        return false;
      }
    },
    onLimited: (request, key) => {
      reflector.requestRateLimited();
      request.log.debug({ from: key, url: request.url }, 'request rate limited');
    },
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'reflector-mesh control API',
        version: '1',
        description: 'Control API of one rmesh reflector (docs/protocol.md §3): clients, peers and admin.',
      },
      tags: [
        { name: 'clients', description: 'join, session events, leave' },
        { name: 'peers', description: 'reflector to reflector (admin token)' },
        { name: 'admin', description: 'the operator: status, peers, migrate, drain (admin token)' },
        { name: 'health', description: 'health, readiness and metrics' },
      ],
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });

  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    if (error instanceof ApiError) return reply.code(error.statusCode).send(error.body());
    const tooLarge = bodyTooLarge(error, request);
    if (tooLarge) return reply.code(413).send(tooLarge);
    if (error.validation) {
      return reply.code(400).send(errorBody(400, 'RMESH_BAD_REQUEST', `invalid request: ${error.message}; see GET /openapi.json`));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send(errorBody(status, error.code ?? 'RMESH_BAD_REQUEST', `bad request: ${error.message}`));
    }
    request.log.error({ err: error, url: request.url }, 'request failed');
    return reply.code(500).send(errorBody(500, 'RMESH_INTERNAL', 'internal error; see the reflector log'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody(404, 'RMESH_NOT_FOUND', `no route ${request.method} ${request.url}; GET /openapi.json lists the API`)),
  );

  registerClientRoutes(app, reflector);
  registerPeerRoutes(app, reflector);
  registerAdminRoutes(app, reflector);
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  await app.ready();
  return app;
}
