// Routes for peer reflectors (docs/protocol.md §3.2): hello, keep-alive, admit, moved, offload, bye.
// One fastify plugin, registered under /v1/peers with the control guard inside it
// (reflector/api/control-guard.ts): in a mesh with a key they need a peer signature made with it (or
// the admin token, when one is configured); in an open mesh, the admin token when one is configured.
// The keys are read per request, so a rotation step (reflector/mesh-keys.ts) applies to the next one.
import { Type } from 'typebox';
import type { ApiServer } from './server.js';
import { CONTROL_SECURITY, installControlGuard, type ControlGuardOptions } from './control-guard.js';
import {
  AdmitRequest,
  AdmitResponse,
  ByeRequest,
  errorResponses,
  HelloRequest,
  HelloResponse,
  MovedRequest,
  OffloadRequest,
  PeerKeepalive,
} from '../../protocol/api-schemas.js';

/** What the peer routes ask of the reflector. */
export interface PeerOperations {
  hello(request: HelloRequest): HelloResponse;
  peerKeepalive(request: PeerKeepalive): PeerKeepalive;
  admit(request: AdmitRequest): AdmitResponse;
  moved(request: MovedRequest): void;
  offload(to: string, count: number): number;
  peerBye(id: string): void;
}

export interface PeerRoutesOptions {
  operations: PeerOperations;
  guard: ControlGuardOptions;
}

export const PEER_PREFIX = '/v1/peers';

/** The refusals every peer route may answer, besides its own. */
const refusals = errorResponses(400, 401, 413, 415, 429);

export function peerRoutes(app: ApiServer, { operations, guard }: PeerRoutesOptions, done: (err?: Error) => void): void {
  installControlGuard(app, guard);
  const common = { tags: ['peers'], security: CONTROL_SECURITY };

  app.post(
    '/hello',
    { schema: { ...common, summary: 'Add the sender as a peer; introduce it to the mesh if asked', body: HelloRequest, response: { 200: HelloResponse, ...refusals } } },
    (request) => operations.hello(request.body),
  );

  app.post(
    '/keepalive',
    { schema: { ...common, summary: 'A peer is alive; carries its client count', body: PeerKeepalive, response: { 200: PeerKeepalive, ...refusals, ...errorResponses(404) } } },
    (request) => operations.peerKeepalive(request.body),
  );

  app.post(
    '/admit',
    {
      schema: {
        ...common,
        summary: 'Reserve a session for a client admitted elsewhere or migrating here',
        body: AdmitRequest,
        response: { 201: AdmitResponse, ...refusals, ...errorResponses(409, 503) },
      },
    },
    (request, reply) => {
      void reply.code(201).send(operations.admit(request.body));
    },
  );

  app.post(
    '/moved',
    { schema: { ...common, summary: 'A migrated client registered at the sender', body: MovedRequest, response: { 204: Type.Null(), ...refusals, ...errorResponses(404) } } },
    (request, reply) => {
      operations.moved(request.body);
      void reply.code(204).send(null);
    },
  );

  app.post(
    '/offload',
    {
      schema: {
        ...common,
        summary: 'Migrate the quietest clients to a peer (redistribution after a join)',
        body: OffloadRequest,
        response: { 202: Type.Object({ clients: Type.Integer() }), ...refusals, ...errorResponses(404) },
      },
    },
    (request, reply) => {
      void reply.code(202).send({ clients: operations.offload(request.body.to, request.body.count) });
    },
  );

  app.post(
    '/bye',
    { schema: { ...common, summary: 'The sender leaves the mesh; drop it now', body: ByeRequest, response: { 204: Type.Null(), ...refusals } } },
    (request, reply) => {
      operations.peerBye(request.body.id);
      void reply.code(204).send(null);
    },
  );
  done();
}
