// Routes for the operator (docs/protocol.md §3.3): status, the peer list, migrate one client, drain.
// One fastify plugin, registered under /v1 with the control guard inside it
// (reflector/api/control-guard.ts): in a mesh with a key they need a request signed with it (as peers
// sign theirs) or the admin token when one is configured; open only with --open-admin. In an open mesh,
// the admin token when one is configured.
import { Type } from 'typebox';
import type { ApiServer } from './server.js';
import { CONTROL_SECURITY, installControlGuard, type ControlGuardOptions } from './control-guard.js';
import type { MigrationDone } from '../migration.js';
import { DrainRequest, DrainResponse, errorResponses, MigrateRequest, MigrateResponse, PeerList, SessionParams, StatusResponse, type ReflectorInfo } from '../../protocol/api-schemas.js';

/** What the admin routes ask of the reflector. */
export interface AdminOperations {
  status(): StatusResponse;
  peerList(): ReflectorInfo[];
  replacePeers(peers: readonly ReflectorInfo[]): void;
  migrate(clientIdText: string, to: string): Promise<MigrationDone>;
  drain(exclude: readonly string[]): number;
}

export interface AdminRoutesOptions {
  operations: AdminOperations;
  guard: ControlGuardOptions;
}

export const ADMIN_PREFIX = '/v1';

/** The refusals every admin route may answer, besides its own. */
const refusals = errorResponses(400, 401, 413, 415, 429);

export function adminRoutes(app: ApiServer, { operations, guard }: AdminRoutesOptions, done: (err?: Error) => void): void {
  installControlGuard(app, guard);
  const admin = { tags: ['admin'], security: CONTROL_SECURITY };

  app.get('/status', { schema: { ...admin, summary: 'Clients, peers and counters', response: { 200: StatusResponse, ...refusals } } }, () => operations.status());

  app.get('/peers', { schema: { ...admin, summary: 'The peer list', response: { 200: PeerList, ...refusals } } }, () => ({ peers: operations.peerList() }));

  app.put('/peers', { schema: { ...admin, summary: 'Replace the whole peer list', body: PeerList, response: { 200: PeerList, ...refusals } } }, (request) => {
    operations.replacePeers(request.body.peers);
    return { peers: operations.peerList() };
  });

  app.post(
    '/clients/:clientId/migrate',
    {
      schema: {
        ...admin,
        summary: 'Move one client to a peer, make before break; returns when done',
        params: SessionParams,
        body: MigrateRequest,
        response: { 200: MigrateResponse, ...refusals, ...errorResponses(404, 409, 502, 503, 504) },
      },
    },
    (request) => operations.migrate(request.params.clientId, request.body.to),
  );

  app.post(
    '/drain',
    { schema: { ...admin, summary: 'Stop admitting and move every client to the peers', body: Type.Optional(DrainRequest), response: { 202: DrainResponse, ...refusals } } },
    (request, reply) => {
      void reply.code(202).send({ clients: operations.drain(request.body?.exclude ?? []) });
    },
  );
  done();
}
