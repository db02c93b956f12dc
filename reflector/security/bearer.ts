// The one comparison of a bearer token (admin token, session key) with the expected value: constant
// time, so the answer's timing does not reveal how much of a guess was right.
import { timingSafeEqual } from 'node:crypto';

export function bearerMatches(authorization: string | undefined, expected: string): boolean {
  if (!authorization?.startsWith('Bearer ')) return false;
  const given = Buffer.from(authorization.slice(7).trim());
  const want = Buffer.from(expected);
  return given.length === want.length && timingSafeEqual(given, want);
}
