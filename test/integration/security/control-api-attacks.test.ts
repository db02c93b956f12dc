// The control API attacked from outside over real sockets (issue 13, docs/security.md "Control API"):
// every peer and admin route, taken from the reflector's own OpenAPI document, called with every
// spelling of its path (each character percent-encoded in turn, the absolute form, trailing "/", ";",
// "//", ...) and a body that would change the mesh; each is refused with 401 (a 404 only where the
// router does not take the spelling for the route), and the mesh is exactly as before. Raw node:net
// requests, so the request line is what an attacker sends.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_TIMINGS, reflectorPorts, startReflector, stopAll, waitForFullMesh, type ReflectorProcess } from '../../support/reflector-process.js';
import { rawRequest } from '../../support/raw-http.js';
import { pathVariants } from '../../support/path-variants.js';
import type { StatusResponse } from '../../../protocol/api-schemas.js';

// Their ports, asked of the OS in beforeAll.
const A = { address: '127.0.9.60', dataPort: 0, controlPort: 0 };
const B = { address: '127.0.9.61', dataPort: 0, controlPort: 0 };

let a: ReflectorProcess;
let b: ReflectorProcess;

/** A body per guarded route that would change the mesh if the request got through. */
function attackBodies(victim: string): Record<string, unknown> {
  const fake = { id: 'intruder', address: '127.0.9.66', dataPort: 53760, controlPort: 53765, rtp: false };
  return {
    'POST /v1/peers/hello': { reflector: fake, clients: 0, introduce: true },
    'POST /v1/peers/keepalive': { id: victim, clients: 99, draining: true },
    'POST /v1/peers/admit': { clientId: '0000000000aa', sessionKey: 'A'.repeat(43), role: 'sendrecv' },
    'POST /v1/peers/moved': { clientId: '0000000000aa', migrationId: 'm1' },
    'POST /v1/peers/offload': { to: victim, count: 5 },
    'POST /v1/peers/bye': { id: victim },
    'GET /v1/status': undefined,
    'GET /v1/peers': undefined,
    'PUT /v1/peers': { peers: [fake] },
    'POST /v1/clients/{clientId}/migrate': { to: victim },
    'POST /v1/drain': {},
  };
}

async function guardedRoutes(reflector: ReflectorProcess): Promise<{ method: string; path: string; key: string }[]> {
  const doc = (await (await fetch(reflector.url('/openapi.json'))).json()) as { paths: Record<string, Record<string, { tags?: string[] }>> };
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods)
      .filter(([, op]) => op.tags?.some((t) => t === 'peers' || t === 'admin'))
      .map(([method]) => ({ method: method.toUpperCase(), path, key: `${method.toUpperCase()} ${path}` })),
  );
}

async function meshState(reflector: ReflectorProcess) {
  const s = await reflector.json<StatusResponse>('/v1/status');
  return { draining: s.draining, peers: s.peers.map((p) => `${p.id} ${p.address}:${p.dataPort} draining=${p.draining}`).sort(), clients: s.clients.map((c) => c.clientId).sort() };
}

beforeAll(async () => {
  // No request rate limit here: hundreds of refusals from one source would otherwise meet 429
  // (the limit of failed requests has its own test below).
  const common = { dataPlane: 'js' as const, ...FAST_TIMINGS, peerTimeout: '5s', extraArgs: ['--api-rate-limit', '0'] };
  Object.assign(A, await reflectorPorts());
  Object.assign(B, await reflectorPorts());
  a = await startReflector({ ...A, ...common });
  b = await startReflector({ ...B, ...common, join: `${A.address}:${A.controlPort}` });
  await waitForFullMesh([a, b]);
}, 60_000);

afterAll(async () => {
  await stopAll([a, b].filter(Boolean));
});

describe('peer and admin routes, any spelling of the path', () => {
  it('covers every peer and admin route of the OpenAPI document', async () => {
    const routes = await guardedRoutes(a);
    expect(routes.length).toBeGreaterThanOrEqual(11);
    for (const r of routes) expect(Object.keys(attackBodies(b.id)), r.key).toContain(r.key);
  });

  it('refuses every variant without credentials with 401, and the mesh is unchanged', async () => {
    const bodies = attackBodies(b.id);
    const before = await meshState(a);
    const authority = `${A.address}:${A.controlPort}`;
    const failures: string[] = [];
    let sent = 0;
    for (const route of await guardedRoutes(a)) {
      const path = route.path.replace('{clientId}', '0000000000aa');
      const body = bodies[route.key];
      for (const variant of pathVariants(path, authority)) {
        const answer = await rawRequest(A.address, A.controlPort, {
          method: route.method,
          target: variant.target,
          headers: body === undefined ? {} : { 'content-type': 'application/json' },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        sent++;
        // A spelling that is not the route's path may also be refused by node's parser (400, a target
        // not starting with "/") or the router (404).
        const refused = answer.status === 401 || (variant.mayMiss && (answer.status === 404 || answer.status === 400));
        if (!refused) failures.push(`${route.method} ${variant.target} (${variant.name}) -> ${answer.status} ${answer.body.slice(0, 120)}`);
        else if (answer.status === 401) expect(JSON.parse(answer.body) as { code: string }).toMatchObject({ code: 'RMESH_UNAUTHORIZED' });
      }
    }
    expect(failures, failures.join('\n')).toEqual([]);
    expect(sent).toBeGreaterThan(300);
    expect(await meshState(a)).toEqual(before);
  }, 120_000);

  it('refuses a forged signature and a bearer token on the encoded paths too', async () => {
    const forged = `RMESH-HMAC ts=${Date.now()},nonce=AAAAAAAAAAAAAAAA,sig=${'A'.repeat(43)}`;
    for (const authorization of [forged, 'Bearer guess']) {
      for (const target of ['/v1/%70eers/bye', '/v1/peer%73/bye', '/%76%31/peers/bye', `http://${A.address}:${A.controlPort}/v1/peers/bye`]) {
        const answer = await rawRequest(A.address, A.controlPort, { method: 'POST', target, headers: { authorization, 'content-type': 'application/json' }, body: JSON.stringify({ id: b.id }) });
        expect(answer.status, `${authorization.slice(0, 10)} ${target}`).toBe(401);
      }
    }
    expect((await meshState(a)).peers.some((p) => p.startsWith(b.id))).toBe(true);
  });

  it('still serves the real peer and the operator (the guard lets signed requests through)', async () => {
    // A signed admin request on the canonical path works (the harness signs with the mesh key) ...
    const peers = await a.json<{ peers: { id: string }[] }>('/v1/peers');
    expect(peers.peers.map((p) => p.id)).toEqual([b.id]);
    // ... and the mesh is still whole: B's signed keep-alives reach A.
    await waitForFullMesh([a, b]);
  });
});
