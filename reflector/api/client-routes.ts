// Routes for clients (docs/protocol.md §3.1): join through any reflector, the session's event stream,
// leave. A join authenticates with a client token as the bearer token (in a keyed mesh), session
// routes with the session key. One fastify plugin, registered under /v1: its hooks (the per-source
// request rate limit) and its small body limit apply to these routes only.
import { Type } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiServer } from './server.js';
import { ApiError, ERROR_CODES, SESSION_LIMIT_CODE } from '../../protocol/errors.js';
import { rateLimitHook, sourceKey, type RequestLimitOptions, type SourceLimiter } from '../../protocol/http-limits.js';
import { errorResponses, JoinRequest, JoinResponse, SessionParams, type ReflectorInfo } from '../../protocol/api-schemas.js';
import type { Session } from '../sessions.js';
import type { ClientTokenClaims } from '../../protocol/security/client-token.js';
import { bearerToken, JOIN_CHALLENGE, JoinAuthorizer, type ClientTokenKeys, type JoinAuthorizerOptions } from '../security/join-authorization.js';
import { tokenSubject, type SessionOwner } from '../session-caps.js';

/** Body limit of the client routes, which anyone who reaches the port may call: a join is a few hundred bytes. */
export const CLIENT_BODY_LIMIT = 16 * 1024;
/** Event streams one session may hold open at once (a client reconnecting briefly holds two). */
export const MAX_EVENT_STREAMS_PER_SESSION = 4;

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified client token of a join, from its onRequest hook to its handler. */
    joinClaims: ClientTokenClaims | null;
  }
}

/** What the client routes ask of the reflector. */
export interface ClientOperations {
  join(request: JoinRequest, owner: SessionOwner): Promise<JoinResponse>;
  joinRefused(result: 'unauthorized' | 'forbidden'): void;
  authorizeSession(clientIdText: string, authorization: string | undefined): Session;
  reflectorList(): ReflectorInfo[];
  leave(session: Session): void;
}

export interface ClientRoutesOptions {
  operations: ClientOperations;
  /** The keys client tokens verify with: the reflector's live mesh keys (or one fixed key, or none). */
  meshKey: ClientTokenKeys;
  /** The mesh name and longest token lifetime a token must fit (--mesh-name, --max-token-lifetime). */
  tokens?: JoinAuthorizerOptions;
  /** The per-source request limit (shared with the paths that match no route); undefined = none. */
  limiter?: SourceLimiter | undefined;
  limit?: Omit<RequestLimitOptions, 'rate'>;
}

export const CLIENT_PREFIX = '/v1';

export function clientRoutes(app: ApiServer, { operations, meshKey, tokens, limiter, limit }: ClientRoutesOptions, done: (err?: Error) => void): void {
  const authorizer = new JoinAuthorizer(meshKey, tokens);
  // The join's verified claims travel from its onRequest hook to its handler on the request itself.
  if (!app.hasRequestDecorator('joinClaims')) app.decorateRequest('joinClaims', null);
  // Per-source request rate, before any body is read: anyone may call these routes.
  if (limiter) app.addHook('onRequest', rateLimitHook(limiter, limit));
  const bodyLimit = CLIENT_BODY_LIMIT;

  app.post(
    '/join',
    {
      bodyLimit,
      schema: {
        tags: ['clients'],
        summary: 'Join the mesh; the mesh picks the reflector with the fewest clients',
        description:
          'In a keyed mesh the bearer token is a client token (rmt1.…, minted with `rmesh token`); an open mesh needs none. ' +
          'The role asked for must be one the token allows; without a role the token\'s role is used.',
        body: JoinRequest,
        security: [{ bearer: [] }],
        response: { 201: JoinResponse, ...errorResponses(400, 401, 403, 413, 429, 503) },
      },
      // Before the body is read: a caller without a valid token costs no parsing.
      onRequest: joinTokenHook(authorizer, operations),
    },
    async (request, reply) => {
      const claims = request.joinClaims ?? undefined;
      let role;
      try {
        role = authorizer.role(claims, request.body.role);
      } catch (err) {
        operations.joinRefused('forbidden');
        request.log.info({ subject: claims?.sub, jti: claims?.jti, asked: request.body.role, allowed: claims?.role }, 'join refused: role not allowed by the token');
        throw err;
      }
      const name = request.body.name ?? claims?.sub;
      const origin = request.body.origin;
      const owner: SessionOwner = {
        ...(claims ? { subject: tokenSubject(claims, bearerToken(request.headers.authorization) ?? '') } : {}),
        source: sourceKey(request.ip),
      };
      let answer;
      try {
        answer = await operations.join({ role, ...(name !== undefined ? { name } : {}), ...(origin !== undefined ? { origin } : {}) }, owner);
      } catch (err) {
        if (err instanceof ApiError && err.code === SESSION_LIMIT_CODE) request.log.info({ ...owner, jti: claims?.jti, reason: err.message }, 'join refused: session cap');
        throw err;
      }
      if (claims) request.log.info({ client: answer.clientId, subject: claims.sub, jti: claims.jti, role, tokenExpires: claims.exp }, 'client token accepted');
      return reply.code(201).send(answer);
    },
  );

  app.get(
    '/sessions/:clientId/events',
    {
      schema: {
        tags: ['clients'],
        summary: `Server-Sent Events: reflectors, migrate, bye; ": ping" every second; at most ${MAX_EVENT_STREAMS_PER_SESSION} streams per session`,
        params: SessionParams,
        security: [{ bearer: [] }],
        response: { 200: Type.String({ description: 'text/event-stream' }), ...errorResponses(400, 401, 404, 429) },
      },
    },
    (request, reply) => {
      const session = operations.authorizeSession(request.params.clientId, request.headers.authorization);
      if (session.events.connected >= MAX_EVENT_STREAMS_PER_SESSION) throw tooManyStreams(request, session);
      reply.hijack();
      request.raw.socket.setTimeout(0);
      session.events.attach(reply.raw, [['reflectors', { reflectors: operations.reflectorList() }]]);
    },
  );

  app.post(
    '/sessions/:clientId/leave',
    {
      bodyLimit,
      schema: {
        tags: ['clients'],
        summary: 'End the session now',
        params: SessionParams,
        security: [{ bearer: [] }],
        response: { 204: Type.Null(), ...errorResponses(400, 401, 404, 413, 429) },
      },
    },
    (request, reply) => {
      operations.leave(operations.authorizeSession(request.params.clientId, request.headers.authorization));
      void reply.code(204).send(null);
    },
  );
  done();
}

/** The join's onRequest hook: checks the bearer token and keeps its claims on the request for the handler. */
function joinTokenHook(authorizer: JoinAuthorizer, operations: ClientRoutesOptions['operations']) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    try {
      request.joinClaims = authorizer.authenticate(request.headers.authorization) ?? null;
    } catch (err) {
      if (err instanceof ApiError && err.statusCode === 401) {
        operations.joinRefused('unauthorized');
        void reply.header('www-authenticate', JOIN_CHALLENGE);
        request.log.info({ code: err.code, reason: err.message, from: request.ip }, 'join refused: client token');
      }
      throw err;
    }
  };
}

function tooManyStreams(request: FastifyRequest, session: Session): ApiError {
  request.log.info({ client: session.idText, from: request.ip, streams: session.events.connected }, 'event stream refused: too many for the session');
  return new ApiError(
    429,
    ERROR_CODES.TOO_MANY_STREAMS,
    `client ${session.idText} already has ${session.events.connected} event streams open (at most ${MAX_EVENT_STREAMS_PER_SESSION}); close one before opening another`,
  );
}
