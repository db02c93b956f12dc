// The reflector's control API fed arbitrary requests through fastify's inject (fast-check): every
// route, near-valid JSON bodies with one field made arbitrary, any JSON, any bytes under any content
// type, any path parameter and bearer token. Properties: never a 5xx from a bad request, every error is
// JSON { statusCode, code, error, message } with a message, and a request that fails leaves the
// reflector's sessions, peers and draining state exactly as they were.
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type ApiServer } from '../../../reflector/api/server.js';
import { MAX_REPORTED_CLIENTS } from '../../../protocol/api-schemas.js';
import { peerInfoProblem } from '../../../reflector/peers.js';
import { Reflector } from '../../../reflector/reflector.js';
import { reflectorConfig } from './reflector-config.js';
import { pathVariantArbitrary } from '../../support/path-variants.js';

const ADMIN_TOKEN = 'fuzz-admin-token';
let reflector: Reflector;
let app: ApiServer;
let clientIdText: string;

beforeAll(async () => {
  // Not started: no socket is bound, the routes run against the real Reflector in memory.
  const config = await reflectorConfig(['--rtp', '--address', '127.0.9.1', '--data-port', '50010', '--control-port', '50011', '--admin-token', ADMIN_TOKEN, '--open-mesh', '--data-plane', 'js', '--log-level', 'silent']);
  // No request rate limit: thousands of requests from one source would mostly meet a 429 instead of the handlers.
  reflector = new Reflector({ ...config, apiRateLimit: undefined }, pino({ level: 'silent' }));
  app = await buildServer(reflector, pino({ level: 'silent' }));
  // One session and one peer, so that routes naming them get past the lookup.
  const joined = await app.inject({ method: 'POST', url: '/v1/join', payload: { role: 'sendrecv', name: 'resident' } });
  expect(joined.statusCode).toBe(201);
  clientIdText = joined.json<{ clientId: string }>().clientId;
  const hello = await app.inject({
    method: 'POST',
    url: '/v1/peers/hello',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: { reflector: { id: 'peer-1', address: '127.0.9.2', dataPort: 50020, controlPort: 50021, rtp: false }, clients: 0, introduce: false },
  });
  expect(hello.statusCode).toBe(200);
});

afterAll(async () => {
  await app?.close();
  await reflector?.stop();
});

function state() {
  return {
    sessions: reflector.sessions
      .all()
      .map((s) => ({ id: s.idText, state: s.state, role: s.role, endpoints: s.endpoints.map((e) => (e ? `${e.address}:${e.port}` : '-')), outgoing: s.outgoing?.to }))
      .sort((a, b) => a.id.localeCompare(b.id)),
    peers: reflector.peers.infos().map((p) => JSON.stringify(p)).sort(),
    draining: reflector.isDraining,
  };
}

// ---- arbitraries

const anyJson = fc.jsonValue({ maxDepth: 3 });
const reflectorId = fc.oneof(fc.constantFrom('peer-1', 'peer-2', 'peer-3', 'self', '127.0.9.1:50011'), fc.stringMatching(/^[A-Za-z0-9._:-]{1,63}$/));
const clientIdArb = () => fc.oneof(fc.constant(clientIdText), fc.constant('000000000001'), fc.string({ maxLength: 16 }), fc.stringMatching(/^[0-9a-fA-F]{11,13}$/));
const port = fc.integer({ min: 1, max: 65535 });

/**
 * Bodies close to what a route takes: valid by the schema most of the time (so the handler runs, with
 * values the schema allows but the reflector may not: names for addresses, port 65535, its own
 * address), otherwise one field replaced by any JSON, one dropped, or one added.
 */
