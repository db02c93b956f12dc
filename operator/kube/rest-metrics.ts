// Counts and times every request the operator sends to the API server (rest_client_requests_total,
// rest_client_request_duration_seconds), in the one place they all pass: the HTTP agent the KubeConfig
// hands each request. Generated API clients take it in applySecurityAuthentication, watches in
// applyToFetchOptions, and client-node makes a new agent for every request, so wrapping the agent those
// two return meters every call (Lease, informers' lists and watches' initial requests, pods, status,
// Secrets, Events, nodes) without touching a caller.
import type { Agent, ClientRequest, IncomingMessage } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { RestClientMetrics } from '../standard-metrics.js';

/** The part of http.Agent every request goes through (public in Node, missing from its typings). */
interface AddsRequests {
  addRequest(req: ClientRequest, options: unknown): void;
}

function meterAgent<A extends Agent>(agent: A, metrics: RestClientMetrics, host: string): A {
  const inner = agent as unknown as AddsRequests;
  const addRequest = inner.addRequest.bind(agent);
  inner.addRequest = (req, options) => {
    const started = process.hrtime.bigint();
    let done = false;
    // A watch's duration is that of its initial request (until the response starts), as client-go's.
    const record = (status: number | undefined) => {
      if (done) return;
      done = true;
      metrics.request(req.method, host, status, Number(process.hrtime.bigint() - started) / 1e9);
    };
    req.once('response', (res: IncomingMessage) => record(res.statusCode));
    req.once('error', () => record(undefined));
    req.once('close', () => record(undefined));
    addRequest(req, options);
  };
  return agent;
}

/** Makes every request through `kc` count in `metrics`; returns `kc`. */
export function meterKubeRequests(kc: KubeConfig, metrics: RestClientMetrics): KubeConfig {
  const server = kc.getCurrentCluster()?.server;
  // client-go labels by the server's host:port (rest/request.go sanitize), "none" when it has none.
  const host = server ? new URL(server).host : 'none';
  const authenticate = kc.applySecurityAuthentication.bind(kc);
  kc.applySecurityAuthentication = async (context) => {
    await authenticate(context);
    const agent = context.getAgent();
    if (agent) context.setAgent(meterAgent(agent, metrics, host));
  };
  const fetchOptions = kc.applyToFetchOptions.bind(kc);
  kc.applyToFetchOptions = async (opts) => {
    const init = await fetchOptions(opts);
    if (init.agent && typeof init.agent === 'object') meterAgent(init.agent, metrics, host);
    return init;
  };
  return kc;
}
