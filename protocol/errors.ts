// Every error code of the mesh, in one catalogue (docs/protocol.md §3): the codes a reflector's control
// API answers, in JSON bodies { statusCode, code, error, message } whose message says what was wrong and
// what to do, and the codes the client SDK raises itself (MeshError with statusCode 0). The reflector,
// the operator's server and the SDK all take their codes from here.
import { STATUS_CODES } from 'node:http';

export const ERROR_CODES = {
  // Requests: shape, size, rate, routes.
  BAD_REQUEST: 'RMESH_BAD_REQUEST',
  BODY_TOO_LARGE: 'RMESH_BODY_TOO_LARGE',
  RATE_LIMITED: 'RMESH_RATE_LIMITED',
  NOT_FOUND: 'RMESH_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'RMESH_METHOD_NOT_ALLOWED',
  UNSUPPORTED_MEDIA_TYPE: 'RMESH_UNSUPPORTED_MEDIA_TYPE',
  INTERNAL: 'RMESH_INTERNAL',
  /** The operator's server, for an error that carries no code of its own. */
  ERROR: 'RMESH_ERROR',
  // Credentials: bearer tokens and client tokens.
  UNAUTHORIZED: 'RMESH_UNAUTHORIZED',
  TOKEN_REQUIRED: 'RMESH_TOKEN_REQUIRED',
  TOKEN_INVALID: 'RMESH_TOKEN_INVALID',
  TOKEN_EXPIRED: 'RMESH_TOKEN_EXPIRED',
  TOKEN_NOT_YET_VALID: 'RMESH_TOKEN_NOT_YET_VALID',
  TOKEN_WRONG_MESH: 'RMESH_TOKEN_WRONG_MESH',
  TOKEN_LIFETIME: 'RMESH_TOKEN_LIFETIME',
  ROLE_FORBIDDEN: 'RMESH_ROLE_FORBIDDEN',
  // Admission: joins and their limits.
  DRAINING: 'RMESH_DRAINING',
  REFLECTOR_FULL: 'RMESH_REFLECTOR_FULL',
  MESH_FULL: 'RMESH_MESH_FULL',
  SESSION_LIMIT: 'RMESH_SESSION_LIMIT',
  TOO_MANY_STREAMS: 'RMESH_TOO_MANY_STREAMS',
  CLIENT_EXISTS: 'RMESH_CLIENT_EXISTS',
  // Sessions, peers and migrations.
  UNKNOWN_CLIENT: 'RMESH_UNKNOWN_CLIENT',
  SESSION_ENDED: 'RMESH_SESSION_ENDED',
  UNKNOWN_PEER: 'RMESH_UNKNOWN_PEER',
  BAD_PEER: 'RMESH_BAD_PEER',
  PEER_ERROR: 'RMESH_PEER_ERROR',
  NOT_ACTIVE: 'RMESH_NOT_ACTIVE',
  MIGRATING: 'RMESH_MIGRATING',
  UNKNOWN_MIGRATION: 'RMESH_UNKNOWN_MIGRATION',
  MIGRATION_TIMEOUT: 'RMESH_MIGRATION_TIMEOUT',
  // Raised by the client SDK itself (statusCode 0): no reflector answered it, or it was used wrongly.
  UNREACHABLE: 'RMESH_UNREACHABLE',
  NO_REFLECTOR: 'RMESH_NO_REFLECTOR',
  CLOSED: 'RMESH_CLOSED',
  ROLE: 'RMESH_ROLE',
  PROTOCOL: 'RMESH_PROTOCOL',
  REFUSED: 'RMESH_REFUSED',
  REGISTER_TIMEOUT: 'RMESH_REGISTER_TIMEOUT',
  BAD_TARGET: 'RMESH_BAD_TARGET',
  EVENT_TOO_LONG: 'RMESH_EVENT_TOO_LONG',
} as const;

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

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
  new ApiError(404, ERROR_CODES.UNKNOWN_CLIENT, `client ${id} has no session at this reflector; it may have moved, left or been purged`);
export const unknownPeer = (id: string): ApiError =>
  new ApiError(404, ERROR_CODES.UNKNOWN_PEER, `reflector ${id} is not a peer of this reflector; say hello first (POST /v1/peers/hello)`);
export const unauthorized = (what: string): ApiError =>
  new ApiError(401, ERROR_CODES.UNAUTHORIZED, `${what}: send "Authorization: Bearer <token>"`);
export const draining = (id: string): ApiError =>
  new ApiError(503, ERROR_CODES.DRAINING, `reflector ${id} is draining and admits no clients; join through another reflector`);
export const reflectorFull = (id: string, max: number): ApiError =>
  new ApiError(503, ERROR_CODES.REFLECTOR_FULL, `reflector ${id} serves its limit of ${max} clients; join through another reflector or ask the operator to scale the mesh`);
/** A join refused because its token subject or source address holds its cap of sessions (session-caps.ts). */
export const SESSION_LIMIT_CODE = ERROR_CODES.SESSION_LIMIT;
export const sessionLimit = (what: string, todo: string): ApiError => new ApiError(429, SESSION_LIMIT_CODE, `${what}; ${todo}`);
