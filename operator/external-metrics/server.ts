// The operator's external metrics API server (docs/metrics.md "Through the Kubernetes external metrics
// API"): an HTTPS listener of its own that kube-apiserver's aggregator proxies
// /apis/external.metrics.k8s.io/v1beta1 to (APIService v1beta1.external.metrics.k8s.io), so a plain
// HorizontalPodAutoscaler can scale a mesh on rmesh_mesh_free_client_slots or
// rmesh_mesh_capacity_utilisation with no adapter. Every request is authenticated first (front-proxy.ts),
// in onRequest, before anything else is read; limits as every server of the project (http-limits.ts).
import type { Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import Fastify, { type FastifyInstance, type FastifyPluginCallback } from 'fastify';
import type { Logger } from 'pino';
import { installRateLimit, SERVER_TIMEOUTS, type RequestRateLimit } from '../../protocol/http-limits.js';
import {
  GROUP,
  GROUP_VERSION,
  groupDiscovery,
  groupListDiscovery,
  isMetricName,
  isNamespaceName,
  metricValueList,
  parseLabelSelector,
  resourceListDiscovery,
  statusError,
  type MeshCapacityRow,
  type Requirement,
} from './api.js';
import { authenticate, type FrontProxyTrust } from './front-proxy.js';

/** The HPA controller asks once per metric per sync (15 s by default); the aggregator's checks add a few. */
export const EXTERNAL_METRICS_RATE_LIMIT: RequestRateLimit = { perSecond: 50, burst: 100 };

/** Request headers above this are refused (431) before routing: the aggregator sends a few hundred bytes. */
export const MAX_HEADER_BYTES = 8192;

export interface ExternalMetricsRoutes {
  /** The meshes of a namespace with their capacity values (from their status); throws when it cannot tell. */
  rows: (namespace: string) => Promise<MeshCapacityRow[]>;
  /** Namespaces the operator watches; empty: all. */
  namespaces: string[];
  /** The request-header trust in force (it may be reloaded). */
  trust: () => FrontProxyTrust;
  log: Logger;
  now?: () => Date;
}

/** Authentication of every request, then the discovery documents and the metric values. */
export const externalMetricsRoutes: FastifyPluginCallback<ExternalMetricsRoutes> = (app, o, done) => {
  app.addHook('onRequest', (request, reply, next) => {
    const caller = authenticate(request.raw.socket as TLSSocket, request.headers, o.trust());
    if (!caller.ok) {
      o.log.debug({ ip: request.ip, url: request.url.slice(0, 200), why: caller.why }, 'external metrics request refused');
      return void reply.code(401).send(statusError(401, caller.why));
    }
    request.log = request.log.child({ user: caller.user });
    next();
  });
  app.get('/apis', () => groupListDiscovery);
  app.get(`/apis/${GROUP}`, () => groupDiscovery);
  app.get(`/apis/${GROUP_VERSION}`, () => resourceListDiscovery);
  app.get<{ Params: { namespace: string; metric: string }; Querystring: { labelSelector?: string } }>(
    `/apis/${GROUP_VERSION}/namespaces/:namespace/:metric`,
    async (request, reply) => {
      const { namespace, metric } = request.params;
      if (!isNamespaceName(namespace)) return reply.code(400).send(statusError(400, `"${namespace.slice(0, 80)}" is not a namespace name`));
      if (!isMetricName(metric)) {
        return reply.code(404).send(statusError(404, `no external metric "${metric.slice(0, 80)}": this server serves ${resourceListDiscovery.resources.map((r) => r.name).join(' and ')}`));
      }
      if (o.namespaces.length > 0 && !o.namespaces.includes(namespace)) {
        return reply.code(404).send(statusError(404, `the operator does not watch namespace ${namespace} (it watches ${o.namespaces.join(', ')})`));
      }
      let requirements: Requirement[];
      try {
        const selector: unknown = request.query.labelSelector;
        if (selector !== undefined && typeof selector !== 'string') throw new Error('give one labelSelector');
        requirements = parseLabelSelector(selector ?? '');
      } catch (err) {
        return reply.code(400).send(statusError(400, (err as Error).message));
      }
      let rows: MeshCapacityRow[];
      try {
        rows = await o.rows(namespace);
      } catch (err) {
        o.log.warn({ namespace, err: (err as Error).message }, 'cannot read the meshes for the external metrics API');
        return reply.code(503).send(statusError(503, `cannot read the ReflectorMeshes of ${namespace} from the Kubernetes API: ${(err as Error).message}`));
      }
      return metricValueList(metric, rows, requirements, o.now?.() ?? new Date());
    },
  );
  done();
};
// Not encapsulated: the authentication hook also guards the 404 answers of the server it is registered on.
(externalMetricsRoutes as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true;

export interface ExternalMetricsServerOptions extends ExternalMetricsRoutes {
  host: string;
  port: number;
  /** PEM serving certificate and key. */
  tls: { cert: string; key: string };
  rateLimit?: RequestRateLimit;
}

export interface ExternalMetricsServer {
  app: FastifyInstance<Server>;
  /** Takes a new request-header trust (say, a rotated front-proxy CA) for the next TLS handshakes. */
  setTrust: (trust: FrontProxyTrust) => void;
  close: () => Promise<void>;
}

export async function startExternalMetricsServer(o: ExternalMetricsServerOptions): Promise<ExternalMetricsServer> {
  let trust = o.trust();
  const { http: nodeTimeouts, ...timeouts } = SERVER_TIMEOUTS;
  const app = Fastify({
    logger: false,
    bodyLimit: 1024,
    ...timeouts,
    // The handshake asks for a client certificate and records whether it chains to the CA; the onRequest
    // hook answers 401 with the reason instead of a bare handshake failure.
    https: { cert: o.tls.cert, key: o.tls.key, ca: trust.clientCa, requestCert: true, rejectUnauthorized: false, maxHeaderSize: MAX_HEADER_BYTES, ...nodeTimeouts },
  }) as unknown as FastifyInstance<Server>;
  installRateLimit(app, { rate: o.rateLimit ?? EXTERNAL_METRICS_RATE_LIMIT });
  app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
    const code = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    return reply.code(code).send(statusError(code, error.message));
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send(statusError(404, `${request.method} ${request.url.slice(0, 200)} is not served here`)));
  await app.register(externalMetricsRoutes, { ...o, trust: () => trust });
  await app.listen({ host: o.host, port: o.port });
  return {
    app,
    setTrust: (next) => {
      trust = next;
      app.server.setSecureContext({ cert: o.tls.cert, key: o.tls.key, ca: next.clientCa });
    },
    close: () => app.close(),
  };
}
