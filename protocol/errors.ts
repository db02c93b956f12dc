// Every error the control API returns, named and coded in one place (docs/protocol.md §3): JSON
// bodies { statusCode, code, error, message } whose message says what was wrong and what to do.
import { STATUS_CODES } from 'node:http';

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  body(): { statusCode: number; code: string; error: string; message: string } {
    return errorBody(this.statusCode, this.code, this.message);
  }
}

export function errorBody(statusCode: number, code: string, message: string) {
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

export const unknownClient = (id: string): ApiError =>
  new ApiError(404, 'RMESH_UNKNOWN_CLIENT', `client ${id} has no session at this reflector; it may have moved, left or been purged`);
export const unknownPeer = (id: string): ApiError =>
  new ApiError(404, 'RMESH_UNKNOWN_PEER', `reflector ${id} is not a peer of this reflector; say hello first (POST /v1/peers/hello)`);
export const unauthorized = (what: string): ApiError =>
  new ApiError(401, 'RMESH_UNAUTHORIZED', `${what}: send "Authorization: Bearer <token>"`);
export const draining = (id: string): ApiError =>
  new ApiError(503, 'RMESH_DRAINING', `reflector ${id} is draining and admits no clients; join through another reflector`);
export const reflectorFull = (id: string, max: number): ApiError =>
  new ApiError(503, 'RMESH_REFLECTOR_FULL', `reflector ${id} serves its limit of ${max} clients; join through another reflector or ask the operator to scale the mesh`);
/** A join refused because its token subject or source address holds its cap of sessions (session-caps.ts). */
export const SESSION_LIMIT_CODE = 'RMESH_SESSION_LIMIT';
export const sessionLimit = (what: string, todo: string): ApiError => new ApiError(429, SESSION_LIMIT_CODE, `${what}; ${todo}`);
