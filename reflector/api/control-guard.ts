// The guard of the peer and admin routes (docs/security.md "Control API"). It is installed inside each
// of those two plugins (reflector/api/server.ts), and fastify runs a plugin's hooks for that plugin's
// routes only: whatever spelling of the path the router accepted (percent-encoded, absolute form,
// trailing slash, `;`, `//`), a request that reaches a guarded route went through the guard. Nothing here
// looks at the URL except to check the signature over the exact request target the peer signed.
//
// Order of the checks, cheapest first:
//   1. onRequest: a source with too many failed requests gets 429 before anything else;
//      the Authorization header is checked (admin token, or a well-formed fresh RMESH-HMAC header).
//   2. the body parser of these routes: the raw bytes (bounded by the body limit) are read, the
//      signature is verified over them, and only then is the JSON parsed, so a forged request costs
//      one SHA-256 and one HMAC, never a parse.
//   3. preValidation: a signed request without a body is verified over the empty body.
// Every refusal counts against the source's failure budget.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ERROR_CODES } from '../../protocol/errors.js';
import { sendRateLimited, sourceKey, type SourceLimiter } from '../../protocol/http-limits.js';
import { bearerMatches } from '../security/bearer.js';
import { PEER_AUTH_SCHEME, sha256, type PeerRequestVerifier } from '../../protocol/security/peer-control.js';

/** How the caller of a guarded request proved itself so far. */
export type ControlCredential = 'admin-token' | 'signature-unverified' | 'signature' | 'unsigned';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * Set by the control guard (reflector/api/control-guard.ts) on the requests of the plugin it guards,
     * which declares this decorator in its own encapsulated scope.
     */
    controlCredential: ControlCredential | null;
  }
}

export interface ControlGuardOptions {
  /** Names the callers in refusals: "peer" or "admin". */
  audience: 'peer' | 'admin';
  /** Requests signed with the mesh key (RMESH-HMAC) are accepted when set. */
  verifier?: PeerRequestVerifier | undefined;
  /**
   * Asked per request: while true (an open mesh, or a key set on the way out of one), a request without
   * an RMESH-HMAC header is taken as in an open mesh: the admin token when one is set, else let in.
   */
  acceptUnsigned?: () => boolean;
  /** "Authorization: Bearer <admin token>" is accepted when set. */
  adminToken?: string | undefined;
  /** Failed requests per source; a source out of tokens gets 429. Undefined: not limited. */
  failures?: SourceLimiter | undefined;
  /** Called for each refusal (logs, metrics). */
  onRefused?: (request: FastifyRequest, problem: string) => void;
}

/** Whether the options guard anything: without a key and a token the routes are open. */
export function guards(options: ControlGuardOptions): boolean {
  return options.verifier !== undefined || options.adminToken !== undefined;
}

/** The OpenAPI security of a guarded route: the admin token, or a mesh-key signature. */
export const CONTROL_SECURITY: { [scheme: string]: string[] }[] = [{ bearer: [] }, { meshSignature: [] }];

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

/** Installs the guard on `scope`, a plugin's encapsulated instance: call it before the routes. */
export function installControlGuard(scope: FastifyInstance, options: ControlGuardOptions): void {
  if (!guards(options)) return;
  const { verifier, adminToken, failures } = options;
  // Per-request state as a request decorator of this scope (not a module-level map): each guarded
  // plugin has its own, and a plugin registered alone (a test) works the same.
  if (!scope.hasRequestDecorator('controlCredential')) scope.decorateRequest('controlCredential', null);

  const refuse = (request: FastifyRequest, problem: string): ApiError => {
    failures?.take(sourceKey(request.ip), performance.now());
    options.onRefused?.(request, problem);
    return new ApiError(401, ERROR_CODES.UNAUTHORIZED, `${options.audience} request refused: ${problem}`);
  };
  const verify = (request: FastifyRequest, body: Buffer): ApiError | undefined => {
    const problem = verifier!.verify(request.headers.authorization, request.method, request.url, sha256(body));
    if (problem) return refuse(request, problem);
    request.controlCredential = 'signature';
    return undefined;
  };

  scope.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) => {
    if (failures) {
      const key = sourceKey(request.ip);
      const retryAfter = failures.wait(key, performance.now());
      if (retryAfter > 0) return sendRateLimited(reply, failures.limit, key, retryAfter, `failed ${options.audience} requests`);
    }
    const authorization = request.headers.authorization;
    if (adminToken !== undefined && authorization?.startsWith('Bearer ')) {
      if (!bearerMatches(authorization, adminToken)) return done(refuse(request, 'the bearer token is not the admin token'));
      request.controlCredential = 'admin-token';
      return done();
    }
    if (options.acceptUnsigned?.() && (!authorization?.startsWith(`${PEER_AUTH_SCHEME} `) || !verifier?.canVerify())) {
      if (adminToken !== undefined) return done(refuse(request, 'this endpoint needs the admin token: send "Authorization: Bearer <token>"'));
      request.controlCredential = 'unsigned';
      return done();
    }
    if (verifier) {
      const problem = verifier.precheck(authorization);
      if (problem) return done(refuse(request, adminToken === undefined ? problem : `${problem}, or send "Authorization: Bearer <admin token>"`));
      request.controlCredential = 'signature-unverified';
      return done();
    }
    done(refuse(request, 'this endpoint needs the admin token: send "Authorization: Bearer <token>"'));
  });

  // The only body parser of these routes: any media type is read as bytes (fastify enforces the body
  // limit while reading), the signature checked over them, and then only JSON is parsed.
  const parseJson = scope.getDefaultJsonParser('error', 'error');
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'buffer' }, (request: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    if (request.controlCredential === 'signature-unverified') {
      const refused = verify(request, bytes);
      if (refused) return done(refused);
    }
    if (!JSON_MEDIA_TYPE.test(request.headers['content-type'] ?? '')) {
      return done(new ApiError(415, ERROR_CODES.UNSUPPORTED_MEDIA_TYPE, `${request.method} ${request.routeOptions.url ?? ''} takes a JSON body: send "Content-Type: application/json"`));
    }
    void parseJson(request, bytes.toString('utf8'), done);
  });

  scope.addHook('preValidation', (request: FastifyRequest, _reply: FastifyReply, done: (err?: Error) => void) => {
    if (request.controlCredential !== 'signature-unverified') return done();
    done(verify(request, Buffer.alloc(0)));
  });
}
