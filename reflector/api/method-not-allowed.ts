// 405 Method Not Allowed, with an Allow header, for a known path called with another method (a 404
// would say the path does not exist). Registered last, as routes of the same router, so a path is
// "known" exactly when the router would match it: the same decoding, the same trailing-slash rules.
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { ERROR_CODES, errorBody } from '../../protocol/errors.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/** Collects every route's methods by URL; call on the root instance before the route plugins load. */
export function collectRoutes(app: FastifyInstance): Map<string, Set<string>> {
  const byUrl = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    if ((route.config as { methodNotAllowed?: boolean } | undefined)?.methodNotAllowed) return;
    const methods = byUrl.get(route.url) ?? new Set<string>();
    for (const m of [route.method].flat()) methods.add(m);
    byUrl.set(route.url, methods);
  });
  return byUrl;
}

export interface MethodNotAllowedOptions {
  routes: Map<string, Set<string>>;
  /** Runs first (the per-source rate limit that also covers unknown paths). */
  onRequest?: onRequestHookHandler | undefined;
}

/** The plugin of 405 routes: the other methods of every collected URL. */
export function methodNotAllowedRoutes(app: FastifyInstance, { routes, onRequest }: MethodNotAllowedOptions, done: (err?: Error) => void): void {
  if (onRequest) app.addHook('onRequest', onRequest);
  for (const [url, methods] of routes) {
    const others = METHODS.filter((m) => !methods.has(m));
    if (others.length === 0) continue;
    const allow = METHODS.filter((m) => methods.has(m)).join(', ');
    app.route({
      method: others,
      url,
      config: { methodNotAllowed: true } as Record<string, unknown>,
      schema: { hide: true },
      // Answered before any body is read.
      onRequest: async (request: FastifyRequest, reply: FastifyReply) =>
        reply
          .code(405)
          .header('allow', allow)
          .send(errorBody(405, ERROR_CODES.METHOD_NOT_ALLOWED, `${request.method} is not allowed on ${url}; use ${allow} (GET /openapi.json lists the API)`)),
      handler: () => undefined,
    });
  }
  done();
}
