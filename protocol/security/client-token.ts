// Client tokens (docs/security.md "Client tokens", docs/protocol.md §3.1): what a client presents to
// join a keyed mesh. A token is `rmt1.<payload>.<tag>`: the payload is base64url JSON claims (subject,
// the most the token allows as a role, the mesh, expiry, issue time, an optional start of validity and
// id) and the tag is
// HMAC-SHA256 over `rmt1.<payload>` with the mesh key's client-token subkey. Anyone holding the mesh
// key mints tokens (`rmesh token`); every reflector of the mesh verifies them with no round trip.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Role } from '../api-schemas.js';
import { deriveMeshSubkey } from './mesh-key.js';

export const CLIENT_TOKEN_PREFIX = 'rmt1';
/** Clock difference between the minting host and a reflector that is tolerated on exp and iat. */
export const DEFAULT_CLOCK_SKEW_SECONDS = 60;
/**
 * The longest lifetime (exp - iat) a token may have, when minting (`rmesh token --ttl`) and, unless the
 * reflector sets less (--max-token-lifetime), when verifying: a token is a bearer credential with no
 * revocation list, so one minted to last for ever (by hand, with the key) is refused.
 */
export const MAX_TOKEN_LIFETIME_SECONDS = 366 * 86_400;
/** Longer tokens are refused before any work: they are not ours and would only cost time. */
export const MAX_CLIENT_TOKEN_LENGTH = 2048;

const ROLES: readonly Role[] = ['sendrecv', 'recvonly', 'sendonly'];
const B64URL = /^[A-Za-z0-9_-]+$/;
const TAG_BYTES = 32;
const MAX_SUBJECT = 128;
const MAX_MESH = 253;
const MAX_JTI = 128;

export interface ClientTokenClaims {
  /** The client's name (shown as the session's name when the join names none). */
  sub?: string;
  /** The most the token allows: sendrecv allows every role, recvonly and sendonly only themselves. */
  role: Role;
  /**
   * The mesh the token is for. A reflector that knows its mesh name (--mesh-name) refuses a token for
   * another mesh, and one that names none: two meshes that share a key do not take each other's tokens.
   */
  mesh?: string;
  /** Expiry, unix seconds. */
  exp: number;
  /** Issue time, unix seconds. */
  iat: number;
  /** Not valid before, unix seconds (optional; a token for a planned session). */
  nbf?: number;
  /** A token id, for the issuer's records (reflectors keep no list). */
  jti?: string;
}

export type ClientTokenFailure = 'malformed' | 'bad_tag' | 'expired' | 'not_yet_valid' | 'wrong_mesh' | 'lifetime' | 'role';

