// Routes for clients (docs/protocol.md §3.1): join through any reflector, the session's event stream,
// leave. A join authenticates with a client token as the bearer token (in a keyed mesh), session
// routes with the session key.
import { Type } from 'typebox';
import type { FastifyRequest } from 'fastify';
import type { ApiServer } from './server.js';
import { ApiError, SESSION_LIMIT_CODE } from './errors.js';
import { ErrorBody, JoinRequest, JoinResponse, SessionParams } from './schemas.js';
import type { Reflector } from '../reflector.js';
import type { ClientTokenClaims } from '../security/client-token.js';
import { JOIN_CHALLENGE, JoinAuthorizer, bearerToken } from '../security/join-authorization.js';
import { tokenSubject } from '../session-caps.js';
import { sourceKey } from './request-limits.js';

export function registerClientRoutes(app: ApiServer, reflector: Reflector): void {
  const authorizer = new JoinAuthorizer(reflector.config.meshKey, {
    mesh: reflector.config.meshName,
    maxTokenLifetimeSeconds: reflector.config.maxTokenLifetimeSeconds,
  });
  /** The verified claims of each join request, from its onRequest hook to its handler. */
  const claimsOf = new WeakMap<FastifyRequest, ClientTokenClaims>();

  app.post(
    '/v1/join',
    {
      schema: {
        tags: ['clients'],
        summary: 'Join the mesh; the mesh picks the reflector with the fewest clients',
        description:
          'In a keyed mesh the bearer token is a client token (rmt1.…, minted with `rmesh token`); an open mesh needs none. ' +
          'The role asked for must be one the token allows; without a role the token\'s role is used.',
        body: JoinRequest,
        security: [{ bearer: [] }],
        response: { 201: JoinResponse, 400: ErrorBody, 401: ErrorBody, 403: ErrorBody, 429: ErrorBody, 503: ErrorBody },
      },
      // Before the body is read: a caller without a valid token costs no parsing.
      onRequest: async (request, reply) => {
        try {
          const claims = authorizer.authenticate(request.headers.authorization);
          if (claims) claimsOf.set(request, claims);
        } catch (err) {
          if (err instanceof ApiError && err.statusCode === 401) {
            reflector.joinRefused('unauthorized');
            void reply.header('www-authenticate', JOIN_CHALLENGE);
            request.log.info({ code: err.code, reason: err.message, from: request.ip }, 'join refused: client token');
          }
          throw err;
        }
      },
    },
    async (request, reply) => {
      const claims = claimsOf.get(request);
      let role;
      try {
        role = authorizer.role(claims, request.body.role);
      } catch (err) {
        reflector.joinRefused('forbidden');
        request.log.info({ subject: claims?.sub, jti: claims?.jti, asked: request.body.role, allowed: claims?.role }, 'join refused: role not allowed by the token');
        throw err;
      }
      const name = request.body.name ?? claims?.sub;
      const owner = {
        ...(claims ? { subject: tokenSubject(claims, bearerToken(request.headers.authorization) ?? '') } : {}),
        source: sourceKey(request.ip),
      };
      let answer;
      try {
        answer = await reflector.join({ role, ...(name !== undefined ? { name } : {}) }, owner);
      } catch (err) {
        if (err instanceof ApiError && err.code === SESSION_LIMIT_CODE) request.log.info({ ...owner, jti: claims?.jti, reason: err.message }, 'join refused: session cap');
        throw err;
      }
      if (claims) request.log.info({ client: answer.clientId, subject: claims.sub, jti: claims.jti, role, tokenExpires: claims.exp }, 'client token accepted');
      return reply.code(201).send(answer);
    },
  );

  app.get(
    '/v1/sessions/:clientId/events',
    {
      schema: {
        tags: ['clients'],
        summary: 'Server-Sent Events: reflectors, migrate, bye; ": ping" every second',
        params: SessionParams,
        security: [{ bearer: [] }],
        response: { 200: Type.String({ description: 'text/event-stream' }), 401: ErrorBody, 404: ErrorBody },
      },
    },
    (request, reply) => {
      const session = reflector.authorizeSession(request.params.clientId, request.headers.authorization);
      reply.hijack();
      request.raw.socket.setTimeout(0);
      session.events.attach(reply.raw, [['reflectors', { reflectors: reflector.reflectorList() }]]);
    },
  );

  app.post(
    '/v1/sessions/:clientId/leave',
    {
      schema: {
        tags: ['clients'],
        summary: 'End the session now',
        params: SessionParams,
        security: [{ bearer: [] }],
        response: { 204: Type.Null(), 401: ErrorBody, 404: ErrorBody },
      },
    },
    (request, reply) => {
      reflector.leave(reflector.authorizeSession(request.params.clientId, request.headers.authorization));
      void reply.code(204).send(null);
    },
  );
}