function near(fields: Record<string, fc.Arbitrary<unknown>>, optional: string[] = []): fc.Arbitrary<unknown> {
  const keys = Object.keys(fields);
  const valid = fc.record(fields, { requiredKeys: keys.filter((k) => !optional.includes(k)) }) as fc.Arbitrary<Record<string, unknown>>;
  return fc.oneof(
    { weight: 4, arbitrary: valid },
    { weight: 2, arbitrary: fc.tuple(valid, fc.constantFrom(...keys), anyJson).map(([v, k, j]) => ({ ...v, [k]: j })) },
    { weight: 1, arbitrary: fc.tuple(valid, fc.constantFrom(...keys)).map(([v, k]) => Object.fromEntries(Object.entries(v).filter(([key]) => key !== k))) },
    { weight: 1, arbitrary: fc.tuple(valid, fc.string({ maxLength: 8 }), anyJson).map(([v, k, j]) => ({ ...v, [k]: j })) },
  );
}

const info = near({
  id: reflectorId,
  address: fc.oneof(fc.constantFrom('127.0.9.3', '127.0.9.3', '127.0.9.4', '::1', '999.1.1.1', 'not an address', 'localhost', '127.0.9.1'), fc.string({ minLength: 1, maxLength: 20 })),
  dataPort: fc.oneof(fc.constantFrom(50010, 50020, 50030, 65535, 65534), port),
  controlPort: port,
  rtp: fc.boolean(),
});

const nearValid: Record<string, () => fc.Arbitrary<unknown>> = {
  'POST /v1/join': () => near({ role: fc.constantFrom('sendrecv', 'recvonly', 'sendonly'), name: fc.string({ maxLength: 140 }) }, ['role', 'name']),
  'POST /v1/peers/hello': () => near({ reflector: info, clients: fc.oneof(fc.nat(10), fc.integer({ min: -5, max: 2 ** 53 })), introduce: fc.boolean() }),
  'POST /v1/peers/keepalive': () => near({ id: reflectorId, clients: fc.oneof(fc.nat(10), fc.integer(), fc.double()), draining: fc.boolean(), generation: fc.nat() }, ['generation']),
  'POST /v1/peers/admit': () =>
    near({ clientId: clientIdArb(), sessionKey: fc.stringMatching(/^[A-Za-z0-9_-]{43}$/), role: fc.constantFrom('sendrecv', 'recvonly', 'sendonly'), migrationId: fc.string({ minLength: 1, maxLength: 70 }), from: reflectorId }, ['migrationId', 'from']),
  'POST /v1/peers/moved': () => near({ clientId: clientIdArb(), migrationId: fc.string({ maxLength: 70 }) }),
  'POST /v1/peers/offload': () => near({ to: reflectorId, count: fc.oneof(fc.nat(3), fc.integer({ min: -1, max: 200000 })) }),
  'POST /v1/peers/bye': () => near({ id: reflectorId }),
  'PUT /v1/peers': () => near({ peers: fc.array(info, { maxLength: 3 }) }),
  'POST /v1/clients/:clientId/migrate': () => near({ to: reflectorId }),
  'POST /v1/drain': () => near({ exclude: fc.array(reflectorId, { maxLength: 3 }) }, ['exclude']),
};

const rawBody = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('{', '{"a":', '[]', 'null', '"x"', '1e999', '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"x":1}}}', ''),
);
const contentType = fc.option(fc.constantFrom('application/json', 'application/json; charset=utf-16', 'text/plain', 'application/octet-stream', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'garbage/!!', ''), { nil: undefined });

/** A route of the OpenAPI document, as "METHOD /path/:param". */
function routes(): { method: string; url: string }[] {
  const doc = app.swagger() as { paths: Record<string, Record<string, unknown>> };
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => ({ method: method.toUpperCase(), url: path.replace(/\{(\w+)\}/g, ':$1') })),
  );
}

function checkError(status: number, body: string, what: string): void {
  expect(status, `${what} -> ${status} ${body}`).toBeLessThan(500);
  if (status < 400) return;
  const error = JSON.parse(body) as { statusCode: unknown; code: unknown; message: unknown };
  expect(error.statusCode, what).toBe(status);
  expect(typeof error.code, what).toBe('string');
  expect(typeof error.message === 'string' && error.message.length > 10, `${what}: message ${String(error.message)}`).toBe(true);
}

