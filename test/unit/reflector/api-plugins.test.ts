// The control API's plugins stand alone (issue 16): each audience's plugin (clients, peers, admin) is
// registered on a bare fastify instance with a small fake of the operations it is typed against
// (ClientOperations, PeerOperations, AdminOperations) and driven with `inject` — no Reflector, no socket.
// They show that each plugin's guard sits on its own routes (a route beside the plugin is not guarded)
// and that what a request proves reaches the operation (the token's subject and role in a join).
import Fastify from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { adminRoutes, type AdminOperations } from '../../../reflector/api/admin-routes.js';
import { clientRoutes, type ClientOperations } from '../../../reflector/api/client-routes.js';
import { ApiError, unauthorized } from '../../../protocol/errors.js';
import { peerRoutes, type PeerOperations } from '../../../reflector/api/peer-routes.js';
import type { JoinRequest, JoinResponse, ReflectorInfo, StatusResponse } from '../../../protocol/api-schemas.js';
import { ROUTER_OPTIONS, type ApiServer } from '../../../reflector/api/server.js';
import { mintClientTokenWithMeshKey } from '../../../protocol/security/client-token.js';
import type { SessionOwner } from '../../../reflector/session-caps.js';
import type { Session } from '../../../reflector/sessions.js';

const MESH_KEY = Buffer.alloc(32, 9);
const ADMIN_TOKEN = 'plugin-test-admin-token';
const SELF: ReflectorInfo = { id: 'r1', address: '127.0.0.1', dataPort: 5004, controlPort: 7400, rtp: false };
const CLIENT_ID = '00000000abcd';
const SESSION_KEY = 'k'.repeat(43);

let app: ApiServer | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

/** A bare fastify instance with only the router options and the error shape of the real server (ApiError -> its JSON body). */
function bareServer(): ApiServer {
  const server = Fastify({ routerOptions: ROUTER_OPTIONS }).withTypeProvider<TypeBoxTypeProvider>() as unknown as ApiServer;
  server.setErrorHandler((error, _request, reply) => {
    if (error instanceof ApiError) return reply.code(error.statusCode).send(error.body());
    return reply.send(error);
  });
  return server;
}

/** A fake of ClientOperations that records what the routes asked. */
function fakeClients() {
  const calls = { joins: [] as { request: JoinRequest; owner: SessionOwner }[], refused: [] as string[], left: [] as string[] };
  const session = { idText: CLIENT_ID } as Session;
  const operations: ClientOperations = {
    join: (request, owner) => {
      calls.joins.push({ request, owner });
      const answer: JoinResponse = {
        clientId: CLIENT_ID,
        sessionKey: SESSION_KEY,
        role: request.role ?? 'sendrecv',
        reflector: SELF,
        reflectors: [SELF],
        keepaliveIntervalMs: 1000,
        idleTimeoutMs: 10_000,
        registrationDeadlineMs: 5000,
      };
      return Promise.resolve(answer);
    },
    joinRefused: (result) => calls.refused.push(result),
    authorizeSession: (clientIdText, authorization) => {
      if (clientIdText !== CLIENT_ID) throw new ApiError(404, 'RMESH_UNKNOWN_CLIENT', `no client ${clientIdText}`);
      if (authorization !== `Bearer ${SESSION_KEY}`) throw unauthorized('wrong session key');
      return session;
    },
    reflectorList: () => [SELF],
    leave: (s) => calls.left.push(s.idText),
  };
  return { operations, calls };
}

describe('the clients plugin alone', () => {
  it('admits in an open mesh, counting the join against its source address', async () => {
    const { operations, calls } = fakeClients();
    app = bareServer();
    await app.register(clientRoutes, { prefix: '/v1', operations, meshKey: undefined });
    const res = await app.inject({ method: 'POST', url: '/v1/join', payload: { role: 'recvonly', name: 'cam' } });
    expect(res.statusCode).toBe(201);
    expect(res.json<JoinResponse>().clientId).toBe(CLIENT_ID);
    expect(calls.joins).toEqual([{ request: { role: 'recvonly', name: 'cam' }, owner: { source: '127.0.0.1' } }]);
  });

  it('in a keyed mesh, refuses a join without a token before the operation, and passes a token\'s subject and role on', async () => {
    const { operations, calls } = fakeClients();
    app = bareServer();
    await app.register(clientRoutes, { prefix: '/v1', operations, meshKey: MESH_KEY });

    const bare = await app.inject({ method: 'POST', url: '/v1/join', payload: {} });
    expect(bare.statusCode).toBe(401);
    expect(bare.json<{ code: string }>().code).toBe('RMESH_TOKEN_REQUIRED');
    expect(bare.headers['www-authenticate']).toMatch(/^Bearer /);
    expect(calls.refused).toEqual(['unauthorized']);

    const recvonly = mintClientTokenWithMeshKey(MESH_KEY, { role: 'recvonly', subject: 'monitor-1' });
    const forbidden = await app.inject({ method: 'POST', url: '/v1/join', headers: { authorization: `Bearer ${recvonly}` }, payload: { role: 'sendrecv' } });
    expect(forbidden.statusCode).toBe(403);
    expect(calls.refused).toEqual(['unauthorized', 'forbidden']);
    expect(calls.joins).toEqual([]);

    const ok = await app.inject({ method: 'POST', url: '/v1/join', headers: { authorization: `Bearer ${recvonly}` }, payload: {} });
    expect(ok.statusCode).toBe(201);
    expect(calls.joins).toHaveLength(1);
    expect(calls.joins[0]!.request).toEqual({ role: 'recvonly', name: 'monitor-1' });
    expect(calls.joins[0]!.owner.subject).toMatch(/monitor-1/);
  });

  it('leaves only with the session key', async () => {
    const { operations, calls } = fakeClients();
    app = bareServer();
    await app.register(clientRoutes, { prefix: '/v1', operations, meshKey: undefined });
    const wrong = await app.inject({ method: 'POST', url: `/v1/sessions/${CLIENT_ID}/leave`, headers: { authorization: 'Bearer nope' } });
    expect(wrong.statusCode).toBe(401);
    expect(calls.left).toEqual([]);
    const right = await app.inject({ method: 'POST', url: `/v1/sessions/${CLIENT_ID}/leave`, headers: { authorization: `Bearer ${SESSION_KEY}` } });
    expect(right.statusCode).toBe(204);
    expect(calls.left).toEqual([CLIENT_ID]);
  });
});

