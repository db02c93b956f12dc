// The operator's external metrics API over real HTTPS (operator/external-metrics/): the aggregator's
// front-proxy client certificate (made by openssl, as the e2e control plane's) gets the discovery
// documents and the meshes' values, read from a Kubernetes API over HTTP (a small stand-in serving the
// two objects the server reads: the meshes of a namespace and the extension-apiserver-authentication
// ConfigMap). Everything else is refused with 401 before any route: no certificate, a certificate of
// another CA or another name, a user header without a certificate; and oversized headers, encoded path
// tricks and unknown metrics get no data.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { connect } from 'node:tls';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTrust } from '../../../operator/external-metrics/front-proxy.js';
import { startExternalMetricsServer, type ExternalMetricsServer } from '../../../operator/external-metrics/server.js';
import { meshCapacityRows } from '../../../operator/external-metrics/source.js';
import { selfSignedCertificate } from '../../../operator/external-metrics/self-signed.js';
import { issueClientCert, makeFrontProxyCerts } from '../../e2e/harness/certs.js';
import { httpsGet, type HttpsAnswer } from '../../support/https-get.js';
import { StubApiServer } from '../../support/stub-api-server.js';

const base = '/apis/external.metrics.k8s.io/v1beta1';
const mesh = (name: string, free: number, peak: number) => ({
  apiVersion: 'rmesh.io/v1alpha1',
  kind: 'ReflectorMesh',
  metadata: { name, namespace: 'media' },
  spec: { replicas: 2, stream: { bitrateMbps: 1 }, capacity: { outboundMbps: 20, headroom: 0 } },
  status: { plan: { peakOutboundStreams: peak, bitrateMbps: 1 }, autoscaling: { freeClientSlots: free } },
});

let dir: string;
let kubeApi: StubApiServer;
let kubeUp = true;
let server: ExternalMetricsServer;
let port: number;
let proxy: { cert: Buffer; key: Buffer };
let otherCa: { cert: Buffer; key: Buffer };
let wrongName: { cert: Buffer; key: Buffer };
let serverCert: string;

function get(path: string, o: { client?: { cert: Buffer; key: Buffer }; headers?: Record<string, string> } = {}): Promise<HttpsAnswer> {
  return httpsGet({
    host: '127.0.0.1', port, path, ca: serverCert, servername: 'localhost',
    headers: { 'x-remote-user': 'system:serviceaccount:kube-system:horizontal-pod-autoscaler', ...o.headers },
    ...(o.client ?? {}),
  });
}

/**
 * Writes a request's head and the start of its body over TLS and returns the answer's status line: a
 * server that waited for the whole announced body would never answer (the test's timeout).
 */
