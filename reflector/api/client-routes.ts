// Routes for clients (docs/protocol.md §3.1): join through any reflector, the session's event stream,
// leave. Session routes authenticate with the session key as the bearer token.
import { Type } from 'typebox';
import type { ApiServer } from './server.js';
import { ErrorBody, JoinRequest, JoinResponse, SessionParams } from './schemas.js';
import type { Reflector } from '../reflector.js';

export function registerClientRoutes(app: ApiServer, reflector: Reflector): void {

  app.post(
    '/v1/join',
    {
      schema: {
        tags: ['clients'],
        summary: 'Join the mesh; the mesh picks the reflector with the fewest clients',
        body: JoinRequest,
        response: { 201: JoinResponse, 400: ErrorBody, 503: ErrorBody },
      },
    },
    async (request, reply) => {
      const answer = await reflector.join(request.body);
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
