// Session caps (reflector/session-caps.ts): what one token subject and one source address may hold at a
// reflector, table-driven; the same token used many times is one subject; pending joins count.
import { describe, expect, it } from 'vitest';
import { ApiError } from '../../../protocol/errors.js';
import { PendingJoins, defaultSessionsPerSubject, sessionCapError, tokenSubject, type SessionOwner } from '../../../reflector/session-caps.js';

const owners = (n: number, owner: SessionOwner): SessionOwner[] => Array.from({ length: n }, () => owner);
const A = { subject: 'sub:a', source: '10.0.0.1' };

describe('session caps', () => {
  it.each([
    { held: owners(4, A), caps: { perSubject: 5, perSource: 0 }, refused: undefined },
    { held: owners(5, A), caps: { perSubject: 5, perSource: 0 }, refused: /subject \(sub:a\) already holds 5 .*--max-sessions-per-subject 5/ },
    { held: owners(5, { subject: 'sub:b', source: '10.0.0.1' }), caps: { perSubject: 5, perSource: 0 }, refused: undefined },
    { held: owners(5, { subject: 'sub:b', source: '10.0.0.1' }), caps: { perSubject: 5, perSource: 5 }, refused: /source address 10\.0\.0\.1 already holds 5 .*--max-sessions-per-source 5/ },
    { held: owners(100, A), caps: { perSubject: 0, perSource: 0 }, refused: undefined },
    { held: owners(100, A), caps: undefined, refused: undefined },
  ])('$held.length held, caps $caps', ({ held, caps, refused }) => {
    const error = sessionCapError(A, held, caps);
    if (refused === undefined) return expect(error).toBeUndefined();
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ statusCode: 429, code: 'RMESH_SESSION_LIMIT', message: expect.stringMatching(refused) as unknown });
  });

  it('an open mesh (no subject) is capped by source only', () => {
    const open = { source: '10.0.0.1' };
    expect(sessionCapError(open, owners(9, open), { perSubject: 1, perSource: 10 })).toBeUndefined();
    expect(sessionCapError(open, owners(10, open), { perSubject: 1, perSource: 10 })?.code).toBe('RMESH_SESSION_LIMIT');
  });

  it('one token without a subject is one subject however often it is used; two tokens are two', () => {
    const claims = { role: 'sendrecv' as const, exp: 2, iat: 1 };
    expect(tokenSubject(claims, 'rmt1.x.y')).toBe(tokenSubject(claims, 'rmt1.x.y'));
    expect(tokenSubject(claims, 'rmt1.x.y')).not.toBe(tokenSubject(claims, 'rmt1.x.z'));
    expect(tokenSubject({ ...claims, sub: 'cam' }, 'rmt1.x.y')).toBe(tokenSubject({ ...claims, sub: 'cam' }, 'rmt1.q.r'));
  });

  it('counts joins in flight until they are released', () => {
    const pending = new PendingJoins();
    const releases = [pending.add(A), pending.add(A)];
    expect([...pending.all()]).toHaveLength(2);
    expect(sessionCapError(A, pending.all(), { perSubject: 2, perSource: 0 })?.statusCode).toBe(429);
    releases[0]!();
    releases[0]!();
    expect([...pending.all()]).toHaveLength(1);
    expect(sessionCapError(A, pending.all(), { perSubject: 2, perSource: 0 })).toBeUndefined();
  });

  it('defaults the subject cap to a quarter of the mesh, else 64', () => {
    expect([defaultSessionsPerSubject(0), defaultSessionsPerSubject(20), defaultSessionsPerSubject(2), defaultSessionsPerSubject(1000)]).toEqual([64, 5, 1, 250]);
  });
});
