// The OpenAPI document of the control API (issue 13, finding 12): every route lists the refusals it can
// give (400, 401, 403, 429 ...) with the ErrorBody schema, /metrics is text/plain (Prometheus), not
// JSON, and the 405 routes stay out of it.
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type ApiServer } from '../../../reflector/api/server.js';
import { Reflector } from '../../../reflector/reflector.js';
import { reflectorConfig } from '../fuzz/reflector-config.js';

interface Operation {
  tags?: string[];
  responses: Record<string, { description?: string; content?: Record<string, { schema: { properties?: Record<string, unknown> } }> }>;
}

let reflector: Reflector;
let app: ApiServer;
let paths: Record<string, Record<string, Operation>>;

beforeAll(async () => {
  const config = await reflectorConfig(['--address', '127.0.9.1', '--data-port', '50010', '--control-port', '50011', '--data-plane', 'js', '--log-level', 'silent'], {
    RMESH_MESH_KEY: Buffer.alloc(32, 7).toString('base64'),
  });
  reflector = new Reflector(config, pino({ level: 'silent' }));
  app = await buildServer(reflector, pino({ level: 'silent' }));
  paths = (app.swagger() as unknown as { paths: typeof paths }).paths;
});

afterAll(async () => {
  await app?.close();
  await reflector?.stop();
});

const operations = () => Object.entries(paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, op]) => ({ what: `${method.toUpperCase()} ${path}`, op })));

/** The error codes a route's responses list with the ErrorBody schema. */
function errorCodes(op: Operation): string[] {
  return Object.entries(op.responses)
    .filter(([, r]) => {
      const props = r.content?.['application/json']?.schema.properties ?? {};
      return ['statusCode', 'code', 'error', 'message'].every((k) => k in props);
    })
    .map(([code]) => code);
}

describe('the OpenAPI document', () => {
  it('lists 400, 401 and 429 with ErrorBody on every peer, admin and client route, 403 on join', () => {
    const audience = operations().filter(({ op }) => op.tags?.some((t) => ['peers', 'admin', 'clients'].includes(t)));
    expect(audience.length).toBeGreaterThanOrEqual(14);
    for (const { what, op } of audience) expect(errorCodes(op), what).toEqual(expect.arrayContaining(['400', '401', '429']));
    expect(errorCodes(paths['/v1/join']!.post!)).toContain('403');
  });

  it('describes /metrics as text/plain, not JSON, and serves it so', async () => {
    const ok = paths['/metrics']!.get!.responses['200']!;
    expect(Object.keys(ok.content ?? {})).toEqual(['text/plain']);
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.body).toMatch(/^# HELP /m);
  });

  it('leaves the 405 routes out', () => {
    expect(Object.keys(paths['/v1/peers/bye']!)).toEqual(['post']);
    expect(Object.keys(paths['/v1/peers']!).sort()).toEqual(['get', 'put']);
  });
});
