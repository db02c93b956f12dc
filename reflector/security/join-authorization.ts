// Who may join (docs/protocol.md §3.1, docs/security.md "Client tokens"): in a keyed mesh a join needs
// `Authorization: Bearer <client token>`, checked before the body is read; the role asked for must be
// one the token allows. An open mesh (--open-mesh, no key) admits anybody. The reflector that checks
// the token is the one asked; when it places the client at a peer, the peer trusts it (peer requests
// are authenticated among the reflectors), and migrations carry the session key, not the token.
import { ApiError } from '../api/errors.js';
import type { Role } from '../api/schemas.js';
import { deriveMeshSubkey } from './mesh-key.js';
import {
  ClientTokenError,
  checkTokenRole,
  verifyClientToken,
  DEFAULT_CLOCK_SKEW_SECONDS,
  type ClientTokenClaims,
  type ClientTokenFailure,
} from './client-token.js';

/** Sent with every 401 of the join route (RFC 6750). */
export const JOIN_CHALLENGE = 'Bearer realm="rmesh-join"';

export interface JoinAuthorizerOptions {
  clockSkewSeconds?: number;
  /** This mesh's name (--mesh-name), when the reflector knows it: a token must name it. */
  mesh?: string | undefined;
  /** The longest token lifetime accepted (--max-token-lifetime); default MAX_TOKEN_LIFETIME_SECONDS. */
  maxTokenLifetimeSeconds?: number | undefined;
}

/** The API error code of each reason a token is refused (docs/protocol.md's error table). */
const TOKEN_ERROR_CODES: Partial<Record<ClientTokenFailure, string>> = {
  expired: 'RMESH_TOKEN_EXPIRED',
  not_yet_valid: 'RMESH_TOKEN_NOT_YET_VALID',
  wrong_mesh: 'RMESH_TOKEN_WRONG_MESH',
  lifetime: 'RMESH_TOKEN_LIFETIME',
};

export class JoinAuthorizer {
  private readonly subkey: Buffer | undefined;

  /** `meshKey` undefined = an open mesh: no token needed, any given is ignored (it cannot be checked). */
  constructor(
    meshKey: Buffer | undefined,
    private readonly options: JoinAuthorizerOptions = {},
  ) {
    this.subkey = meshKey === undefined ? undefined : deriveMeshSubkey(meshKey, 'client-token');
  }

  get tokenRequired(): boolean {
    return this.subkey !== undefined;
  }

  /**
   * Checks the Authorization header of a join. Returns the token's claims (undefined in an open
   * mesh); throws ApiError 401 RMESH_TOKEN_REQUIRED, RMESH_TOKEN_INVALID, RMESH_TOKEN_EXPIRED,
   * RMESH_TOKEN_NOT_YET_VALID, RMESH_TOKEN_WRONG_MESH or RMESH_TOKEN_LIFETIME.
   */
  authenticate(authorization: string | undefined, nowSeconds?: number): ClientTokenClaims | undefined {
    if (this.subkey === undefined) return undefined;
    const token = bearerToken(authorization);
    if (token === undefined) {
      throw new ApiError(
        401,
        'RMESH_TOKEN_REQUIRED',
        'this mesh needs a client token to join: send "Authorization: Bearer <token>" (rmesh client/proxy --token, RMESH_TOKEN, or the SDK\'s token option); mint one from the mesh key with "rmesh token"',
      );
    }
    try {
      return verifyClientToken(token, this.subkey, {
        clockSkewSeconds: this.options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS,
        ...(nowSeconds !== undefined ? { nowSeconds } : {}),
        ...(this.options.mesh !== undefined ? { mesh: this.options.mesh } : {}),
        ...(this.options.maxTokenLifetimeSeconds !== undefined ? { maxLifetimeSeconds: this.options.maxTokenLifetimeSeconds } : {}),
      });
    } catch (err) {
      if (!(err instanceof ClientTokenError)) throw err;
      throw new ApiError(401, TOKEN_ERROR_CODES[err.reason] ?? 'RMESH_TOKEN_INVALID', `the client token was refused: ${err.message}`);
    }
  }

  /**
   * The role to admit: the one asked for, else the token's, else sendrecv. Throws ApiError 403
   * RMESH_ROLE_FORBIDDEN when the token does not allow the role asked for.
   */
  role(claims: ClientTokenClaims | undefined, requested: Role | undefined): Role {
    if (!claims) return requested ?? 'sendrecv';
    const role = requested ?? claims.role;
    try {
      checkTokenRole(claims, role);
    } catch (err) {
      if (err instanceof ClientTokenError) throw new ApiError(403, 'RMESH_ROLE_FORBIDDEN', err.message);
      throw err;
    }
    return role;
  }
}

/** The token of "Bearer <token>" (scheme case-insensitive, RFC 6750), or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(authorization ?? '');
  return match?.[1];
}
