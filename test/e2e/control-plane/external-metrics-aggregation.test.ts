// The external metrics API behind the real aggregation layer, without nodes: the e2e harness's etcd and
// kube-apiserver (front-proxy CA and client certificate, --enable-aggregator-routing), the CRD, two
// meshes with a status as the operator writes it, and the operator's external metrics server started as
// `rmesh operator --external-metrics-port` starts it (its trust read from the apiserver's own
// extension-apiserver-authentication ConfigMap), registered by an APIService over a Service whose
// endpoint is the server's address on a test network (an Endpoints address may not be loopback; in the
// machine's root namespace the file runs itself again in a private one: test/support/private-namespace.ts). A request to kube-apiserver reaches the operator's values;
// a user without RBAC on external.metrics.k8s.io is stopped by kube-apiserver; the operator's port itself
// refuses a caller with the cluster CA's admin certificate (not the front proxy).
// Needs kube-apiserver and etcd of the e2e toolchain, so it is an e2e file (test/e2e/toolchain/build.sh).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, urlToHttpOptions } from 'node:url';
import { ApiextensionsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startExternalMetrics } from '../../../operator/external-metrics/start.js';
import { ControlPlane } from '../harness/control-plane.js';
import { projectRoot, readyToolchain, toolchainWaitMs, type Toolchain } from '../harness/toolchain.js';
import { freePorts } from '../../support/ports.js';
import { httpsGet, type HttpsAnswer } from '../../support/https-get.js';
import { rerunInPrivateNamespace } from '../../support/private-namespace.js';
import { TestNetwork } from '../../support/test-hosts.js';
import { waitFor } from '../../support/wait.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const ADDRESS = '127.0.7.1';
/** The operator's address: this process's own on a test network (test/support/test-hosts.ts). */
const OPERATOR = '10.78.0.1';
const base = '/apis/external.metrics.k8s.io/v1beta1/namespaces/default';

let plane: ControlPlane | undefined;
let network: TestNetwork | undefined;
let operator: { close: () => Promise<void> } | undefined;
let kc: KubeConfig;
let operatorPort = 0;

const plan = (peak: number) => ({ reflectors: 1, clientsPerReflector: 6, peakOutboundStreams: peak, peakOutboundMbps: peak, peakOutboundPacketsPerSecond: 0, utilisationPercent: 0, maxClients: 6, bitrateMbps: 1, fits: true });

async function createMesh(name: string, free: number, peak: number): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const key = { group: 'rmesh.io', version: 'v1alpha1', namespace: 'default', plural: 'reflectormeshes' };
  const created = (await api.createNamespacedCustomObject({
    ...key,
    body: { apiVersion: 'rmesh.io/v1alpha1', kind: 'ReflectorMesh', metadata: { name }, spec: { replicas: 1, scaling: { mode: 'External' }, stream: { bitrateMbps: 1 }, capacity: { outboundMbps: 20, headroom: 0 } } },
  })) as { metadata: { resourceVersion: string } };
  await api.replaceNamespacedCustomObjectStatus({
    ...key,
    name,
    body: { apiVersion: 'rmesh.io/v1alpha1', kind: 'ReflectorMesh', metadata: { name, resourceVersion: created.metadata.resourceVersion }, status: { replicas: 1, readyReplicas: 1, clients: 3, plan: plan(peak), autoscaling: { freeClientSlots: free, maxClients: 6 } } },
  });
}

/** GET with a client certificate of the cluster CA; kube-apiserver's certificate is checked, the operator's self-signed one is not. */
function get(url: string, cert: { cert: string; key: string }): Promise<HttpsAnswer> {
  return httpsGet({ ...urlToHttpOptions(new URL(url)), ca: readFileSync(plane!.certs.caCert), cert: readFileSync(cert.cert), key: readFileSync(cert.key), rejectUnauthorized: url.startsWith(plane!.server) });
}

// Before the second run in a private namespace too: that run builds nothing.
let toolchain: Toolchain;
beforeAll(async () => {
  toolchain = await readyToolchain();
}, toolchainWaitMs);