function sendHead(text: string, client?: { cert: Buffer; key: Buffer }): Promise<{ statusLine: string; bytesSent: number }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: serverCert, servername: 'localhost', ...(client ?? {}) }, () => socket.write(text));
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      answer += c;
      if (answer.includes('\r\n')) {
        resolve({ statusLine: answer.split('\r\n')[0]!, bytesSent: socket.bytesWritten });
        socket.destroy();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed without an answer; got ${JSON.stringify(answer)}`)));
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rmesh-extmetrics-'));
  const fp = makeFrontProxyCerts(dir);
  proxy = { cert: readFileSync(fp.clientCert), key: readFileSync(fp.clientKey) };
  const wrong = issueClientCert(dir, 'someone', '/CN=someone-else');
  wrongName = { cert: readFileSync(wrong.cert), key: readFileSync(wrong.key) };
  const other = join(dir, 'other');
  mkdirSync(other);
  const o = makeFrontProxyCerts(other); // another CA, with the allowed name
  otherCa = { cert: readFileSync(o.clientCert), key: readFileSync(o.clientKey) };
  const configMap = {
    'requestheader-client-ca-file': readFileSync(fp.caCert, 'utf8'),
    'requestheader-allowed-names': JSON.stringify([fp.allowedName]),
    'requestheader-username-headers': '["X-Remote-User"]',
  };
  kubeApi = await StubApiServer.start((req, res) => {
    const send = (code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (!kubeUp) return send(500, { kind: 'Status', message: 'etcdserver: request timed out' });
    if (req.url === '/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication') return send(200, { kind: 'ConfigMap', data: configMap });
    if (req.url?.startsWith('/apis/rmesh.io/v1alpha1/namespaces/media/reflectormeshes')) {
      return send(200, { kind: 'ReflectorMeshList', metadata: { resourceVersion: '7' }, items: [mesh('conf', 12, 15), mesh('talk', 0, 20)] });
    }
    send(404, { kind: 'Status', message: `not here: ${req.url}` });
  });
  const kc = kubeApi.kc;
  const trust = await loadTrust({}, kc); // from the ConfigMap, as in a cluster
  const tls = selfSignedCertificate(['localhost', '127.0.0.1']);
  serverCert = tls.cert;
  server = await startExternalMetricsServer({
    host: '127.0.0.1', port: 0, tls, trust: () => trust, rows: meshCapacityRows(kc), namespaces: [], log: pino({ level: 'silent' }),
  });
  port = (server.app.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await server?.close();
  await kubeApi?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the external metrics API, for the aggregator', () => {
  it('serves discovery and each mesh\'s values to the front proxy', async () => {
    const list = await get(base, { client: proxy });
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body)).toMatchObject({ kind: 'APIResourceList', groupVersion: 'external.metrics.k8s.io/v1beta1' });
    expect(JSON.parse((await get('/apis', { client: proxy })).body)).toMatchObject({ kind: 'APIGroupList', groups: [{ name: 'external.metrics.k8s.io' }] });
    expect(JSON.parse((await get('/apis/external.metrics.k8s.io', { client: proxy })).body)).toMatchObject({ kind: 'APIGroup' });

    const free = await get(`${base}/namespaces/media/rmesh_mesh_free_client_slots?labelSelector=mesh%3Dconf`, { client: proxy });
    expect(free.status).toBe(200);
    const body = JSON.parse(free.body) as { kind: string; items: { metricName: string; metricLabels: unknown; value: string; timestamp: string }[] };
    expect(body.kind).toBe('ExternalMetricValueList');
    expect(body.items).toEqual([{ metricName: 'rmesh_mesh_free_client_slots', metricLabels: { mesh: 'conf' }, value: '12', timestamp: expect.stringMatching(/Z$/) as unknown }]);
    const util = JSON.parse((await get(`${base}/namespaces/media/rmesh_mesh_capacity_utilisation`, { client: proxy })).body) as typeof body;
    // 15 of 20 streams, 20 of 20.
    expect(util.items.map((i) => [i.metricLabels, i.value])).toEqual([[{ mesh: 'conf' }, '750m'], [{ mesh: 'talk' }, '1']]);
  });

  it.each([
    ['no client certificate', {}, /no client certificate/],
    ['a certificate of another CA, with the allowed name', { client: 'otherCa' }, /not trusted/],
    ['a certificate of the CA with another name', { client: 'wrongName' }, /not one of the request-header allowed names/],
    ['the front proxy without a user header', { client: 'proxy', noUser: true }, /no user in X-Remote-User/],
  ] as const)('refuses %s with 401 and says why', async (_what, o, message) => {
    const client = 'client' in o ? { proxy, otherCa, wrongName }[o.client] : undefined;
    const headers: Record<string, string> = 'noUser' in o ? { 'x-remote-user': '' } : {};
    for (const path of [base, `${base}/namespaces/media/rmesh_mesh_free_client_slots`, '/anything/else', `${base}/namespaces/a%2F..%2Fb/rmesh_mesh_free_client_slots`]) {
      const answer = await get(path, { ...(client ? { client } : {}), headers });
      expect(answer.status, path).toBe(401);
      expect(JSON.parse(answer.body)).toMatchObject({ kind: 'Status', reason: 'Unauthorized', message: expect.stringMatching(message) as unknown });
      expect(answer.body).not.toContain('rmesh_mesh_free_client_slots"');
    }
  });

  it('refuses oversized headers, encoded path tricks, unknown metrics and malformed selectors, even from the front proxy', async () => {
    expect((await get(base, { client: proxy, headers: { 'x-padding': 'a'.repeat(10_000) } })).status).toBe(431);
    expect((await get(base, { headers: { 'x-padding': 'a'.repeat(10_000) } })).status).toBe(431);
    const traversal = await get(`${base}/namespaces/a%2F..%2Fb/rmesh_mesh_free_client_slots`, { client: proxy });
    expect(traversal.status).toBe(400);
    expect(traversal.body).toContain('is not a namespace name');
    expect((await get(`${base}/namespaces/media/..%2F..%2Fapis`, { client: proxy })).status).toBe(404);
    expect((await get(`${base}/namespaces/media/%2e%2e/rmesh_mesh_free_client_slots`, { client: proxy })).status).toBe(404);
    const unknown = await get(`${base}/namespaces/media/rmesh_clients`, { client: proxy });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toContain('serves rmesh_mesh_free_client_slots and rmesh_mesh_capacity_utilisation');
    expect((await get(`${base}/namespaces/media/__proto__`, { client: proxy })).status).toBe(404);
    const selector = await get(`${base}/namespaces/media/rmesh_mesh_free_client_slots?labelSelector=mesh%3D(`, { client: proxy });
    expect(selector.status).toBe(400);
    expect(selector.body).toContain('labelSelector');
    // Two selectors are not the union (nor none): refused.
    expect((await get(`${base}/namespaces/media/rmesh_mesh_free_client_slots?labelSelector=mesh%3Dconf&labelSelector=mesh%3Dtalk`, { client: proxy })).status).toBe(400);
  });

  it('answers a request announcing a huge or deep body without waiting for it: 401 before authentication; a GET body is never parsed', async () => {
    const hundredMegabytes = 100 * 1024 * 1024;
    const deep = '['.repeat(64 * 1024);
    const anonymous = await sendHead(`GET ${base} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${hundredMegabytes}\r\n\r\n${deep}`);
    expect(anonymous.statusLine).toMatch(/^HTTP\/1\.1 401/);
    expect(anonymous.bytesSent).toBeLessThan(hundredMegabytes / 100);
    const chunked = await sendHead(`GET ${base} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n10000\r\n${deep}\r\n`);
    expect(chunked.statusLine).toMatch(/^HTTP\/1\.1 401/);
    // The front proxy's GET is answered as if it had no body: every route is a GET, none parses one.
    const proxied = await sendHead(`GET ${base} HTTP/1.1\r\nhost: x\r\nx-remote-user: hpa\r\ncontent-type: application/json\r\ncontent-length: ${hundredMegabytes}\r\n\r\n${deep}`, proxy);
    expect(proxied.statusLine).toMatch(/^HTTP\/1\.1 200/);
    expect(proxied.bytesSent).toBeLessThan(hundredMegabytes / 100);
  });

  it('answers 503 naming the cause when the Kubernetes API fails', async () => {
    kubeUp = false;
    try {
      const answer = await get(`${base}/namespaces/media/rmesh_mesh_free_client_slots`, { client: proxy });
      expect(answer.status).toBe(503);
      expect(JSON.parse(answer.body)).toMatchObject({ reason: 'ServiceUnavailable', message: expect.stringContaining('cannot read the ReflectorMeshes of media') as unknown });
    } finally {
      kubeUp = true;
    }
  });
});
