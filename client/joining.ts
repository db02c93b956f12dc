// How the SDK asks a reflector to take it and to let it go (docs/protocol.md §3, POST /v1/join and
// /leave): the join targets it is given, the token it presents, the retry of a join a reflector
// rate-limits, and the session a join gives. No state of the client here: MeshClient keeps that.
import type { JoinResponse, ReflectorInfo } from '../protocol/api-schemas.js';
import { ERROR_CODES } from '../protocol/errors.js';
import type { Role } from '../protocol/roles.js';
import { controlUrl, requestJson } from './http.js';
import { MeshError } from './types.js';

/**
 * What a join answer grants the client: its session at the reflector (id, key, role, timings). The
 * reflector keeps its own record of that session (reflector/sessions.ts, `Session`).
 */
export interface SessionGrant {
  clientId: number;
  clientIdText: string;
  key: Buffer;
  keyText: string;
  role: Role;
  keepaliveIntervalMs: number;
  registrationDeadlineMs: number;
}

/** A join refused with 429 is asked again after Retry-After, this many times in all, if the wait is short. */
const JOIN_RATE_LIMITED_ATTEMPTS = 3;
const JOIN_RETRY_AFTER_MAX_MS = 5000;

export interface JoinTarget {
  host: string;
  port: number;
}

/** What one join request says: the role, the name, and the first session's id after a failover. */
export interface JoinAsk {
  role: Role;
  name?: string;
  origin?: string;
  token?: string;
  timeoutMs: number;
}

/**
 * POST /v1/join at one reflector. A reflector that rate-limits us (429) says when to come back:
 * wait that long (up to JOIN_RETRY_AFTER_MAX_MS) and ask it again, a few times, before moving on.
 */
export async function askToJoin(t: JoinTarget, ask: JoinAsk, warn: (err: Error) => void, closed: () => boolean): Promise<JoinResponse> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await requestJson<JoinResponse>(controlUrl(t.host, t.port, '/v1/join'), {
        method: 'POST',
        body: {
          role: ask.role,
          ...(ask.name ? { name: ask.name } : {}),
          ...(ask.origin !== undefined ? { origin: ask.origin } : {}),
        },
        ...(ask.token !== undefined ? { token: ask.token } : {}),
        timeoutMs: ask.timeoutMs,
      });
    } catch (err) {
      // A session cap (RMESH_SESSION_LIMIT) is also a 429, but waiting does not lift it: no retry.
      const wait = err instanceof MeshError && err.statusCode === 429 && err.code !== ERROR_CODES.SESSION_LIMIT ? (err.retryAfterMs ?? 1000) : undefined;
      if (wait === undefined || wait > JOIN_RETRY_AFTER_MAX_MS || attempt >= JOIN_RATE_LIMITED_ATTEMPTS || closed()) throw err;
      warn(new Error(`${t.host}:${t.port} is rate-limiting joins; retrying in ${wait} ms`));
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/** The token to present now: the fixed one, or a fresh one from the application's function; none if blank. */
export async function currentToken(source: string | (() => string | Promise<string>) | undefined): Promise<string | undefined> {
  if (source === undefined) return undefined;
  const token = typeof source === 'function' ? await source() : source;
  const trimmed = token.trim();
  return trimmed === '' ? undefined : trimmed;
}

/** The mesh refused the client's token (missing, invalid, expired) or the role it asked for. */
export function isTokenRefusal(err: unknown): err is MeshError {
  return err instanceof MeshError && (err.statusCode === 401 || err.statusCode === 403);
}

/** "HOST:CONTROLPORT" (IPv6 in brackets) as a join target. */
export function parseTarget(text: string): JoinTarget {
  const match = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d+)$/.exec(text.trim());
  if (!match) throw new MeshError(`"${text}" is not HOST:CONTROLPORT`, ERROR_CODES.BAD_TARGET, 0);
  return { host: (match[1] ?? match[2])!, port: Number(match[3]) };
}

/** Ends `session` at `reflector`, best effort: an answer or none, it resolves. */
export async function leaveSession(reflector: ReflectorInfo, session: SessionGrant, timeoutMs: number): Promise<void> {
  const url = controlUrl(reflector.address, reflector.controlPort, `/v1/sessions/${session.clientIdText}/leave`);
  await requestJson(url, { method: 'POST', body: {}, token: session.keyText, timeoutMs }).catch(() => undefined);
}
