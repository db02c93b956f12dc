// The control API's HTTP server: fastify with TypeBox schemas, an OpenAPI 3 document at
// GET /openapi.json, JSON errors for everything (validation, bad JSON, unknown routes, 405 for a known
// path with another method), and one plugin per audience, each under its own prefix with its own
// encapsulated hooks: clients (rate limited), peers and admin (the control guard), health.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Logger } from 'pino';
import { ApiError, ERROR_CODES, errorBody } from '../../protocol/errors.js';
import { CLIENT_PREFIX, clientRoutes, type ClientOperations } from './client-routes.js';
import { PEER_PREFIX, peerRoutes, type PeerOperations } from './peer-routes.js';
import { ADMIN_PREFIX, adminRoutes, type AdminOperations } from './admin-routes.js';
import { healthRoutes, type HealthOperations } from './health-routes.js';
import type { ControlGuardOptions } from './control-guard.js';
import { collectRoutes, methodNotAllowedRoutes } from './method-not-allowed.js';
import { bodyTooLarge, rateLimitHook, SERVER_TIMEOUTS, SourceLimiter } from '../../protocol/http-limits.js';
import { PeerRequestVerifier } from '../../protocol/security/peer-control.js';
import { bearerMatches } from '../security/bearer.js';
import type { ReflectorConfig } from '../config.js';
import type { MeshKeys } from '../mesh-keys.js';

export type ApiServer = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

/** Body limit of the admin and peer routes (a peer list of a thousand reflectors fits). */
export const BODY_LIMIT = 1024 * 1024;
export { CLIENT_BODY_LIMIT } from './client-routes.js';

/**
 * The router's path handling. Guards sit on their routes, so a lenient router opens nothing: every
 * spelling that reaches a route meets its guard. Decoding of %XX is always on (find-my-way).
 */
export const ROUTER_OPTIONS = { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, useSemicolonDelimiter: true } as const;

/**
 * What the server needs of the reflector: the operations of each audience's plugin, the settings of
 * the API, the live mesh keys (client tokens and peer signatures verify with them, per request), and
 * two counters. The Reflector is one; a test may give fakes (test/unit/reflector/api-plugins.test.ts).
 */
export interface ControlApi {
  readonly config: Pick<ReflectorConfig, 'maxApiConnections' | 'apiRateLimit' | 'adminToken' | 'openAdmin' | 'meshName' | 'maxTokenLifetimeSeconds'>;
  readonly meshKeys: Pick<MeshKeys, 'of'>;
  readonly clientOperations: ClientOperations;
  readonly peerOperations: PeerOperations;
  readonly adminOperations: AdminOperations;
  readonly health: HealthOperations;
  /** A control API request refused by the per-source rate limit. */
  requestRateLimited(): void;
  /** A peer or admin request refused by the control guard. */
  controlRequestRefused(): void;
}

