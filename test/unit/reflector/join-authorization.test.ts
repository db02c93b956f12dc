import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../protocol/errors.js';
import { JoinAuthorizer, bearerToken } from '../../../reflector/security/join-authorization.js';
import { mintClientToken, mintClientTokenWithMeshKey } from '../../../protocol/security/client-token.js';

const MESH_KEY = Buffer.alloc(32, 3);
const NOW = 1_800_000_000;

function apiError(fn: () => unknown): { statusCode: number; code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ApiError) return { statusCode: err.statusCode, code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected an ApiError');
}

describe('JoinAuthorizer', () => {
  const keyed = new JoinAuthorizer(MESH_KEY);
  const bearer = (t: string) => `Bearer ${t}`;

  it('needs a token in a keyed mesh, none in an open one', () => {
    expect(keyed.tokenRequired).toBe(true);
    expect(apiError(() => keyed.authenticate(undefined, NOW))).toMatchObject({ statusCode: 401, code: 'RMESH_TOKEN_REQUIRED' });
    expect(apiError(() => keyed.authenticate('Basic abc', NOW))).toMatchObject({ statusCode: 401, code: 'RMESH_TOKEN_REQUIRED' });
    const open = new JoinAuthorizer(undefined);
    expect(open.tokenRequired).toBe(false);
    expect(open.authenticate(undefined)).toBeUndefined();
    expect(open.authenticate(bearer('rmt1.garbage.x'))).toBeUndefined();
    expect(open.role(undefined, undefined)).toBe('sendrecv');
    expect(open.role(undefined, 'sendonly')).toBe('sendonly');
  });

  it('maps each refusal to its status and code', () => {
    const expired = mintClientTokenWithMeshKey(MESH_KEY, { nowSeconds: NOW - 3600, ttlSeconds: 60 });
    expect(apiError(() => keyed.authenticate(bearer(expired), NOW))).toMatchObject({ statusCode: 401, code: 'RMESH_TOKEN_EXPIRED', message: expect.stringMatching(/expired/) as unknown });
    const other = mintClientTokenWithMeshKey(Buffer.alloc(32, 4), { nowSeconds: NOW });
    expect(apiError(() => keyed.authenticate(bearer(other), NOW))).toMatchObject({ statusCode: 401, code: 'RMESH_TOKEN_INVALID' });
    expect(apiError(() => keyed.authenticate(bearer('x'), NOW))).toMatchObject({ statusCode: 401, code: 'RMESH_TOKEN_INVALID' });
    // Tokens are tagged with the client-token subkey, never the mesh key itself.
    expect(apiError(() => keyed.authenticate(bearer(mintClientToken(MESH_KEY, { nowSeconds: NOW })), NOW))).toMatchObject({ code: 'RMESH_TOKEN_INVALID' });
    expect(keyed.authenticate(bearer(mintClientTokenWithMeshKey(MESH_KEY, { nowSeconds: NOW })), NOW)?.role).toBe('sendrecv');
  });

  it('gives not-yet-valid, wrong-mesh and too-long-lived tokens their own codes', () => {
    const studio = new JoinAuthorizer(MESH_KEY, { mesh: 'studio', maxTokenLifetimeSeconds: 86_400 });
    const mint = (o: Parameters<typeof mintClientTokenWithMeshKey>[1]) => bearer(mintClientTokenWithMeshKey(MESH_KEY, { nowSeconds: NOW, mesh: 'studio', ...o }));
    expect(studio.authenticate(mint({}), NOW)?.mesh).toBe('studio');
    expect(apiError(() => studio.authenticate(mint({ notBefore: NOW + 3000, ttlSeconds: 7200 }), NOW))).toMatchObject({ statusCode: 401, code: 'RMESH_TOKEN_NOT_YET_VALID' });
    expect(apiError(() => studio.authenticate(mint({ mesh: 'lab' }), NOW))).toMatchObject({ statusCode: 401, code: 'RMESH_TOKEN_WRONG_MESH', message: expect.stringMatching(/"lab", not "studio"/) as unknown });
    expect(apiError(() => studio.authenticate(bearer(mintClientTokenWithMeshKey(MESH_KEY, { nowSeconds: NOW })), NOW))).toMatchObject({ code: 'RMESH_TOKEN_WRONG_MESH' });
    expect(apiError(() => studio.authenticate(mint({ ttlSeconds: 86_401 }), NOW))).toMatchObject({ statusCode: 401, code: 'RMESH_TOKEN_LIFETIME' });
  });

  it('admits the role asked for when the token allows it, else the token\'s role', () => {
    const listen = keyed.authenticate(bearer(mintClientTokenWithMeshKey(MESH_KEY, { role: 'recvonly', nowSeconds: NOW })), NOW)!;
    expect(keyed.role(listen, undefined)).toBe('recvonly');
    expect(keyed.role(listen, 'recvonly')).toBe('recvonly');
    expect(apiError(() => keyed.role(listen, 'sendrecv'))).toMatchObject({ statusCode: 403, code: 'RMESH_ROLE_FORBIDDEN' });
    const all = keyed.authenticate(bearer(mintClientTokenWithMeshKey(MESH_KEY, { nowSeconds: NOW })), NOW)!;
    expect(keyed.role(all, 'sendonly')).toBe('sendonly');
    expect(keyed.role(all, undefined)).toBe('sendrecv');
  });

  it('reads "Bearer <token>" with any case of the scheme', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer  abc ')).toBe('abc');
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