/** Why a token was refused; `reason` is for code, the message for people. */
export class ClientTokenError extends Error {
  override name = 'ClientTokenError';
  constructor(
    readonly reason: ClientTokenFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface MintOptions {
  role?: Role;
  subject?: string;
  mesh?: string;
  /** Lifetime in seconds, counted from the issue time (default one hour). */
  ttlSeconds?: number;
  jti?: string;
  /** Issue time, unix seconds (default now). */
  nowSeconds?: number;
  /** Not valid before this time, unix seconds (default: valid from the issue time). */
  notBefore?: number;
}

/**
 * Mints a token with the client-token subkey of the mesh key (deriveMeshSubkey(key, 'client-token')).
 * Throws RangeError for claims that would not verify (a bad role, an empty subject, a lifetime <= 0).
 */
export function mintClientToken(subkey: Buffer, options: MintOptions = {}): string {
  const iat = options.nowSeconds ?? nowSeconds();
  const ttl = options.ttlSeconds ?? 3600;
  if (!Number.isInteger(ttl) || ttl <= 0) throw new RangeError(`token lifetime ${ttl} s must be a whole number of seconds > 0`);
  if (ttl > MAX_TOKEN_LIFETIME_SECONDS) throw new RangeError(`token lifetime ${ttl} s is longer than the ${MAX_TOKEN_LIFETIME_SECONDS} s a reflector accepts`);
  const claims: ClientTokenClaims = {
    ...(options.subject !== undefined ? { sub: options.subject } : {}),
    role: options.role ?? 'sendrecv',
    ...(options.mesh !== undefined ? { mesh: options.mesh } : {}),
    exp: iat + ttl,
    iat,
    ...(options.notBefore !== undefined ? { nbf: options.notBefore } : {}),
    ...(options.jti !== undefined ? { jti: options.jti } : {}),
  };
  const problem = claimsProblem(claims);
  if (problem) throw new RangeError(`cannot mint the token: ${problem}`);
  const payload = Buffer.from(JSON.stringify(claims), 'utf8').toString('base64url');
  const signed = `${CLIENT_TOKEN_PREFIX}.${payload}`;
  return `${signed}.${tagOf(subkey, signed)}`;
}

/**
 * Mints with the mesh key itself (the client-token subkey is derived here): for whoever holds the key,
 * `rmesh token`, `rmesh demo`, the tests and the benchmarks.
 */
export function mintClientTokenWithMeshKey(meshKey: Buffer, options: MintOptions = {}): string {
  return mintClientToken(deriveMeshSubkey(meshKey, 'client-token'), options);
}

export interface VerifyOptions {
  /** Now, unix seconds (default the clock). */
  nowSeconds?: number;
  clockSkewSeconds?: number;
  /**
   * This reflector's mesh name: a token must name this mesh (one naming another mesh, or none, is
   * refused); undefined = the mesh claim is not checked (a reflector told no mesh name).
   */
  mesh?: string;
  /** The longest lifetime (exp - iat) accepted; default MAX_TOKEN_LIFETIME_SECONDS. */
  maxLifetimeSeconds?: number;
}

/**
 * Checks a token's form, tag and times, in that order (the claims are parsed only once the tag
 * verified, so nobody can probe the parser without the key). Throws ClientTokenError.
 */
export function verifyClientToken(token: string, subkey: Buffer, options: VerifyOptions = {}): ClientTokenClaims {
  if (token.length > MAX_CLIENT_TOKEN_LENGTH) {
    throw new ClientTokenError('malformed', `the token is ${token.length} characters, more than ${MAX_CLIENT_TOKEN_LENGTH}; it is not a client token`);
  }
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== CLIENT_TOKEN_PREFIX) {
    throw new ClientTokenError('malformed', `the token is not a client token (expected ${CLIENT_TOKEN_PREFIX}.<payload>.<tag>; mint one with "rmesh token")`);
  }
  const [, payload, tag] = parts as [string, string, string];
  if (!B64URL.test(payload) || !B64URL.test(tag)) {
    throw new ClientTokenError('malformed', 'the token has characters outside base64url (A-Z a-z 0-9 - _); was it cut or wrapped?');
  }
  const expected = Buffer.from(tagOf(subkey, `${CLIENT_TOKEN_PREFIX}.${payload}`));
  const given = Buffer.from(tag);
  // Compared as text: base64url's last character has spare bits, so two texts can decode alike.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new ClientTokenError('bad_tag', 'the token\'s signature does not verify: it was minted with another mesh key, or altered');
  }
  const claims = parseClaims(payload);
  checkTimes(claims, options);
  checkMesh(claims, options.mesh);
  return claims;
}

/** Expiry, lifetime, issue time and start of validity against now, with the clock-skew allowance. */
function checkTimes(claims: ClientTokenClaims, options: VerifyOptions): void {
  const now = options.nowSeconds ?? nowSeconds();
  const skew = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  const maxLifetime = options.maxLifetimeSeconds ?? MAX_TOKEN_LIFETIME_SECONDS;
  if (now > claims.exp + skew) {
    throw new ClientTokenError('expired', `the token expired at ${isoTime(claims.exp)} (${now - claims.exp} s ago); mint a new one with "rmesh token"`);
  }
  if (claims.exp - claims.iat > maxLifetime) {
    throw new ClientTokenError(
      'lifetime',
      `the token is valid for ${claims.exp - claims.iat} s (issued ${isoTime(claims.iat)}, expires ${isoTime(claims.exp)}), longer than the ${maxLifetime} s this mesh accepts; mint one with a shorter --ttl`,
    );
  }
  if (claims.iat > now + skew) {
    throw new ClientTokenError('not_yet_valid', `the token was issued at ${isoTime(claims.iat)}, in the future by ${claims.iat - now} s; check the clocks`);
  }
  if (claims.nbf !== undefined && claims.nbf > now + skew) {
    throw new ClientTokenError('not_yet_valid', `the token is not valid before ${isoTime(claims.nbf)} (in ${claims.nbf - now} s); wait, or mint one without a later start`);
  }
}

