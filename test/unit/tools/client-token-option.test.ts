// The SDK presents its client token on every join (the first, and each failover's fresh join): a fixed
// string, or a function asked each time; none sends no Authorization header. A join refused 429 is
// asked again after Retry-After.
import { afterEach, describe, expect, it } from 'vitest';
import { MeshClient } from '../../../client/mesh-client.js';
import { FakeReflector } from './fake-reflector.js';

const HOST = '127.0.5.201';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function reflector(): Promise<FakeReflector> {
  const r = new FakeReflector(HOST, false);
  await r.start();
  cleanups.push(() => r.stop());
  return r;
}

function client(r: FakeReflector, token?: ConstructorParameters<typeof MeshClient>[0]['token']): MeshClient {
  const c = new MeshClient({ join: r.join, bindAddress: HOST, ...(token !== undefined ? { token } : {}) });
  c.on('warning', () => {});
  cleanups.push(() => c.close());
  return c;
}

describe('MeshClient token option', () => {
  it('sends a fixed token as the bearer token of the join, trimmed', async () => {
    const r = await reflector();
    await client(r, ' rmt1.abc.def\n').join();
    expect(r.joinAuthorizations).toEqual(['Bearer rmt1.abc.def']);
  });

  it('asks a token function before every join, failovers included', async () => {
    const r = await reflector();
    let n = 0;
    const c = client(r, async () => Promise.resolve(`rmt1.t${++n}.x`));
    await c.join();
    await c.failover('requested');
    expect(r.joinAuthorizations).toEqual(['Bearer rmt1.t1.x', 'Bearer rmt1.t2.x']);
  });

  it('sends no Authorization header without a token (an open mesh)', async () => {
    const r = await reflector();
    await client(r).join();
    expect(r.joinAuthorizations).toEqual([undefined]);
  });

  it('stops failing over when the mesh refuses a fixed token, and says why', async () => {
    const r = await reflector();
    const c = client(r, 'rmt1.fixed.x');
    await c.join();
    const closed = new Promise<string>((resolve) => c.once('closed', resolve));
    r.refuseJoins = { statusCode: 401, code: 'RMESH_TOKEN_EXPIRED' };
    await c.failover('requested');
    expect(await closed).toBe('token refused: RMESH_TOKEN_EXPIRED');
    expect(r.joinAuthorizations).toEqual(['Bearer rmt1.fixed.x', 'Bearer rmt1.fixed.x']);
    expect(c.info).toBeUndefined();
  });

  it('a refused first join rejects with the protocol code', async () => {
    const r = await reflector();
    r.refuseJoins = { statusCode: 403, code: 'RMESH_ROLE_FORBIDDEN' };
    await expect(client(r, 'rmt1.a.b').join()).rejects.toMatchObject({ statusCode: 403, code: 'RMESH_ROLE_FORBIDDEN' });
  });

  it('comes back after Retry-After when a reflector rate-limits its join, a few times at most', async () => {
    const r = await reflector();
    r.rateLimitJoins = { times: 2, retryAfter: '1' };
    const c = client(r, 'rmt1.a.b');
    const warnings: string[] = [];
    c.on('warning', (w: Error) => warnings.push(w.message));
    const started = Date.now();
    await c.join();
    expect(r.joinAuthorizations).toHaveLength(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(warnings.filter((w) => /rate-limiting joins; retrying in 1000 ms/.test(w))).toHaveLength(2);

    const r2 = await reflector();
    r2.rateLimitJoins = { times: 3, retryAfter: '0' };
    await expect(client(r2, 'rmt1.a.b').join()).rejects.toMatchObject({ statusCode: 429, code: 'RMESH_RATE_LIMITED', retryAfterMs: 0 });
    expect(r2.joinAuthorizations).toHaveLength(3);
  });

  it('does not ask again when the 429 is a session cap, which waiting does not lift', async () => {
    const r = await reflector();
    r.refuseJoins = { statusCode: 429, code: 'RMESH_SESSION_LIMIT' };
    await expect(client(r, 'rmt1.a.b').join()).rejects.toMatchObject({ statusCode: 429, code: 'RMESH_SESSION_LIMIT' });
    expect(r.joinAuthorizations).toHaveLength(1);
  });

  it('does not wait out a long Retry-After: the 429 comes back at once', async () => {
    const r = await reflector();
    r.rateLimitJoins = { times: 1, retryAfter: '60' };
    await expect(client(r, 'rmt1.a.b').join()).rejects.toMatchObject({ statusCode: 429, retryAfterMs: 60_000 });
    expect(r.joinAuthorizations).toHaveLength(1);
  });
});
