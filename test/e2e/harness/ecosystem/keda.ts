// KEDA as processes outside the cluster (its operator and its metrics API server, built from the Go
// module by test/e2e/toolchain/build.sh) against the test's kubeconfig: its CRDs from the module's own
// config/crd (kustomize, applied with kubectl), its certificates made here (ca.crt, tls.crt, tls.key in one
// --cert-dir, as the Secret of its cert rotation would be mounted), and the metrics API server registered
// with KEDA's own APIService (config/metrics-server/api_service.yaml, v1beta1.external.metrics.k8s.io)
// over a Service without selector whose Endpoints address is the server's address on the cluster's bridge
// (an Endpoints address may not be loopback; kube-apiserver's --enable-aggregator-routing dials it).
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { freePort, freePorts } from '../../../support/ports.js';
import { makeServiceCerts } from '../certs.js';
import { waitFor, type Cluster } from '../cluster.js';
import { ManagedProcess } from '../processes.js';
import { kedaModuleDir, type EcosystemTools } from './tools.js';

const namespace = 'keda';
const serviceName = 'keda-metrics-apiserver';
const apiServiceName = 'v1beta1.external.metrics.k8s.io';

export interface RunningKeda {
  operatorLog: string;
  adapterLog: string;
  /** The last lines of both logs, for a failed run. */
  tail(lines?: number): string;
  stop(): Promise<void>;
}

const tailOf = (file: string, lines: number) => readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');

/** KEDA's CRDs from its module (kubectl's kustomize: the patches KEDA's config/crd carries), Established. */
async function installCrds(cluster: Cluster): Promise<void> {
  await cluster.kubectl(['apply', '--server-side', '-k', join(kedaModuleDir(), 'config/crd')], { timeoutMs: 120_000 });
  await cluster.kubectl(['wait', '--for', 'condition=Established', 'crd/scaledobjects.keda.sh', 'crd/triggerauthentications.keda.sh', '--timeout=60s'], { timeoutMs: 90_000 });
}

/** KEDA's APIService, its Service (no selector: no pod) and Endpoints at `address`:`port`. */
async function registerMetricsServer(cluster: Cluster, address: string, port: number, caCert: string): Promise<void> {
  const apiService = parse(readFileSync(join(kedaModuleDir(), 'config/metrics-server/api_service.yaml'), 'utf8')) as { spec: Record<string, unknown> };
  // KEDA's cert rotation would patch the CA in (--enable-apiservice-patching); here it is ours.
  apiService.spec.caBundle = readFileSync(caCert).toString('base64');
  const objects = [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: serviceName, namespace }, spec: { ports: [{ name: 'https', port: 443, targetPort: port }] } },
    { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: serviceName, namespace }, subsets: [{ addresses: [{ ip: address }], ports: [{ name: 'https', port }] }] },
    apiService,
  ];
  await cluster.kubectl(['apply', '-f', '-'], { input: objects.map((o) => stringify(o)).join('---\n') });
}

/** Starts KEDA's operator and metrics API server (this one listening on `address`) and waits for the APIService to be Available. */
export async function startKeda(cluster: Cluster, tools: EcosystemTools, address: string): Promise<RunningKeda> {
  const dir = mkdtempSync(join(tmpdir(), 'rmesh-e2e-keda-'));
  const certDir = join(dir, 'certs');
  mkdirSync(certDir);
  // One certificate for the gRPC link between the two (mutual TLS, both read --cert-dir) and the serving port.
  const certs = makeServiceCerts(certDir, 'keda', ['127.0.0.1', address], [`${serviceName}.${namespace}.svc`, 'localhost']);
  await installCrds(cluster);
  await cluster.kubectl(['create', 'namespace', namespace], { allowFailure: true });
  const [grpcPort, probePort, adapterMetricsPort] = (await freePorts(3)) as [number, number, number];
  const adapterPort = await freePort(address);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, KUBECONFIG: cluster.kubeconfigPath, POD_NAMESPACE: namespace, KEDA_CLUSTER_OBJECT_NAMESPACE: namespace, WATCH_NAMESPACE: '' };
  const operator = new ManagedProcess({
    name: 'keda-operator', command: tools.kedaOperator, env, logFile: join(dir, 'keda-operator.log'),
    args: [
      '--leader-elect=false', '--zap-log-level=info', '--zap-encoder=console', '--enable-cert-rotation=false', `--cert-dir=${certDir}`,
      '--metrics-bind-address=0', `--health-probe-bind-address=127.0.0.1:${probePort}`, `--metrics-service-bind-address=127.0.0.1:${grpcPort}`,
    ],
  });
  const adapter = new ManagedProcess({
    name: 'keda-adapter', command: tools.kedaAdapter, env, logFile: join(dir, 'keda-adapter.log'),
    args: [
      `--bind-address=${address}`, `--secure-port=${adapterPort}`, `--tls-cert-file=${certs.cert}`, `--tls-private-key-file=${certs.key}`, `--cert-dir=${certDir}`,
      `--lister-kubeconfig=${cluster.kubeconfigPath}`, `--authentication-kubeconfig=${cluster.kubeconfigPath}`, `--authorization-kubeconfig=${cluster.kubeconfigPath}`,
      `--metrics-service-address=127.0.0.1:${grpcPort}`, `--port=${adapterMetricsPort}`, '--zap-log-level=info',
    ],
  });
  const keda: RunningKeda = {
    operatorLog: operator.logFile,
    adapterLog: adapter.logFile,
    tail: (lines = 40) => `keda-operator (${operator.logFile}):\n${tailOf(operator.logFile, lines)}\nkeda-adapter (${adapter.logFile}):\n${tailOf(adapter.logFile, lines)}`,
    stop: async () => void (await Promise.all([operator.stop(10_000), adapter.stop(10_000)])),
  };
  try {
    await waitFor('keda-operator ready (/readyz)', async () => {
      if (!operator.running) throw new Error('keda-operator exited');
      return (await fetch(`http://127.0.0.1:${probePort}/readyz`).catch(() => undefined))?.ok;
    }, { timeoutMs: 120_000, intervalMs: 1000 });
    await registerMetricsServer(cluster, address, adapterPort, certs.caCert);
    await waitFor(`APIService ${apiServiceName} Available (KEDA's metrics API server)`, async () => {
      if (!adapter.running) throw new Error('keda-adapter exited');
      const r = await cluster.kubectl(['get', 'apiservice', apiServiceName, '-o', 'jsonpath={.status.conditions[?(@.type=="Available")].status}'], { allowFailure: true });
      return r.stdout === 'True';
    }, { timeoutMs: 180_000, intervalMs: 2000 });
  } catch (err) {
    const logs = keda.tail();
    await keda.stop();
    throw new Error(`${(err as Error).message}\n${logs}`, { cause: err });
  }
  return keda;
}