export async function buildServer(reflector: ControlApi, log: Logger): Promise<ApiServer> {
  const config = reflector.config;
  const app = Fastify({
    loggerInstance: log,
    // Keep-alives and event streams would flood the log; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    routerOptions: ROUTER_OPTIONS,
    // Slow or broken clients cannot hold sockets: whole request within 10 s, idle sockets closed.
    ...SERVER_TIMEOUTS,
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as ApiServer;
  // Connections in total (event streams hold theirs); beyond, the kernel's accept is answered with a close.
  if (config.maxApiConnections > 0) app.server.maxConnections = config.maxApiConnections;

  // Per-source request rate, before any body is read, on what the public calls: the client routes and
  // paths that match no route (scanners). Admin and peer routes count their failed requests instead.
  const rate = config.apiRateLimit && config.apiRateLimit.perSecond > 0 ? config.apiRateLimit : undefined;
  const limiter = rate ? new SourceLimiter(rate) : undefined;
  const limit = {
    exempt: (request: { headers: { authorization?: string } }) => config.adminToken !== undefined && bearerMatches(request.headers.authorization, config.adminToken),
    onLimited: (request: { log: FastifyBaseLogger; url: string }, key: string) => {
      reflector.requestRateLimited();
      request.log.debug({ from: key, url: request.url }, 'request rate limited');
    },
  };
  if (limiter) app.addHook('onRequest', rateLimitHook(limiter, { ...limit, exempt: (request) => !request.is404 || limit.exempt(request) }));

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
        { name: 'peers', description: 'reflector to reflector (mesh-key signature, or the admin token)' },
        { name: 'admin', description: 'the operator: status, peers, migrate, drain (mesh-key signature, or the admin token)' },
        { name: 'health', description: 'health, readiness and metrics' },
      ],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          meshSignature: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'RMESH-HMAC ts=…,nonce=…,sig=… made with the mesh key (docs/protocol.md §3.2)' },
        },
      },
    },
  });

  app.setErrorHandler((error: FastifyError | ApiError, request, reply) => {
    if (error instanceof ApiError) return reply.code(error.statusCode).send(error.body());
    const tooLarge = bodyTooLarge(error, request);
    if (tooLarge) return reply.code(413).send(tooLarge);
    if (error.validation) {
      return reply.code(400).send(errorBody(400, ERROR_CODES.BAD_REQUEST, `invalid request: ${error.message}; see GET /openapi.json`));
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send(errorBody(status, error.code ?? ERROR_CODES.BAD_REQUEST, `bad request: ${error.message}`));
    }
    request.log.error({ err: error, url: request.url }, 'request failed');
    return reply.code(500).send(errorBody(500, ERROR_CODES.INTERNAL, 'internal error; see the reflector log'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody(404, ERROR_CODES.NOT_FOUND, `no route ${request.method} ${request.url}; GET /openapi.json lists the API`)),
  );

  const routes = collectRoutes(app);
  const guards = controlGuards(reflector, log);
  await app.register(clientRoutes, { prefix: CLIENT_PREFIX, operations: reflector.clientOperations, meshKey: reflector.meshKeys,
    tokens: { mesh: config.meshName, maxTokenLifetimeSeconds: config.maxTokenLifetimeSeconds },
    limiter,
    limit,
  });
  await app.register(peerRoutes, { prefix: PEER_PREFIX, operations: reflector.peerOperations, guard: guards.peer });
  await app.register(adminRoutes, { prefix: ADMIN_PREFIX, operations: reflector.adminOperations, guard: guards.admin });
  await app.register(healthRoutes, { operations: reflector.health });
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  await app.register(methodNotAllowedRoutes, { routes, onRequest: limiter ? rateLimitHook(limiter, limit) : undefined });
  await app.ready();
  return app;
}

/**
 * Who may call the peer and admin routes. A mesh with a key: requests signed with it (one verifier, so
 * one nonce memory for both), or the admin token when one is set; the admin routes open only with
 * --open-admin. An open mesh (or a key set that still accepts unsigned, on the way out of one): the
 * admin token when one is set, else open.
 */
function controlGuards(reflector: ControlApi, log: Logger): { peer: ControlGuardOptions; admin: ControlGuardOptions } {
  const { adminToken, openAdmin, apiRateLimit } = reflector.config;
  // The keys are read per request, so a rotation step (reflector/mesh-keys.ts) applies to the next one.
  const keys = reflector.meshKeys;
  const verifier = new PeerRequestVerifier(() => keys.of('peer-control').verify);
  const acceptUnsigned = () => keys.of('peer-control').acceptUnsigned;
  // Failed requests per source, at the rate the public API allows (its own buckets: a peer's requests
  // that succeed never wait on a neighbour's failures).
  const failures = apiRateLimit && apiRateLimit.perSecond > 0 ? new SourceLimiter(apiRateLimit) : undefined;
  const onRefused = (request: { url: string; ip: string; method: string }, problem: string) => {
    reflector.controlRequestRefused();
    log.warn({ method: request.method, url: request.url, from: request.ip, problem }, 'control request refused');
  };
  const peer: ControlGuardOptions = { audience: 'peer', verifier, acceptUnsigned, adminToken, failures, onRefused };
  if (openAdmin) {
    log.warn(
      { openAdmin: true },
      'THE ADMIN API IS OPEN (--open-admin): anyone who reaches the control port can replace the peer list, drain this reflector and migrate its clients; run it only on a trusted network',
    );
  }
  const admin: ControlGuardOptions = openAdmin ? { audience: 'admin' } : { ...peer, audience: 'admin' };
  return { peer, admin };
}
