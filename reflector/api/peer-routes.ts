// Routes for peer reflectors (docs/protocol.md §3.2): hello, keep-alive, admit, moved, offload, bye.
// They need the mesh's admin token when one is configured.
import { Type } from 'typebox';
import type { ApiServer } from './server.js';
import { AdmitRequest, AdmitResponse, ByeRequest, ErrorBody, HelloRequest, HelloResponse, MovedRequest, OffloadRequest, PeerKeepalive } from './schemas.js';
import type { Reflector } from '../reflector.js';

export function registerPeerRoutes(app: ApiServer, reflector: Reflector): void {
  const common = { tags: ['peers'], security: [{ bearer: [] }] };
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      if (request.url.startsWith('/v1/peers/')) reflector.authorizeAdmin(request.headers.authorization);
      done();
    } catch (err) {
      done(err as Error);
    }
  });

  app.post(
    '/v1/peers/hello',
    { schema: { ...common, summary: 'Add the sender as a peer; introduce it to the mesh if asked', body: HelloRequest, response: { 200: HelloResponse, 400: ErrorBody, 401: ErrorBody } } },
    (request) => reflector.hello(request.body),
  );

  app.post(
    '/v1/peers/keepalive',
    { schema: { ...common, summary: 'A peer is alive; carries its client count', body: PeerKeepalive, response: { 200: PeerKeepalive, 404: ErrorBody } } },
    (request) => reflector.peerKeepalive(request.body),
  );

  app.post(
    '/v1/peers/admit',
    {
      schema: {
        ...common,
        summary: 'Reserve a session for a client admitted elsewhere or migrating here',
        body: AdmitRequest,
        response: { 201: AdmitResponse, 409: ErrorBody, 503: ErrorBody },
      },
    },
    (request, reply) => {
      void reply.code(201).send(reflector.admit(request.body));
    },
  );

  app.post(
    '/v1/peers/moved',
    { schema: { ...common, summary: 'A migrated client registered at the sender', body: MovedRequest, response: { 204: Type.Null(), 404: ErrorBody } } },
    (request, reply) => {
      reflector.moved(request.body);
      void reply.code(204).send(null);
    },
  );

  app.post(
    '/v1/peers/offload',
    {
      schema: {
        ...common,
        summary: 'Migrate the quietest clients to a peer (redistribution after a join)',
        body: OffloadRequest,
        response: { 202: Type.Object({ clients: Type.Integer() }), 404: ErrorBody },
      },
    },
    (request, reply) => {
      void reply.code(202).send({ clients: reflector.offload(request.body.to, request.body.count) });
    },
  );

  app.post(
    '/v1/peers/bye',
    { schema: { ...common, summary: 'The sender leaves the mesh; drop it now', body: ByeRequest, response: { 204: Type.Null() } } },
    (request, reply) => {
      reflector.peerBye(request.body.id);
      void reply.code(204).send(null);
    },
  );
}
