// Routes for peer reflectors (docs/protocol.md §3.2): hello, keep-alive, admit, moved, offload, bye.
// In a mesh with a key they need a peer signature made with it (or the admin token, when one is
// configured); in an open mesh, the admin token when one is configured. The keys are read per request,
// so a rotation step (reflector/mesh-keys.ts) applies to the next request.
import { createHash, type Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import { Type } from 'typebox';
import { ApiError } from './errors.js';
import { PEER_AUTH_SCHEME, PeerRequestVerifier } from '../security/peer-control.js';
import type { ApiServer } from './server.js';
import { AdmitRequest, AdmitResponse, ByeRequest, ErrorBody, HelloRequest, HelloResponse, MovedRequest, OffloadRequest, PeerKeepalive } from './schemas.js';
import type { Reflector } from '../reflector.js';

function peerUnauthorized(problem: string): ApiError {
  return new ApiError(401, 'RMESH_UNAUTHORIZED', `peer request refused: ${problem}`);
}

/** Requests let in without a peer signature: the admin token (the operator, an admin), or unsigned while unsigned is accepted. */
const notSigned = new WeakSet<object>();
/** SHA-256 of each signed peer request's raw body, filled in as fastify reads it. */
const bodyHashes = new WeakMap<object, Hash>();

export function registerPeerRoutes(app: ApiServer, reflector: Reflector): void {
  const common = { tags: ['peers'], security: [{ bearer: [] }] };
  // Peers sign their requests with the mesh key (reflector/security/peer-control.ts), any key of the
  // set in force verifying during a rotation; the admin token still opens these routes to the operator
  // and admins when one is configured. While the set accepts unsigned traffic (an open mesh, or the way
  // out of one) an unsigned request is taken as in an open mesh: the admin token when one is configured.
  const keys = reflector.meshKeys;
  const verifier = new PeerRequestVerifier(() => keys.of('peer-control').verify);
  const adminToken = reflector.config.adminToken;
  app.addHook('onRequest', (request, _reply, done) => {
    if (!request.url.startsWith('/v1/peers/')) return done();
    const authorization = request.headers.authorization;
    const signed = authorization?.startsWith(`${PEER_AUTH_SCHEME} `) === true;
    const { acceptUnsigned, verify } = keys.of('peer-control');
    if ((adminToken !== undefined && authorization?.startsWith('Bearer ')) || (acceptUnsigned && (!signed || verify.length === 0))) {
      try {
        reflector.authorizeAdmin(authorization);
        notSigned.add(request);
        return done();
      } catch (err) {
        return done(err as Error);
      }
    }
    const problem = verifier.precheck(authorization);
    done(problem ? peerUnauthorized(problem) : undefined);
  });
  // The signature covers the raw body: hash it as fastify reads it, before JSON parsing.
  app.addHook('preParsing', (request, _reply, payload, done) => {
    if (!request.url.startsWith('/v1/peers/') || notSigned.has(request)) return done(null, payload);
    const hash = createHash('sha256');
    bodyHashes.set(request, hash);
    const tee = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    payload.on('error', (err) => tee.destroy(err));
    done(null, payload.pipe(tee));
  });
  app.addHook('preHandler', (request, _reply, done) => {
    if (!request.url.startsWith('/v1/peers/') || notSigned.has(request)) return done();
    const hash = bodyHashes.get(request);
    const bodyHash = hash ? hash.digest() : createHash('sha256').digest();
    const problem = verifier.verify(request.headers.authorization, request.method, request.url, bodyHash);
    if (problem) {
      request.log.warn({ url: request.url, from: request.ip, problem }, 'peer request refused');
      return done(peerUnauthorized(problem));
    }
    done();
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