/** A fake of PeerOperations that records the calls that reached it. */
function fakePeers() {
  const reached: string[] = [];
  const operations: PeerOperations = {
    hello: () => {
      reached.push('hello');
      return { reflector: SELF, clients: 0, peers: [] };
    },
    peerKeepalive: (request) => {
      reached.push(`keepalive ${request.id}`);
      return { id: SELF.id, clients: 0, draining: false, generation: 0 };
    },
    admit: (request) => {
      reached.push(`admit ${request.clientId}`);
      return { clientId: request.clientId, clients: 1, generation: 1 };
    },
    moved: () => reached.push('moved'),
    offload: () => 0,
    peerBye: (id) => reached.push(`bye ${id}`),
  };
  return { operations, reached };
}

describe('the peers plugin alone', () => {
  it('guards its own routes, and only those: a route beside the plugin stays open', async () => {
    const { operations, reached } = fakePeers();
    const refusals: string[] = [];
    app = bareServer();
    await app.register(peerRoutes, { prefix: '/v1/peers', operations, guard: { audience: 'peer', adminToken: ADMIN_TOKEN, onRefused: (_r, problem) => refusals.push(problem) } });
    app.get('/beside', () => ({ open: true }));

    for (const url of ['/v1/peers/bye', '/v1/peers//bye', '/v1/peers/bye/', '/v1/peers/%62ye']) {
      const res = await app.inject({ method: 'POST', url, payload: { id: 'r2' } });
      expect(res.statusCode, url).toBe(401);
    }
    expect(reached).toEqual([]);
    expect(refusals.length).toBeGreaterThanOrEqual(1);

    const ok = await app.inject({ method: 'POST', url: '/v1/peers/bye', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { id: 'r2' } });
    expect(ok.statusCode).toBe(204);
    expect(reached).toEqual(['bye r2']);
    expect((await app.inject({ method: 'GET', url: '/beside' })).statusCode).toBe(200);
  });

  it('validates bodies against the schema before the operation', async () => {
    const { operations, reached } = fakePeers();
    app = bareServer();
    await app.register(peerRoutes, { prefix: '/v1/peers', operations, guard: { audience: 'peer' } });
    const bad = await app.inject({ method: 'POST', url: '/v1/peers/keepalive', payload: { id: 'r2', clients: -1, draining: false } });
    expect(bad.statusCode).toBe(400);
    const good = await app.inject({ method: 'POST', url: '/v1/peers/keepalive', payload: { id: 'r2', clients: 3, draining: false } });
    expect(good.statusCode).toBe(200);
    expect(reached).toEqual(['keepalive r2']);
  });
});

describe('the admin plugin alone', () => {
  function fakeAdmin() {
    const drained: (readonly string[])[] = [];
    const counts = { client: 0, peer: 0 };
    const status: StatusResponse = {
      reflector: SELF,
      draining: false,
      dataPlane: 'fake',
      clients: [],
      peers: [],
      counters: { datagramsIn: counts, datagramsOut: counts, bytesIn: counts, bytesOut: counts, dropped: {} },
      outboundStreams: 0,
      outboundBitsPerSecond: 0,
      uptimeSeconds: 1,
    };
    const operations: AdminOperations = {
      status: () => status,
      peerList: () => [SELF],
      replacePeers: () => undefined,
      migrate: (clientId, to) => Promise.resolve({ migrationId: `${clientId}->${to}`, durationMs: 1 }),
      drain: (exclude) => {
        drained.push(exclude);
        return 7;
      },
    };
    return { operations, drained };
  }

  it('answers from its operations with the admin token, and refuses without it', async () => {
    const { operations, drained } = fakeAdmin();
    app = bareServer();
    await app.register(adminRoutes, { prefix: '/v1', operations, guard: { audience: 'admin', adminToken: ADMIN_TOKEN } });
    const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };

    expect((await app.inject({ method: 'POST', url: '/v1/drain', payload: {} })).statusCode).toBe(401);
    expect(drained).toEqual([]);

    const drain = await app.inject({ method: 'POST', url: '/v1/drain', headers: auth, payload: { exclude: ['r3'] } });
    expect(drain.statusCode).toBe(202);
    expect(drain.json()).toEqual({ clients: 7 });
    expect(drained).toEqual([['r3']]);

    const migrate = await app.inject({ method: 'POST', url: `/v1/clients/${CLIENT_ID}/migrate`, headers: auth, payload: { to: 'r2' } });
    expect(migrate.json()).toEqual({ migrationId: `${CLIENT_ID}->r2`, durationMs: 1 });
    const status = await app.inject({ method: 'GET', url: '/v1/status', headers: auth });
    expect(status.json<StatusResponse>().dataPlane).toBe('fake');
  });

  it('with --open-admin (no guard options) is open', async () => {
    const { operations } = fakeAdmin();
    app = bareServer();
    await app.register(adminRoutes, { prefix: '/v1', operations, guard: { audience: 'admin' } });
    expect((await app.inject({ method: 'GET', url: '/v1/peers' })).json()).toEqual({ peers: [SELF] });
  });
});
