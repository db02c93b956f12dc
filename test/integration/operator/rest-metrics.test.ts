// rest_client_* count every request the operator's clients send, against a real HTTP server standing in
// for the API server: calls of the generated clients (Secrets, pod status, the Lease), a watch's initial
// request, and a request that gets no answer ("<error>", as client-go labels it).
import type { ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { StubApiServer, type StubHandler } from '../../support/stub-api-server.js';
import { clientNodeKubeApi } from '../../../operator/kube/kube-api.js';
import { meterKubeRequests } from '../../../operator/kube/rest-metrics.js';
import { podSource } from '../../../operator/informers/sources.js';
import { clientNodeLeaseApi } from '../../../operator/leader.js';
import { OperatorMetrics } from '../../../operator/metrics.js';
import { parsePrometheusText, sampleValue } from '../../support/prometheus-text.js';

let stub: StubApiServer | undefined;
afterEach(async () => {
  await stub?.close();
  stub = undefined;
});

async function apiServer(handler: StubHandler): Promise<StubApiServer> {
  stub = await StubApiServer.start(handler);
  return stub;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify(body));
}

describe('rest_client_* metrics', () => {
  it('count generated-client calls, a watch and a request without an answer, by code, method and host', async () => {
    const { kc, host } = await apiServer((req, res) => {
      const url = req.url ?? '';
      if (url.startsWith('/api/v1/namespaces/media/secrets/there')) return json(res, 200, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'there' }, data: {} });
      if (url.startsWith('/api/v1/namespaces/media/secrets/')) return json(res, 404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
      if (url.startsWith('/apis/coordination.k8s.io/')) return req.socket.destroy(); // no answer at all
      if (url.startsWith('/api/v1/namespaces/media/pods') && url.includes('watch=true')) {
        res.setHeader('content-type', 'application/json');
        res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '9' } } })}\n`);
        return; // a watch stays open
      }
      json(res, 500, { kind: 'Status', code: 500 });
    });
    const metrics = new OperatorMetrics();
    meterKubeRequests(kc, metrics.restClient);
    const api = clientNodeKubeApi(kc);

    expect(await api.readSecret('media', 'missing')).toBeUndefined();
    expect(await api.readSecret('media', 'there')).toEqual({ data: {}, labels: {}, ownerUids: [] });
    await expect(clientNodeLeaseApi(kc).read('ops', 'rmesh', new AbortController().signal)).rejects.toThrow();
    const events: string[] = [];
    const watch = await podSource(kc, 'app=x', 'media').watch('1', (e) => events.push(e.type), () => {});
    await expect.poll(() => events).toEqual(['BOOKMARK']);
    watch.abort();

    const f = parsePrometheusText(await metrics.registry.metrics());
    expect(sampleValue(f, 'rest_client_requests_total', { code: '404', method: 'GET', host })).toBe(1);
    // The Secret that is there, and the watch's initial request.
    expect(sampleValue(f, 'rest_client_requests_total', { code: '200', method: 'GET', host })).toBe(2);
    expect(sampleValue(f, 'rest_client_requests_total', { code: '<error>', method: 'GET', host })).toBe(1);
    expect(sampleValue(f, 'rest_client_request_duration_seconds_count', { verb: 'GET', host })).toBe(4);
    expect(f.get('rest_client_request_duration_seconds')?.type).toBe('histogram');
  });
});