/** A reflector that knows its mesh takes only tokens naming it. */
function checkMesh(claims: ClientTokenClaims, mesh: string | undefined): void {
  if (mesh === undefined || claims.mesh === mesh) return;
  if (claims.mesh === undefined) {
    throw new ClientTokenError('wrong_mesh', `the token names no mesh, and this reflector serves mesh "${mesh}"; mint one with "rmesh token --mesh ${mesh}"`);
  }
  throw new ClientTokenError('wrong_mesh', `the token is for mesh "${claims.mesh}", not "${mesh}"; mint one with "rmesh token --mesh ${mesh}"`);
}

/** sendrecv allows any role; recvonly and sendonly allow only themselves. */
export function roleAllows(allowed: Role, requested: Role): boolean {
  return allowed === 'sendrecv' || allowed === requested;
}

/** Throws ClientTokenError('role') when the claims do not allow the requested role. */
export function checkTokenRole(claims: ClientTokenClaims, requested: Role): void {
  if (!roleAllows(claims.role, requested)) {
    throw new ClientTokenError('role', `the token allows role ${claims.role} only, not ${requested}; join as ${claims.role} or mint a token with --role ${requested}`);
  }
}

/** True when `token` has a client token's form, `rmt1.<base64url>.<base64url>` (nothing is verified). */
export function hasClientTokenForm(token: string): boolean {
  const parts = token.split('.');
  return parts.length === 3 && parts[0] === CLIENT_TOKEN_PREFIX && B64URL.test(parts[1]!) && B64URL.test(parts[2]!);
}

/** The claims of a token without checking it (for display: `rmesh token --decode`, logs). Undefined when unreadable. */
export function peekClientTokenClaims(token: string): ClientTokenClaims | undefined {
  if (!hasClientTokenForm(token)) return undefined;
  try {
    return parseClaims(token.split('.')[1]!);
  } catch {
    return undefined;
  }
}

function parseClaims(payload: string): ClientTokenClaims {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new ClientTokenError('malformed', 'the token\'s payload is not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ClientTokenError('malformed', 'the token\'s payload is not a JSON object');
  }
  const v = value as Record<string, unknown>;
  const claims = {
    ...(v.sub !== undefined ? { sub: v.sub } : {}),
    role: v.role,
    ...(v.mesh !== undefined ? { mesh: v.mesh } : {}),
    exp: v.exp,
    iat: v.iat,
    ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
    ...(v.jti !== undefined ? { jti: v.jti } : {}),
  } as ClientTokenClaims;
  const problem = claimsProblem(claims);
  if (problem) throw new ClientTokenError('malformed', `the token's claims are invalid: ${problem}`);
  return claims;
}

/** What is wrong with a set of claims, or undefined. Unknown claims are ignored (newer minters). */
function claimsProblem(c: ClientTokenClaims): string | undefined {
  if (!ROLES.includes(c.role)) return `role ${JSON.stringify(c.role)} is not one of ${ROLES.join(', ')}`;
  if (!isUnixSeconds(c.exp)) return 'exp must be a whole number of unix seconds';
  if (!isUnixSeconds(c.iat)) return 'iat must be a whole number of unix seconds';
  if (c.exp <= c.iat) return 'exp must be after iat';
  if (c.nbf !== undefined && !isUnixSeconds(c.nbf)) return 'nbf must be a whole number of unix seconds';
  if (c.nbf !== undefined && c.nbf >= c.exp) return 'nbf must be before exp';
  if (c.sub !== undefined && !isText(c.sub, MAX_SUBJECT)) return `sub must be a string of 1-${MAX_SUBJECT} characters`;
  if (c.mesh !== undefined && !isText(c.mesh, MAX_MESH)) return `mesh must be a string of 1-${MAX_MESH} characters`;
  if (c.jti !== undefined && !isText(c.jti, MAX_JTI)) return `jti must be a string of 1-${MAX_JTI} characters`;
  return undefined;
}

function isUnixSeconds(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function isText(s: unknown, max: number): s is string {
  return typeof s === 'string' && s.length >= 1 && s.length <= max;
}

function tagOf(subkey: Buffer, signed: string): string {
  return createHmac('sha256', subkey).update(signed, 'utf8').digest().subarray(0, TAG_BYTES).toString('base64url');
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function isoTime(unixSeconds: number): string {
  const d = new Date(unixSeconds * 1000);
  return Number.isNaN(d.getTime()) ? `${unixSeconds}` : d.toISOString();
}
