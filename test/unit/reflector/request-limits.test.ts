// Control API request limits (docs/security.md "Limits"): the per-source token bucket and its key, and
// the reflector's API through fastify inject: 413 for a client body above 16 KiB (admin routes take
// more), 429 with Retry-After and a clear message once a source's burst is spent, other sources and the
// admin token unaffected, and no limit at --api-rate-limit 0.
import { Command } from 'commander';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { register, toConfig } from '../../../cli/reflector.js';
import type { ReflectorConfig } from '../../../reflector/config.js';
import { Reflector } from '../../../reflector/reflector.js';
import { buildServer, CLIENT_BODY_LIMIT, type ApiServer } from '../../../reflector/api/server.js';
import { SourceLimiter, sourceKey } from '../../../protocol/http-limits.js';

const ADMIN = 'limits-admin-token';

/** A ReflectorConfig as `rmesh reflector ARGV` builds it, with the real flags and defaults. */
async function reflectorConfig(argv: string[]): Promise<ReflectorConfig> {
  const program = new Command('rmesh').exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  register(program);
  let config: ReflectorConfig | undefined;
  const command = program.commands.find((c) => c.name() === 'reflector')!;
  command.exitOverride().action((flags: Parameters<typeof toConfig>[0]) => {
    config = toConfig(flags);
  });
  await program.parseAsync(['reflector', ...argv], { from: 'user' });
  return config!;
}

