// Who may join (docs/protocol.md §3.1, docs/security.md "Client tokens"): in a keyed mesh a join needs
// `Authorization: Bearer <client token>`, checked before the body is read; the role asked for must be
// one the token allows. An open mesh (--open-mesh, no key) admits anybody. The reflector that checks
// the token is the one asked; when it places the client at a peer, the peer trusts it (peer requests
// are authenticated among the reflectors), and migrations carry the session key, not the token.
// During a key rotation a token verifies with any key of the set (current first), so tokens minted
// with the old key keep working until it is dropped; on the way from an open mesh (the set accepts
// unsigned) a join needs no token, and one that does not verify is ignored as in an open mesh.
import { ApiError } from '../../protocol/errors.js';
import type { Role } from '../../protocol/api-schemas.js';
import { OPEN_KEY_SET, singleKeySet, subkeysOf, type Subkeys } from '../../protocol/security/mesh-key-set.js';
import {
  ClientTokenError,
  checkTokenRole,
  verifyClientToken,
  DEFAULT_CLOCK_SKEW_SECONDS,
  type ClientTokenClaims,
  type ClientTokenFailure,
} from '../../protocol/security/client-token.js';

/** Sent with every 401 of the join route (RFC 6750). */
export const JOIN_CHALLENGE = 'Bearer realm="rmesh-join"';

export interface JoinAuthorizerOptions {
  clockSkewSeconds?: number;
  /** This mesh's name (--mesh-name), when the reflector knows it: a token must name it. */
  mesh?: string | undefined;
  /** The longest token lifetime accepted (--max-token-lifetime); default MAX_TOKEN_LIFETIME_SECONDS. */
  maxTokenLifetimeSeconds?: number | undefined;
}

/** Where the client-token subkeys come from: one key, none (open), or the reflector's live keys. */
export type ClientTokenKeys = Buffer | undefined | { of(purpose: 'client-token'): Subkeys };

/** The API error code of each reason a token is refused (docs/protocol.md's error table). */
const TOKEN_ERROR_CODES: Partial<Record<ClientTokenFailure, string>> = {
  expired: 'RMESH_TOKEN_EXPIRED',
  not_yet_valid: 'RMESH_TOKEN_NOT_YET_VALID',
  wrong_mesh: 'RMESH_TOKEN_WRONG_MESH',
  lifetime: 'RMESH_TOKEN_LIFETIME',
};

export class JoinAuthorizer {
  private readonly keys: () => Subkeys;

  /** `meshKey` undefined = an open mesh: no token needed, any given is ignored (it cannot be checked). */
  constructor(
    meshKey: ClientTokenKeys,
    private readonly options: JoinAuthorizerOptions = {},
  ) {
    if (meshKey === undefined || Buffer.isBuffer(meshKey)) {
      const fixed = subkeysOf(meshKey === undefined ? OPEN_KEY_SET : singleKeySet(meshKey), 'client-token');
      this.keys = () => fixed;
    } else {
      this.keys = () => meshKey.of('client-token');
    }
  }

  get tokenRequired(): boolean {
    return !this.keys().acceptUnsigned;
  }

  /**
   * Checks the Authorization header of a join. Returns the token's claims (undefined in an open
   * mesh); throws ApiError 401 RMESH_TOKEN_REQUIRED, RMESH_TOKEN_INVALID, RMESH_TOKEN_EXPIRED,
   * RMESH_TOKEN_NOT_YET_VALID, RMESH_TOKEN_WRONG_MESH or RMESH_TOKEN_LIFETIME.
   */
  authenticate(authorization: string | undefined, nowSeconds?: number): ClientTokenClaims | undefined {
    const keys = this.keys();
    const token = bearerToken(authorization);
    if (keys.acceptUnsigned) return token === undefined ? undefined : this.claimsIfValid(token, keys.verify, nowSeconds);
    if (token === undefined) {
      throw new ApiError(
        401,
        'RMESH_TOKEN_REQUIRED',
        'this mesh needs a client token to join: send "Authorization: Bearer <token>" (rmesh client/proxy --token, RMESH_TOKEN, or the SDK\'s token option); mint one from the mesh key with "rmesh token"',
      );
    }
    try {
      return this.verify(token, keys.verify, nowSeconds);
    } catch (err) {
      if (!(err instanceof ClientTokenError)) throw err;
      throw new ApiError(401, TOKEN_ERROR_CODES[err.reason] ?? 'RMESH_TOKEN_INVALID', `the client token was refused: ${err.message}`);
    }
  }

  /** The claims of a token that verifies with one of the keys (tried in order); throws the last key's refusal. */
  private verify(token: string, subkeys: readonly Buffer[], nowSeconds: number | undefined): ClientTokenClaims {
    const options = {
      clockSkewSeconds: this.options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS,
      ...(nowSeconds !== undefined ? { nowSeconds } : {}),
      ...(this.options.mesh !== undefined ? { mesh: this.options.mesh } : {}),
      ...(this.options.maxTokenLifetimeSeconds !== undefined ? { maxLifetimeSeconds: this.options.maxTokenLifetimeSeconds } : {}),
    };
    for (const [i, subkey] of subkeys.entries()) {
      try {
        return verifyClientToken(token, subkey, options);
      } catch (err) {
        // Another key of an overlap may have minted it; any other refusal is final.
        if (!(err instanceof ClientTokenError) || err.reason !== 'bad_tag' || i === subkeys.length - 1) throw err;
      }
    }
    throw new ClientTokenError('bad_tag', 'no mesh key to check the token with');
  }

  /** Unsigned joins accepted (open, or on the way from open): a token's claims when it verifies, else none. */
  private claimsIfValid(token: string, subkeys: readonly Buffer[], nowSeconds: number | undefined): ClientTokenClaims | undefined {
    if (subkeys.length === 0) return undefined;
    try {
      return this.verify(token, subkeys, nowSeconds);
    } catch (err) {
      if (err instanceof ClientTokenError) return undefined;
      throw err;
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