describe('the control API, for any request', () => {
  it('lists every route the fuzzer knows (a new route needs a body arbitrary here)', () => {
    const withBody = routes().filter((r) => r.method === 'POST' || r.method === 'PUT');
    for (const r of withBody) {
      if (r.url.endsWith('/leave')) continue; // no body
      expect(Object.keys(nearValid), `${r.method} ${r.url}`).toContain(`${r.method} ${r.url}`);
    }
  });

  it('answers near-valid and arbitrary bodies on every route without a 5xx, and failures change nothing', async () => {
    const all = routes().filter((r) => r.url !== '/v1/sessions/:clientId/events' && r.url !== '/v1/drain');
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...all),
        fc.nat(),
        fc.oneof({ weight: 5, arbitrary: fc.constant('admin') }, fc.constant('session-wrong'), fc.constant(undefined), fc.string({ maxLength: 40 })),
        clientIdArb(),
        fc.oneof({ weight: 4, arbitrary: fc.constant('near') }, fc.constant('json'), fc.constant('raw')),
        fc.context(),
        async (route, seed, auth, clientId, kind, ctx) => {
          const key = `${route.method} ${route.url}`;
          const near = nearValid[key];
          const body = kind === 'near' && near ? fc.sample(near(), { seed, numRuns: 1 })[0] : kind === 'json' ? fc.sample(anyJson, { seed, numRuns: 1 })[0] : undefined;
          const raw = kind === 'raw' ? fc.sample(fc.tuple(rawBody, contentType), { seed, numRuns: 1 })[0] : undefined;
          const url = route.url.replace(':clientId', encodeURIComponent(clientId));
          const headers: Record<string, string> = {};
          if (auth === 'admin') headers.authorization = `Bearer ${ADMIN_TOKEN}`;
          else if (auth === 'session-wrong') headers.authorization = 'Bearer AAAA';
          else if (auth !== undefined) headers.authorization = auth;
          if (raw?.[1] !== undefined) headers['content-type'] = raw[1];
          const before = state();
          const response = await app.inject({
            method: route.method as 'GET',
            url,
            headers,
            ...(raw ? { payload: raw[0] } : body !== undefined && route.method !== 'GET' ? { payload: JSON.stringify(body), headers: { ...headers, 'content-type': 'application/json' } } : {}),
          });
          const what = `${route.method} ${url} ${raw ? `raw ${JSON.stringify(raw)}` : JSON.stringify(body)}`;
          ctx.log(what);
          checkError(response.statusCode, response.body, what);
          if (response.statusCode >= 400) expect(state(), what).toEqual(before);
          // Whatever was accepted, every peer can go into the forwarding table (an IP, a valid P+1,
          // not our own address) and no two share a data address (each datagram would go there twice).
          const peers = reflector.peers.infos();
          for (const p of peers) expect(peerInfoProblem(p, reflector.info), what).toBeUndefined();
          expect(new Set(peers.map((p) => `${p.address}:${p.dataPort}`)).size, what).toBe(peers.length);
          // The resident session survives unless the request was an accepted operation on it.
          if (response.statusCode >= 300) expect(reflector.sessions.all().some((s) => s.idText === clientIdText), what).toBe(true);
        },
      ),
      { numRuns: 800 },
    );
  }, 60_000);

  it('refuses every spelling of a peer or admin path without the admin token with 401, and nothing changes', async () => {
    const doc = app.swagger() as { paths: Record<string, Record<string, { tags?: string[] }>> };
    const guarded = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([, op]) => op.tags?.some((t) => t === 'peers' || t === 'admin'))
        .map(([method]) => ({ method: method.toUpperCase(), path: path.replace('{clientId}', clientIdText), key: `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}` })),
    );
    expect(guarded.length).toBeGreaterThanOrEqual(11);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...guarded).chain((route) => fc.tuple(fc.constant(route), pathVariantArbitrary(route.path, '127.0.9.1:50011'), fc.nat())),
        fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
        async ([route, variant, seed], authorization) => {
          const near = nearValid[route.key];
          const body = near ? fc.sample(near(), { seed, numRuns: 1 })[0] : undefined;
          const before = state();
          const response = await app.inject({
            method: route.method as 'GET',
            url: variant.target,
            headers: authorization === undefined ? {} : { authorization },
            ...(body !== undefined ? { payload: JSON.stringify(body), headers: { 'content-type': 'application/json', ...(authorization === undefined ? {} : { authorization }) } } : {}),
          });
          const what = `${route.method} ${variant.target} ${JSON.stringify(body)} auth=${JSON.stringify(authorization)}`;
          expect(response.statusCode, `${what} -> ${response.body}`).toBe(401);
          expect(state(), what).toEqual(before);
        },
      ),
      { numRuns: 600 },
    );
  }, 60_000);

  it('refuses bodies over the limit with 413 and a message', async () => {
    const response = await app.inject({ method: 'POST', url: '/v1/join', payload: `{"name":"${'x'.repeat(2 * 1024 * 1024)}"}`, headers: { 'content-type': 'application/json' } });
    checkError(response.statusCode, response.body, 'a 2 MiB join');
    expect(response.statusCode).toBe(413);
  });

  it('prototype pollution in a body does not reach Object.prototype', async () => {
    await app.inject({ method: 'POST', url: '/v1/join', payload: '{"__proto__":{"polluted":1},"role":"sendrecv"}', headers: { 'content-type': 'application/json' } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('peers the fuzzer found wanting', () => {
  const hello = (reflectorInfo: Record<string, unknown>) =>
    app.inject({ method: 'POST', url: '/v1/peers/hello', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { reflector: reflectorInfo, clients: 0, introduce: false } });

  it('refuses a name for an address, P+1 beyond 65535 in RTP mode, and our own data address, with 400 and why', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ address: 'localhost' }, /not an IP address/],
      [{ dataPort: 65535 }, /no port for RTCP/],
      [{ address: '127.0.9.1', dataPort: 50010 }, /own data address/],
    ];
    for (const [change, reason] of cases) {
      const before = state();
      const response = await hello({ id: 'bad-peer', address: '127.0.9.5', dataPort: 50050, controlPort: 50051, rtp: true, ...change });
      expect(response.statusCode).toBe(400);
      expect(response.json<{ message: string }>().message).toMatch(reason);
      expect(state()).toEqual(before);
    }
  });

  it('a new peer at an old one\'s data address replaces it (a pod replaced on the same node)', async () => {
    expect((await hello({ id: 'old-pod', address: '127.0.9.6', dataPort: 50060, controlPort: 50061, rtp: true })).statusCode).toBe(200);
    expect((await hello({ id: 'new-pod', address: '127.0.9.6', dataPort: 50060, controlPort: 50061, rtp: true })).statusCode).toBe(200);
    const ids = reflector.peers.infos().map((p) => p.id);
    expect(ids).toContain('new-pod');
    expect(ids).not.toContain('old-pod');
  });

  it('refuses a client count beyond MAX_REPORTED_CLIENTS, and /metrics keeps answering (2^53 once made every scrape a 500)', async () => {
    const peer = { id: 'big-peer', address: '127.0.9.7', dataPort: 50070, controlPort: 50071, rtp: true };
    const before = state();
    for (const clients of [MAX_REPORTED_CLIENTS + 1, 2 ** 53]) {
      const response = await app.inject({ method: 'POST', url: '/v1/peers/hello', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { reflector: peer, clients, introduce: false } });
      expect(response.statusCode).toBe(400);
      expect(response.json<{ message: string }>().message).toMatch(/clients/);
    }
    expect(state()).toEqual(before);
    const full = await app.inject({ method: 'POST', url: '/v1/peers/hello', headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, payload: { reflector: peer, clients: MAX_REPORTED_CLIENTS, introduce: false } });
    expect(full.statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
  });
});
