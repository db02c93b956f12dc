// The join route of a keyed reflector fed arbitrary Authorization headers (fast-check, through fastify's
// inject; the reflector is not started): random text, near-tokens, valid tokens with one character
// changed, tokens of another key, expired ones. Properties: never admitted, always a JSON 401 with a
// RMESH_TOKEN_* code and a message, no session created; a valid token still joins afterwards.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, type ApiServer } from '../../../reflector/api/server.js';
import { Reflector } from '../../../reflector/reflector.js';
import { mintClientTokenWithMeshKey } from '../../../protocol/security/client-token.js';
import { reflectorConfig } from '../fuzz/reflector-config.js';

const KEY = Buffer.alloc(32, 9);
let reflector: Reflector;
let app: ApiServer;

beforeAll(async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'rmesh-key-')), 'key');
  writeFileSync(file, KEY.toString('base64'));
  const config = await reflectorConfig(['--address', '127.0.9.190', '--data-port', '52010', '--control-port', '52011', '--mesh-key-file', file, '--data-plane', 'js', '--log-level', 'silent']);
  reflector = new Reflector({ ...config, apiRateLimit: undefined }, pino({ level: 'silent' }));
  app = await buildServer(reflector, pino({ level: 'silent' }));
});

afterAll(async () => {
  await app?.close();
  await reflector?.stop();
});

const valid = (): string => mintClientTokenWithMeshKey(KEY);
const now = (): number => Math.floor(Date.now() / 1000);

const authorization = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ maxLength: 300 }).map((s) => `Bearer ${s}`),
  fc.tuple(fc.string({ maxLength: 80 }), fc.string({ maxLength: 80 })).map(([a, b]) => `Bearer rmt1.${a}.${b}`),
  fc.tuple(fc.nat(), fc.constantFrom(...'ABCabc019-_.=/+ ')).map(([at, ch]) => {
    const t = valid();
    const i = at % t.length;
    return `Bearer ${t.slice(0, i)}${t[i] === ch ? (ch === 'A' ? 'B' : 'A') : ch}${t.slice(i + 1)}`;
  }),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((k) => `Bearer ${mintClientTokenWithMeshKey(Buffer.from(k))}`),
  fc.integer({ min: 61, max: 10_000_000 }).map((ago) => `Bearer ${mintClientTokenWithMeshKey(KEY, { nowSeconds: now() - ago - 60, ttlSeconds: 60 })}`),
);

describe('the join route of a keyed reflector under arbitrary Authorization headers', () => {
  it('never admits, always answers a JSON 401 with a token code', async () => {
    await fc.assert(
      fc.asyncProperty(authorization, fc.jsonValue({ maxDepth: 2 }), async (header, body) => {
        const response = await app.inject({ method: 'POST', url: '/v1/join', headers: { authorization: header }, payload: JSON.stringify(body), })
          .catch((err: unknown) => {
            // A header value Node refuses to send (control characters) never reaches the route.
            if (err instanceof TypeError) return undefined;
            throw err;
          });
        if (!response) return;
        expect(response.statusCode).toBe(401);
        const json = response.json<{ code: string; message: string }>();
        expect(json.code).toMatch(/^RMESH_TOKEN_(REQUIRED|INVALID|EXPIRED)$/);
        expect(json.message.length).toBeGreaterThan(10);
        expect(reflector.sessions.all()).toEqual([]);
      }),
      { numRuns: 400 },
    );
    const ok = await app.inject({ method: 'POST', url: '/v1/join', headers: { authorization: `Bearer ${valid()}` }, payload: {} });
    expect(ok.statusCode).toBe(201);
    expect(reflector.sessions.all()).toHaveLength(1);
  });
});