describe('sourceKey', () => {
  it('keys IPv4 by address (also v4-mapped) and IPv6 by its /64', () => {
    expect(sourceKey('192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(sourceKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:2::99')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
  });
});

describe('SourceLimiter', () => {
  it('lets a burst through, then says when to retry; refills at the rate', () => {
    const limiter = new SourceLimiter({ perSecond: 2, burst: 5 });
    const results = Array.from({ length: 7 }, () => limiter.take('a', 1000));
    expect(results).toEqual([0, 0, 0, 0, 0, 1, 1]);
    expect(limiter.take('b', 1000)).toBe(0); // another source has its own bucket
    expect(limiter.take('a', 1500)).toBe(0); // 0.5 s at 2/s = one more
    expect(limiter.take('a', 1500)).toBe(1);
  });

  it('remembers a bounded number of sources, forgetting the least recently seen', () => {
    const limiter = new SourceLimiter({ perSecond: 1, burst: 1 }, 3);
    for (const k of ['a', 'b', 'c']) expect(limiter.take(k, 1)).toBe(0);
    expect(limiter.take('a', 1)).toBe(1); // a is now the most recent
    expect(limiter.take('d', 1)).toBe(0); // evicts b
    expect(limiter.sources).toBe(3);
    expect(limiter.take('a', 1)).toBe(1); // a was kept, still empty
    expect(limiter.take('b', 1)).toBe(0); // b was forgotten: full again
  });

  it('refuses a limit that could never admit anything', () => {
    expect(() => new SourceLimiter({ perSecond: 0, burst: 1 })).toThrow(RangeError);
  });
});

describe('the reflector control API', () => {
  let reflector: Reflector | undefined;
  let app: ApiServer | undefined;
  afterEach(async () => {
    await app?.close();
    await reflector?.stop();
    app = undefined;
    reflector = undefined;
  });
  const build = async (extra: string[] = []) => {
    const config = await reflectorConfig(['--address', '127.0.9.1', '--data-port', '50500', '--control-port', '50501', '--admin-token', ADMIN, '--open-mesh', '--data-plane', 'js', ...extra]);
    reflector = new Reflector(config, pino({ level: 'silent' }));
    app = await buildServer(reflector, pino({ level: 'silent' }));
    return app;
  };

  it('answers 413 with the limit for a client body above 16 KiB, while admin routes take more', async () => {
    const app = await build();
    const big = { role: 'sendrecv', name: 'x'.repeat(CLIENT_BODY_LIMIT) };
    const join = await app.inject({ method: 'POST', url: '/v1/join', payload: big });
    expect(join.statusCode).toBe(413);
    expect(join.json()).toMatchObject({ statusCode: 413, code: 'RMESH_BODY_TOO_LARGE' });
    expect(join.json<{ message: string }>().message).toContain(`larger than ${CLIENT_BODY_LIMIT} bytes POST /v1/join accepts`);
    // The same size on an admin route passes the size check (and fails validation instead).
    const peers = await app.inject({ method: 'PUT', url: '/v1/peers', headers: { authorization: `Bearer ${ADMIN}` }, payload: { peers: [], padding: 'x'.repeat(CLIENT_BODY_LIMIT) } });
    expect(peers.statusCode).not.toBe(413);
    // A small join is fine.
    expect((await app.inject({ method: 'POST', url: '/v1/join', payload: { role: 'sendrecv' } })).statusCode).toBe(201);
  });

  it('answers 429 with Retry-After once a source spent its burst; other sources, the admin token and probes go on', async () => {
    const app = await build(['--api-rate-limit', '1', '--api-rate-burst', '3']);
    // A path no route serves counts (a scanner), as do the client routes.
    const from = (remoteAddress: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url: '/wp-login.php', remoteAddress, headers });
    for (let i = 0; i < 3; i++) expect((await from('192.0.2.1')).statusCode).toBe(404);
    const limited = await from('192.0.2.1');
    expect(limited.statusCode).toBe(429);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(limited.json()).toMatchObject({ statusCode: 429, code: 'RMESH_RATE_LIMITED', error: 'Too Many Requests' });
    expect(limited.json<{ message: string }>().message).toMatch(/too many requests from 192\.0\.2\.1: the limit is 1 per second with bursts of 3; retry after \d+ s/);
    // A join is refused before its body is read, too.
    expect((await app.inject({ method: 'POST', url: '/v1/join', remoteAddress: '192.0.2.1', payload: { role: 'sendrecv' } })).statusCode).toBe(429);
    expect((await from('192.0.2.2')).statusCode).toBe(404);
    for (let i = 0; i < 10; i++) expect((await from('192.0.2.1', { authorization: `Bearer ${ADMIN}` })).statusCode).toBe(404);
    // Probes, metrics, and the admin routes (the operator's, guarded by the token) are never throttled.
    for (const url of ['/healthz', '/readyz', '/metrics']) expect((await app.inject({ method: 'GET', url, remoteAddress: '192.0.2.1' })).statusCode).not.toBe(429);
    expect((await app.inject({ method: 'GET', url: '/v1/status', remoteAddress: '192.0.2.1' })).statusCode).toBe(401);
    // A wrong token is just another request from that source.
    expect((await from('192.0.2.1', { authorization: 'Bearer wrong' })).statusCode).toBe(429);
    // Every refusal is counted.
    const metrics = await app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^rmesh_api_requests_rate_limited_total 3$/m);
  });

  it('limits nothing with --api-rate-limit 0', async () => {
    const app = await build(['--api-rate-limit', '0']);
    for (let i = 0; i < 300; i++) expect((await app.inject({ method: 'GET', url: '/nothing', remoteAddress: '192.0.2.9' })).statusCode).toBe(404);
  });

  it('has the default limit on: 20 per second, bursts of 100', async () => {
    const app = await build();
    const codes: number[] = [];
    for (let i = 0; i < 101; i++) codes.push((await app.inject({ method: 'POST', url: '/v1/sessions/000000000001/leave', remoteAddress: '192.0.2.10' })).statusCode);
    expect(codes.filter((c) => c !== 429).length).toBeGreaterThanOrEqual(100);
    const more = [];
    for (let i = 0; i < 40; i++) more.push((await app.inject({ method: 'POST', url: '/v1/sessions/000000000001/leave', remoteAddress: '192.0.2.10' })).statusCode);
    expect(more).toContain(429);
  });
});