if (!rerunInPrivateNamespace(THIS_FILE, 420_000)) {
  beforeAll(async () => {
    const [etcdClientPort, etcdPeerPort, apiServerPort, port] = (await freePorts(4)) as [number, number, number, number];
    operatorPort = port;
    network = await TestNetwork.create();
    await network.attachCaller(OPERATOR);
    plane = await ControlPlane.start({ toolchain, address: ADDRESS, etcdClientPort, etcdPeerPort, apiServerPort });
    kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfigPath);
    const crdFile = join(projectRoot, 'crds/rmesh.io_reflectormeshes.yaml');
    const crd = parse(readFileSync(crdFile, 'utf8')) as V1CustomResourceDefinition;
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    // kubectl, as users install it: the typed client drops fields it has no model name for
    // (x-kubernetes-int-or-string), and the API server then refuses the schema.
    execFileSync(toolchain.kubectl, ['--kubeconfig', plane.kubeconfigPath, 'apply', '--server-side', '-f', crdFile]);
    await waitFor(async () => (await ext.readCustomResourceDefinition({ name: crd.metadata!.name! })).status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True') === true, { what: 'the CRD established', timeoutMs: 60_000 });
    await waitFor(async () => (await createMesh('conf', 4, 15).then(() => true, () => false)), { what: 'mesh conf created', timeoutMs: 30_000, intervalMs: 500 });
    await createMesh('talk', 0, 20);
    // kube-apiserver writes its request-header settings into kube-system at start.
    const core = kc.makeApiClient(CoreV1Api);
    await waitFor(async () => (await core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'extension-apiserver-authentication' }).catch(() => undefined))?.data?.['requestheader-client-ca-file'] !== undefined, { what: 'extension-apiserver-authentication', timeoutMs: 60_000 });
    operator = await startExternalMetrics({ host: OPERATOR, port: operatorPort, namespaces: [] }, kc, pino({ level: 'silent' }));
    // The chart's objects, with an endpoint at the operator's address in place of its pod's.
    await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'rmesh-external-metrics' }, spec: { ports: [{ name: 'https', port: 443, targetPort: operatorPort }] } } });
    await core.createNamespacedEndpoints({ namespace: 'default', body: { metadata: { name: 'rmesh-external-metrics' }, subsets: [{ addresses: [{ ip: OPERATOR }], ports: [{ name: 'https', port: operatorPort }] }] } });
    await kc.makeApiClient(CustomObjectsApi).createClusterCustomObject({
      group: 'apiregistration.k8s.io', version: 'v1', plural: 'apiservices',
      body: { apiVersion: 'apiregistration.k8s.io/v1', kind: 'APIService', metadata: { name: 'v1beta1.external.metrics.k8s.io' }, spec: { group: 'external.metrics.k8s.io', version: 'v1beta1', service: { name: 'rmesh-external-metrics', namespace: 'default', port: 443 }, groupPriorityMinimum: 100, versionPriority: 100, insecureSkipTLSVerify: true } },
    });
  }, 300_000);

  afterAll(async () => {
    await operator?.close();
    await plane?.stop();
    await network?.destroy();
  });

  describe('the external metrics API through kube-apiserver\'s aggregation layer', () => {
    it('is Available, and kube-apiserver serves the meshes\' values from the operator', async () => {
      const objects = kc.makeApiClient(CustomObjectsApi);
      const available = await waitFor(async () => {
        const s = (await objects.getClusterCustomObject({ group: 'apiregistration.k8s.io', version: 'v1', plural: 'apiservices', name: 'v1beta1.external.metrics.k8s.io' })) as { status?: { conditions?: { type: string; status: string; message?: string }[] } };
        const c = s.status?.conditions?.find((x) => x.type === 'Available');
        return c?.status === 'True' ? c : undefined;
      }, { what: 'APIService Available', timeoutMs: 90_000, intervalMs: 1000 }).catch((err: Error) => {
        throw new Error(`${err.message}; kube-apiserver log ends with:\n${readFileSync(join(plane!.dir, 'kube-apiserver.log'), 'utf8').split('\n').filter((l) => /aggregat|external\.metrics|v1beta1\.external/i.test(l)).slice(-20).join('\n')}`);
      });
      expect(available.status).toBe('True');
      const admin = { cert: plane!.certs.adminCert, key: plane!.certs.adminKey };
      const discovery = await get(`${plane!.server}/apis/external.metrics.k8s.io/v1beta1`, admin);
      expect(discovery.status, discovery.body).toBe(200);
      expect(JSON.parse(discovery.body)).toMatchObject({ kind: 'APIResourceList', groupVersion: 'external.metrics.k8s.io/v1beta1' });
      const one = await get(`${plane!.server}${base}/rmesh_mesh_free_client_slots?labelSelector=mesh%3Dconf`, admin);
      expect(one.status, one.body).toBe(200);
      expect(JSON.parse(one.body)).toMatchObject({ kind: 'ExternalMetricValueList', items: [{ metricName: 'rmesh_mesh_free_client_slots', metricLabels: { mesh: 'conf' }, value: '4' }] });
      const all = JSON.parse((await get(`${plane!.server}${base}/rmesh_mesh_capacity_utilisation`, admin)).body) as { items: { metricLabels: { mesh: string }; value: string }[] };
      expect(all.items.map((i) => [i.metricLabels.mesh, i.value])).toEqual([['conf', '750m'], ['talk', '1']]);
    });

    it('lets kube-apiserver refuse a user without RBAC on the group, and the operator refuse anyone but the front proxy', async () => {
      const { issueClientCert } = await import('../harness/certs.js');
      const nobody = issueClientCert(plane!.dir, 'nobody', '/CN=nobody');
      const refused = await get(`${plane!.server}${base}/rmesh_mesh_free_client_slots`, nobody);
      expect(refused.status).toBe(403);
      expect(refused.body).toContain('external.metrics.k8s.io');
      // The cluster CA's admin certificate straight at the operator's port: not the front proxy.
      const direct = await get(`https://${OPERATOR}:${operatorPort}${base}/rmesh_mesh_free_client_slots`, { cert: plane!.certs.adminCert, key: plane!.certs.adminKey });
      expect(direct.status).toBe(401);
      expect(direct.body).toContain('not trusted');
    });
  });
}
