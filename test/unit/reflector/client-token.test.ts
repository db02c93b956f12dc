import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_TOKEN_PREFIX,
  ClientTokenError,
  checkTokenRole,
  MAX_TOKEN_LIFETIME_SECONDS,
  mintClientToken,
  peekClientTokenClaims,
  roleAllows,
  verifyClientToken,
  type ClientTokenFailure,
} from '../../../protocol/security/client-token.js';
import type { Role } from '../../../protocol/api-schemas.js';

const KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 8);
const NOW = 1_800_000_000;

function failure(fn: () => unknown): { reason: ClientTokenFailure; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof ClientTokenError) return { reason: err.reason, message: err.message };
    throw err;
  }
  throw new Error('expected a ClientTokenError, got none');
}

/** A token whose payload is `claims` as given (any JSON), tagged correctly with KEY. */
function forgeWithKey(claims: unknown, key = KEY): string {
  const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
  // The documented tag: HMAC-SHA256 over "rmt1.<payload>" (an independent check of the format).
  const tag = createHmac('sha256', key).update(`${CLIENT_TOKEN_PREFIX}.${payload}`).digest('base64url');
  return `${CLIENT_TOKEN_PREFIX}.${payload}.${tag}`;
}

describe('client tokens', () => {
  it('round-trips the claims and has the documented shape', () => {
    const token = mintClientToken(KEY, { role: 'recvonly', subject: 'cam-1', mesh: 'studio', ttlSeconds: 600, jti: 'abc', nowSeconds: NOW });
    expect(token).toMatch(/^rmt1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(verifyClientToken(token, KEY, { nowSeconds: NOW })).toEqual({ sub: 'cam-1', role: 'recvonly', mesh: 'studio', exp: NOW + 600, iat: NOW, jti: 'abc' });
    expect(peekClientTokenClaims(token)?.sub).toBe('cam-1');
  });

  it('defaults to sendrecv for one hour', () => {
    const claims = verifyClientToken(mintClientToken(KEY, { nowSeconds: NOW }), KEY, { nowSeconds: NOW });
    expect(claims).toEqual({ role: 'sendrecv', exp: NOW + 3600, iat: NOW });
  });

  it('refuses a token minted with another key', () => {
    const token = mintClientToken(OTHER_KEY, { nowSeconds: NOW });
    const f = failure(() => verifyClientToken(token, KEY, { nowSeconds: NOW }));
    expect(f.reason).toBe('bad_tag');
    expect(f.message).toMatch(/another mesh key/);
  });

  it('refuses an expired token, with a small allowance for clock skew', () => {
    const token = mintClientToken(KEY, { ttlSeconds: 60, nowSeconds: NOW });
    expect(verifyClientToken(token, KEY, { nowSeconds: NOW + 60 + 59 }).exp).toBe(NOW + 60);
    const f = failure(() => verifyClientToken(token, KEY, { nowSeconds: NOW + 60 + 61 }));
    expect(f.reason).toBe('expired');
    expect(f.message).toMatch(/expired at .* \(61 s ago\)/);
    expect(failure(() => verifyClientToken(token, KEY, { nowSeconds: NOW + 61, clockSkewSeconds: 0 })).reason).toBe('expired');
  });

  it('refuses a token issued in the future beyond the skew', () => {
    const token = mintClientToken(KEY, { nowSeconds: NOW + 600 });
    expect(failure(() => verifyClientToken(token, KEY, { nowSeconds: NOW })).reason).toBe('not_yet_valid');
    expect(verifyClientToken(mintClientToken(KEY, { nowSeconds: NOW + 30 }), KEY, { nowSeconds: NOW }).iat).toBe(NOW + 30);
  });

  it('refuses a token for another mesh, or for no mesh, when the reflector knows its mesh', () => {
    const token = mintClientToken(KEY, { mesh: 'a', nowSeconds: NOW });
    const other = failure(() => verifyClientToken(token, KEY, { nowSeconds: NOW, mesh: 'b' }));
    expect(other).toMatchObject({ reason: 'wrong_mesh', message: expect.stringMatching(/for mesh "a", not "b".*rmesh token --mesh b/) as unknown });
    expect(verifyClientToken(token, KEY, { nowSeconds: NOW, mesh: 'a' }).mesh).toBe('a');
    // Two meshes sharing a key: a token that names no mesh would be good in both.
    const unnamed = failure(() => verifyClientToken(mintClientToken(KEY, { nowSeconds: NOW }), KEY, { nowSeconds: NOW, mesh: 'b' }));
    expect(unnamed).toMatchObject({ reason: 'wrong_mesh', message: expect.stringMatching(/names no mesh/) as unknown });
    // A reflector told no mesh name does not check the claim.
    expect(verifyClientToken(token, KEY, { nowSeconds: NOW }).mesh).toBe('a');
  });

  it('refuses a token before its nbf, beyond the skew', () => {
    const token = mintClientToken(KEY, { nowSeconds: NOW, notBefore: NOW + 600, ttlSeconds: 3600 });
    const early = failure(() => verifyClientToken(token, KEY, { nowSeconds: NOW }));
    expect(early).toMatchObject({ reason: 'not_yet_valid', message: expect.stringMatching(/not valid before .* \(in 600 s\)/) as unknown });
    expect(failure(() => verifyClientToken(token, KEY, { nowSeconds: NOW + 539 })).reason).toBe('not_yet_valid');
    expect(verifyClientToken(token, KEY, { nowSeconds: NOW + 540 }).nbf).toBe(NOW + 600);
    expect(verifyClientToken(token, KEY, { nowSeconds: NOW + 601, clockSkewSeconds: 0 }).nbf).toBe(NOW + 600);
    expect(() => mintClientToken(KEY, { nowSeconds: NOW, notBefore: NOW + 60, ttlSeconds: 60 })).toThrow(/nbf must be before exp/);
  });

  it('refuses a token that lives longer than the most the mesh accepts', () => {
    // Minted by hand with the key (rmesh token stops at 366 days): a claim set that never expires.
    const forever = forgeWithKey({ role: 'sendrecv', iat: NOW, exp: NOW + 100 * 365 * 86_400 });
    const f = failure(() => verifyClientToken(forever, KEY, { nowSeconds: NOW }));
    expect(f).toMatchObject({ reason: 'lifetime', message: expect.stringMatching(/longer than the 31622400 s this mesh accepts/) as unknown });
    const day = mintClientToken(KEY, { nowSeconds: NOW, ttlSeconds: 86_400 });
    expect(verifyClientToken(day, KEY, { nowSeconds: NOW, maxLifetimeSeconds: 86_400 }).exp).toBe(NOW + 86_400);
    expect(failure(() => verifyClientToken(day, KEY, { nowSeconds: NOW, maxLifetimeSeconds: 86_399 })).reason).toBe('lifetime');
    expect(() => mintClientToken(KEY, { ttlSeconds: MAX_TOKEN_LIFETIME_SECONDS + 1 })).toThrow(RangeError);
  });

  it('says what is malformed', () => {
    for (const bad of ['', 'Bearer x', 'rmt1', 'rmt1..', 'rmt2.e30.AAAA', 'rmt1.e30', 'rmt1.a.b.c', 'rmt1.e3 0.abc', 'x'.repeat(5000)]) {
      expect(failure(() => verifyClientToken(bad, KEY, { nowSeconds: NOW })).reason, bad.slice(0, 20)).toBe('malformed');
    }
  });

  it('checks the claims of a correctly tagged payload (a minter bug, or a leaked key misused)', () => {
    const cases: unknown[] = [
      [],
      'x',
      { role: 'admin', exp: NOW + 10, iat: NOW },
      { role: 'sendrecv', exp: 'soon', iat: NOW },
      { role: 'sendrecv', exp: NOW, iat: NOW },
      { role: 'sendrecv', exp: NOW + 10.5, iat: NOW },
      { role: 'sendrecv', exp: NOW + 10, iat: NOW, sub: '' },
      { role: 'sendrecv', exp: NOW + 10, iat: NOW, mesh: 3 },
    ];
    for (const claims of cases) {
      const f = failure(() => verifyClientToken(forgeWithKey(claims), KEY, { nowSeconds: NOW }));
      expect(f.reason, JSON.stringify(claims)).toBe('malformed');
    }
    // Unknown claims are ignored, for newer minters.
    expect(verifyClientToken(forgeWithKey({ role: 'sendonly', exp: NOW + 10, iat: NOW, extra: 1 }), KEY, { nowSeconds: NOW })).toEqual({
      role: 'sendonly',
      exp: NOW + 10,
      iat: NOW,
    });
  });

  it('refuses to mint claims that would not verify', () => {
    expect(() => mintClientToken(KEY, { ttlSeconds: 0 })).toThrow(RangeError);
    expect(() => mintClientToken(KEY, { subject: '' })).toThrow(/sub must be/);
    expect(() => mintClientToken(KEY, { role: 'admin' as Role })).toThrow(/role/);
  });

  it('lets a token allow its role or less', () => {
    expect(roleAllows('sendrecv', 'recvonly')).toBe(true);
    expect(roleAllows('sendrecv', 'sendonly')).toBe(true);
    expect(roleAllows('recvonly', 'recvonly')).toBe(true);
    expect(roleAllows('recvonly', 'sendrecv')).toBe(false);
    expect(roleAllows('sendonly', 'recvonly')).toBe(false);
    const claims = verifyClientToken(mintClientToken(KEY, { role: 'recvonly', nowSeconds: NOW }), KEY, { nowSeconds: NOW });
    const f = failure(() => checkTokenRole(claims, 'sendrecv'));
    expect(f.reason).toBe('role');
    expect(f.message).toMatch(/allows role recvonly only, not sendrecv/);
  });
});

describe('client tokens (properties)', () => {
  const role = fc.constantFrom<Role>('sendrecv', 'recvonly', 'sendonly');
  const text = (max: number) => fc.string({ minLength: 1, maxLength: max, unit: 'grapheme' });
  const mint = fc.record({
    role,
    subject: fc.option(text(40), { nil: undefined }),
    mesh: fc.option(text(30), { nil: undefined }),
    ttlSeconds: fc.integer({ min: 1, max: MAX_TOKEN_LIFETIME_SECONDS }),
    jti: fc.option(text(20), { nil: undefined }),
    nowSeconds: fc.integer({ min: 0, max: 4_000_000_000 }),
  });

  it('round trip: whatever is minted verifies to the same claims', () => {
    fc.assert(
      fc.property(mint, fc.uint8Array({ minLength: 16, maxLength: 64 }), (opts, key) => {
        const k = Buffer.from(key);
        const options = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
        const claims = verifyClientToken(mintClientToken(k, options), k, { nowSeconds: opts.nowSeconds });
        expect(claims.role).toBe(opts.role);
        expect(claims.sub).toBe(opts.subject);
        expect(claims.mesh).toBe(opts.mesh);
        expect(claims.jti).toBe(opts.jti);
        expect(claims.exp - claims.iat).toBe(opts.ttlSeconds);
      }),
    );
  });

  it('changing any one character of a token makes it fail', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ';
    fc.assert(
      fc.property(mint, fc.nat(), fc.constantFrom(...alphabet), (opts, at, ch) => {
        const options = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
        const token = mintClientToken(KEY, options);
        const i = at % token.length;
        fc.pre(token[i] !== ch);
        const tampered = token.slice(0, i) + ch + token.slice(i + 1);
        expect(() => verifyClientToken(tampered, KEY, { nowSeconds: opts.nowSeconds })).toThrow(ClientTokenError);
      }),
      { numRuns: 500 },
    );
  });

  it('dropping or appending characters makes it fail', () => {
    fc.assert(
      fc.property(mint, fc.nat(), fc.string({ minLength: 1, maxLength: 4 }), (opts, at, extra) => {
        const options = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined));
        const token = mintClientToken(KEY, options);
        const cut = at % token.length;
        const verify = (t: string) => () => verifyClientToken(t, KEY, { nowSeconds: opts.nowSeconds });
        expect(verify(token.slice(0, cut))).toThrow(ClientTokenError);
        expect(verify(token + extra)).toThrow(ClientTokenError);
      }),
    );
  });

  it('any string is refused with a ClientTokenError, never another exception', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((s) => `rmt1.${s}`), fc.tuple(fc.string(), fc.string()).map(([a, b]) => `rmt1.${a}.${b}`)), (s) => {
        expect(() => verifyClientToken(s, KEY, { nowSeconds: NOW })).toThrow(ClientTokenError);
      }),
    );
  });

  it('a random key never verifies another key\'s token', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (key) => {
        fc.pre(!Buffer.from(key).equals(KEY));
        const token = mintClientToken(KEY, { nowSeconds: NOW });
        expect(failure(() => verifyClientToken(token, Buffer.from(key), { nowSeconds: NOW })).reason).toBe('bad_tag');
      }),
      { numRuns: 50 },
    );
  });
});
