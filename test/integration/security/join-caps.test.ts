// Who may join, and how much one credential may hold, against real reflector processes (docs/security.md
// "Session caps" and "Client tokens"): one token used over and over from one address cannot fill a mesh
// of --max-clients 20 (before, 20 joins of one token made every other join fail RMESH_MESH_FULL); joins
// fired at once count while in flight; a per-source cap holds whatever tokens are used; a reflector with
// a mesh name refuses tokens of another mesh (or of none), early tokens (nbf) and tokens that never expire.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_TIMINGS, reflectorPorts, startReflector, stopAll, waitForFullMesh, type ReflectorProcess } from '../../support/reflector-process.js';
import { testClientToken, testMeshKeyBytes } from '../../support/client-tokens.js';
import { deriveMeshSubkey } from '../../../protocol/security/mesh-key.js';

const addr = (i: number) => `127.0.43.${i + 1}`;
// Reservations must not lapse while the test counts them.
const TIMINGS = { ...FAST_TIMINGS, registrationDeadline: '60s' };

interface JoinResult {
  status: number;
  code?: string;
  message?: string;
  session?: { clientId: string; sessionKey: string; reflector: { address: string; controlPort: number } };
}

async function join(r: ReflectorProcess, token: string): Promise<JoinResult> {
  const response = await r.request('/v1/join', { body: {}, token });
  const body = (await response.json()) as { code?: string; message?: string } & JoinResult['session'];
  return { status: response.status, ...(response.ok ? { session: body } : { code: body.code, message: body.message }) };
}

/** Ends the sessions of successful joins, each at the reflector that holds it. */
async function leave(results: JoinResult[]): Promise<void> {
  for (const { session: s } of results) {
    if (!s) continue;
    const response = await fetch(`http://${s.reflector.address}:${s.reflector.controlPort}/v1/sessions/${s.clientId}/leave`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.sessionKey}` },
    });
    expect(response.ok).toBe(true);
  }
}

describe('session caps: one token cannot fill the mesh', () => {
  let mesh: ReflectorProcess[] = [];

  beforeAll(async () => {
    // --max-clients 20 and no cap given: the per-subject cap defaults to a quarter of it, 5.
    const common = { ...TIMINGS, extraArgs: ['--max-clients', '20'] };
    const a = await startReflector({ address: addr(0), ...(await reflectorPorts()), ...common });
    const b = await startReflector({ address: addr(1), ...(await reflectorPorts()), join: a.controlAddress, ...common });
    mesh = [a, b];
    await waitForFullMesh(mesh);
  });

  afterAll(async () => {
    await stopAll(mesh);
  });

  it('counts joins in flight: 20 at once with one token get no more than the caps', async () => {
    const burst = testClientToken({ subject: 'burst' });
    const results = await Promise.all(Array.from({ length: 20 }, () => join(mesh[0]!, burst)));
    const admitted = results.filter((r) => r.status === 201).length;
    expect(admitted).toBeGreaterThanOrEqual(5);
    expect(admitted).toBeLessThanOrEqual(10);
    expect(results.filter((r) => r.status !== 201).map((r) => r.code)).toEqual(Array(20 - admitted).fill('RMESH_SESSION_LIMIT'));
    await leave(results);
  });


  it('holds one subject to its cap at each reflector, and others still join', async () => {
    const attacker = testClientToken({ subject: 'attacker' });
    const results = [];
    for (let i = 0; i < 20; i++) results.push(await join(mesh[0]!, attacker));
    const admitted = results.filter((r) => r.status === 201).length;
    // 5 per reflector, whichever the mesh placed them at.
    expect(admitted).toBe(10);
    const refused = results.filter((r) => r.status !== 201);
    expect(refused.every((r) => r.status === 429 && r.code === 'RMESH_SESSION_LIMIT')).toBe(true);
    expect(refused[0]?.message).toMatch(/subject \(sub:attacker\) already holds 5 sessions or joins at this reflector.*--max-sessions-per-subject 5.*token per client/);
    // Through the other reflector too.
    expect(await join(mesh[1]!, attacker)).toMatchObject({ status: 429, code: 'RMESH_SESSION_LIMIT' });
    // Everybody else: room left in the mesh.
    expect((await join(mesh[0]!, testClientToken({ subject: 'guest' }))).status).toBe(201);
    expect((await join(mesh[1]!, testClientToken({ subject: 'guest-2' }))).status).toBe(201);
  });

});

describe('session caps per source address', () => {
  let r: ReflectorProcess;

  beforeAll(async () => {
    r = await startReflector({ address: addr(2), ...(await reflectorPorts()), ...TIMINGS, extraArgs: ['--max-sessions-per-source', '3', '--max-sessions-per-subject', '0'] });
  });

  afterAll(async () => {
    await stopAll([r]);
  });

  it('holds one address to its cap whatever tokens it uses', async () => {
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await join(r, testClientToken({ subject: `client-${i}` })));
    expect(results.map((x) => x.status)).toEqual([201, 201, 201, 429, 429]);
    expect(results[3]?.message).toMatch(/source address .* already holds 3 sessions or joins.*--max-sessions-per-source 3/);
  });
});

/** A token with these claims, tagged with the test mesh key's client-token subkey (what `rmesh token` refuses to mint). */
function handMinted(claims: object): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  const tag = createHmac('sha256', deriveMeshSubkey(testMeshKeyBytes(), 'client-token')).update(`rmt1.${payload}`).digest('base64url');
  return `rmt1.${payload}.${tag}`;
}

describe('client tokens at a reflector that knows its mesh', () => {
  let r: ReflectorProcess;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    r = await startReflector({ address: addr(3), ...(await reflectorPorts()), ...TIMINGS, env: { RMESH_MESH_NAME: 'studio' }, extraArgs: ['--max-token-lifetime', '2d'] });
  });

  afterAll(async () => {
    await stopAll([r]);
  });

  it('takes a token for its mesh', async () => {
    expect((await join(r, testClientToken({ mesh: 'studio' }))).status).toBe(201);
  });

  it('refuses a token of another mesh with the same key, and one naming no mesh', async () => {
    expect(await join(r, testClientToken({ mesh: 'lab' }))).toMatchObject({ status: 401, code: 'RMESH_TOKEN_WRONG_MESH', message: expect.stringMatching(/"lab", not "studio"/) as unknown });
    expect(await join(r, testClientToken())).toMatchObject({ status: 401, code: 'RMESH_TOKEN_WRONG_MESH', message: expect.stringMatching(/names no mesh.*--mesh studio/) as unknown });
  });

  it('refuses a token before its nbf', async () => {
    const early = testClientToken({ mesh: 'studio', notBefore: now() + 600 });
    expect(await join(r, early)).toMatchObject({ status: 401, code: 'RMESH_TOKEN_NOT_YET_VALID', message: expect.stringMatching(/not valid before/) as unknown });
  });

  it('refuses a token that lives longer than --max-token-lifetime', async () => {
    expect((await join(r, testClientToken({ mesh: 'studio', ttlSeconds: 2 * 86_400 }))).status).toBe(201);
    expect(await join(r, testClientToken({ mesh: 'studio', ttlSeconds: 3 * 86_400 }))).toMatchObject({ status: 401, code: 'RMESH_TOKEN_LIFETIME' });
    const forever = handMinted({ role: 'sendrecv', mesh: 'studio', iat: now(), exp: now() + 100 * 365 * 86_400 });
    expect(await join(r, forever)).toMatchObject({ status: 401, code: 'RMESH_TOKEN_LIFETIME', message: expect.stringMatching(/longer than the 172800 s this mesh accepts/) as unknown });
  });
});
