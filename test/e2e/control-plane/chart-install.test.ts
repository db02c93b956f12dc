// The chart and the examples against a real kube-apiserver (and etcd) of the pinned version, started by
// the end-to-end harness's control plane: `helm install` creates the CRD and every object, the API
// server accepts the examples (its own validation, CEL rules included, which kubeconform cannot run),
// the operator's ServiceAccount gets exactly its privileges, and upgrades and uninstall work. No
// kubelet or scheduler runs here; the operator runs once as a local process with the Deployment's own
// args and its ServiceAccount's token, which proves the chart's args, probes and RBAC work together
// (the operator's behaviour is the end-to-end suite's). Address 127.0.6.2, ports asked of the OS.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from '../harness/control-plane.js';
import { writeKubeconfig } from '../harness/kubeconfig.js';
import { readyToolchain, toolchainWaitMs, type Toolchain } from '../harness/toolchain.js';
import { CHART, parseManifests, ROOT } from '../../integration/packaging/tools.js';
import { exportedNames, metricNames } from '../../integration/packaging/promql-names.js';
import { CLUSTER_RULES, CONTROLLER_RULES, type PolicyRule } from '../../../operator/rbac.js';
import { terminate } from '../../support/child-process.js';
import { freePorts } from '../../support/ports.js';
import { waitFor } from '../../support/wait.js';

const NAMESPACE = 'rmesh-system';
const SERVICE_ACCOUNT = `system:serviceaccount:${NAMESPACE}:rm-reflector-mesh`;
const ADDRESS = '127.0.6.2';
/** The operator's port, asked of the OS with the control plane's. */
let OPERATOR_PORT = 0;

let toolchain: Toolchain;
let plane: ControlPlane | undefined;

beforeAll(async () => {
  toolchain = await readyToolchain();
}, toolchainWaitMs);

beforeAll(async () => {
  const [etcdClientPort, etcdPeerPort, apiServerPort, operatorPort] = (await freePorts(4)) as [number, number, number, number];
  OPERATOR_PORT = operatorPort;
  plane = await ControlPlane.start({ toolchain, address: ADDRESS, etcdClientPort, etcdPeerPort, apiServerPort });
}, 300_000);

let operator: ChildProcess | undefined;
let operatorLog = '';

afterAll(async () => {
  await stopOperator();
  await plane?.stop();
});

async function stopOperator(): Promise<number | null> {
  return terminate(operator, 15_000);
}

/** Waits for `probe` to answer, giving up when the operator exits; its log's end is in every error. */
async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const giveUpIf = () => (operator && operator.exitCode !== null ? `rmesh operator exited ${operator.exitCode}` : undefined);
  try {
    return await waitFor(probe, { what, timeoutMs, intervalMs: 250, giveUpIf });
  } catch (err) {
    throw new Error(`${(err as Error).message}; operator log ends with:\n${operatorLog.slice(-4000)}`, { cause: err });
  }
}

async function httpStatus(path: string): Promise<number | undefined> {
  try {
    return (await fetch(`http://${ADDRESS}:${OPERATOR_PORT}${path}`)).status;
  } catch {
    return undefined;
  }
}

interface Result {
  status: number | null;
  stdout: string;
  stderr: string;
}

function exec(command: string, args: string[], input?: string): Result {
  const env = { ...process.env, KUBECONFIG: plane?.kubeconfigPath ?? '' };
  const result = spawnSync(command, args, { cwd: ROOT, env, input, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(command: string, args: string[], input?: string): string {
  const result = exec(command, args, input);
  if (result.status !== 0) throw new Error(`${command.split('/').pop()} ${args.join(' ')} exited ${result.status}:\n${result.stderr}${result.stdout}`);
  return result.stdout;
}

const helm = (...args: string[]) => ok(toolchain.helm, args);
const kubectl = (...args: string[]) => ok(toolchain.kubectl, args);

/** `kubectl auth can-i` as the operator's ServiceAccount. */
function operatorCan(verb: string, resource: string, namespace: string): boolean {
  const [name = resource, subresource] = resource.split('/');
  const args = ['auth', 'can-i', verb, name, ...(namespace ? ['-n', namespace] : []), `--as=${SERVICE_ACCOUNT}`];
  if (subresource) args.push(`--subresource=${subresource}`);
  const answer = exec(toolchain.kubectl, args).stdout.trim();
  if (answer !== 'yes' && answer !== 'no') throw new Error(`kubectl auth can-i ${args.join(' ')} answered '${answer}'`);
  return answer === 'yes';
}

describe('the chart on a real kube-apiserver', () => {
  it('`helm install` with two replicas creates the CRD, the operator and its RBAC', () => {
    helm('install', 'rm', CHART, '-n', NAMESPACE, '--create-namespace', '--set', 'operator.replicas=2', '--set', `operator.port=${OPERATOR_PORT}`, '--set', 'dashboard.enabled=true', '--wait=false');
    kubectl('wait', '--for=condition=Established', 'crd/reflectormeshes.rmesh.io', '--timeout=60s');
    const objects = kubectl('get', 'deployment,serviceaccount,service,configmap,role,rolebinding', '-n', NAMESPACE, '-l', 'app.kubernetes.io/instance=rm', '-o', 'name');
    expect(objects.split('\n').filter(Boolean).sort()).toEqual(
      [
        'configmap/rm-reflector-mesh-dashboard',
        'deployment.apps/rm-reflector-mesh',
        'role.rbac.authorization.k8s.io/rm-reflector-mesh-leader-election',
        'rolebinding.rbac.authorization.k8s.io/rm-reflector-mesh-leader-election',
        'service/rm-reflector-mesh-metrics',
        'serviceaccount/rm-reflector-mesh',
      ].sort(),
    );
    kubectl('get', 'clusterrole/rm-reflector-mesh', 'clusterrolebinding/rm-reflector-mesh', 'clusterrole/rm-reflector-mesh-cluster', 'clusterrolebinding/rm-reflector-mesh-cluster');
  });

  it('the generated rules sort resources as the API server scopes them: namespaced ones bindable by a Role, cluster-scoped ones not', () => {
    const scoped = (namespaced: boolean) => new Set(kubectl('api-resources', `--namespaced=${namespaced}`, '-o', 'name').split('\n').filter(Boolean));
    const [namespaced, clusterScoped] = [scoped(true), scoped(false)];
    const names = (rules: PolicyRule[]) => rules.flatMap((r) => r.resources.map((res) => {
      const base = res.split('/')[0] ?? res;
      return r.apiGroups[0] ? `${base}.${r.apiGroups[0]}` : base;
    }));
    for (const name of names(CONTROLLER_RULES)) expect(namespaced.has(name), `${name} in CONTROLLER_RULES is not namespaced`).toBe(true);
    for (const name of names(CLUSTER_RULES)) expect(clusterScoped.has(name), `${name} in CLUSTER_RULES is not cluster-scoped`).toBe(true);
  });

  it('the operator may do what it needs and nothing more', () => {
    expect(operatorCan('watch', 'reflectormeshes.rmesh.io', 'default'), 'watch reflectormeshes.rmesh.io').toBe(true);
    expect(operatorCan('patch', 'reflectormeshes.rmesh.io/status', 'default'), 'patch reflectormeshes.rmesh.io/status').toBe(true);
    expect(operatorCan('create', 'pods', 'default'), 'create pods').toBe(true);
    expect(operatorCan('delete', 'pods', 'default'), 'delete pods').toBe(true);
    expect(operatorCan('get', 'secrets', 'default'), 'get secrets').toBe(true);
    expect(operatorCan('create', 'events', 'default'), 'create events').toBe(true);
    expect(operatorCan('update', 'leases.coordination.k8s.io', NAMESPACE), 'update leases.coordination.k8s.io').toBe(true);
    expect(operatorCan('watch', 'nodes', ''), 'watch nodes').toBe(true);
    // Least privilege: never the mesh's spec, never deleting a Secret (list/watch are for the label-selected
    // caches: informers/secret-cache.ts), no Lease elsewhere, no workloads.
    expect(operatorCan('update', 'reflectormeshes.rmesh.io', 'default'), 'update reflectormeshes.rmesh.io').toBe(false);
    expect(operatorCan('list', 'secrets', 'default'), 'list secrets').toBe(true);
    expect(operatorCan('delete', 'secrets', 'default'), 'delete secrets').toBe(false);
    expect(operatorCan('delete', 'poddisruptionbudgets.policy', 'default'), 'delete poddisruptionbudgets.policy').toBe(false);
    expect(operatorCan('update', 'leases.coordination.k8s.io', 'default'), 'update leases.coordination.k8s.io').toBe(false);
    expect(operatorCan('create', 'deployments.apps', 'default'), 'create deployments.apps').toBe(false);
  });

  it('the operator runs with the Deployment\'s args as its ServiceAccount: probes answer, it leads, it creates reflector pods', async () => {
    interface Probe { httpGet: { path: string } }
    const deployment = JSON.parse(kubectl('get', 'deployment/rm-reflector-mesh', '-n', NAMESPACE, '-o', 'json')) as {
      spec: { template: { spec: { containers: { args: string[]; livenessProbe: Probe; readinessProbe: Probe }[] } } };
    };
    const container = deployment.spec.template.spec.containers[0];
    if (!container) throw new Error('the Deployment has no container');
    // What the kubelet would give the pod: its ServiceAccount's token and the downward-API variables.
    const token = kubectl('create', 'token', 'rm-reflector-mesh', '-n', NAMESPACE, '--duration=1h').trim();
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'rmesh-sa-')), 'kubeconfig');
    writeKubeconfig(kubeconfig, { server: plane?.server ?? '', ca: { file: plane?.certs.caCert ?? '' }, user: { token } });
    const pod = 'rm-reflector-mesh-5d8f7c9b4-x2x7q';
    operator = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'rmesh.js'), ...container.args], {
      env: { ...process.env, KUBECONFIG: kubeconfig, POD_NAME: pod, POD_NAMESPACE: NAMESPACE, RMESH_OPERATOR_HOST: ADDRESS },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    operator.stdout?.on('data', (chunk: Buffer) => (operatorLog += chunk.toString()));
    operator.stderr?.on('data', (chunk: Buffer) => (operatorLog += chunk.toString()));

    await until('/healthz', async () => ((await httpStatus(container.livenessProbe.httpGet.path)) === 200 ? true : undefined));
    // The holder is this replica: its pod name (POD_NAME, from the downward API) and a per-process suffix.
    await until('the Lease', () => {
      const holder = exec(toolchain.kubectl, ['get', 'lease', 'rm-reflector-mesh', '-n', NAMESPACE, '-o', 'jsonpath={.spec.holderIdentity}']).stdout;
      return holder.startsWith(pod) ? holder : undefined;
    });
    await until('/readyz', async () => ((await httpStatus(container.readinessProbe.httpGet.path)) === 200 ? true : undefined));

    // kube-controller-manager would create each namespace's default ServiceAccount, which pods need.
    kubectl('create', 'serviceaccount', 'default', '-n', 'default');
    kubectl('apply', '-f', 'examples/mesh.yaml');
    const pods = await until('two reflector pods', () => {
      const names = kubectl('get', 'pods', '-n', 'default', '-l', 'rmesh.io/mesh=demo', '-o', 'name').trim().split('\n').filter(Boolean);
      return names.length === 2 ? names : undefined;
    });
    expect(pods).toHaveLength(2);
    await until('the mesh status', () => kubectl('get', 'rmesh/demo', '-o', 'jsonpath={.status.selector}') || undefined);
    // Every operator metric the chart's dashboard and alerts read is one this operator exports (the mesh
    // gauges appear once a mesh is reconciled, hence here).
    const exposition = await (await fetch(`http://${ADDRESS}:${OPERATOR_PORT}/metrics`)).text();
    const exported = exportedNames(exposition);
    const rule = helm('template', 'rm', CHART, '--set', 'metrics.prometheusRule.enabled=true', '--show-only', 'templates/prometheusrule.yaml');
    const dashboard = readFileSync(join(CHART, 'dashboards', 'reflector-mesh.json'), 'utf8');
    const groups = (parseManifests(rule)[0] as unknown as { spec: { groups: { rules: { expr: string }[] }[] } }).spec.groups;
    const exprs = groups.flatMap((g) => g.rules.map((r) => r.expr));
    exprs.push(...(JSON.parse(dashboard) as { panels: { targets?: { expr: string }[] }[] }).panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)));
    const operatorMetrics = [...new Set(exprs.flatMap(metricNames))].filter((m) => /^(rmesh_operator_|rmesh_mesh_|controller_runtime_|workqueue_|rest_client_|leader_election_)/.test(m));
    expect(operatorMetrics).toEqual(expect.arrayContaining(['rmesh_operator_leader', 'rmesh_operator_mesh_condition', 'rmesh_mesh_capacity_utilisation']));
    const missing = operatorMetrics.filter((m) => !exported.has(m));
    expect(missing, 'operator metrics the chart reads that the operator does not export').toEqual([]);
    expect(operatorLog).not.toMatch(/forbidden|\b403\b/i);
    expect(await stopOperator()).toBe(0);
  }, 180_000);

  it('the API server accepts every example, and `kubectl scale` works through the scale subresource', () => {
    kubectl('create', 'secret', 'generic', 'conference-admin-token', '--from-literal=token=0123456789abcdef');
    for (const file of ['mesh.yaml', 'mesh-autoscaled.yaml', 'hpa.yaml']) kubectl('apply', '-f', join('examples', file));
    const meshes = kubectl('get', 'rmesh', '-o', 'custom-columns=NAME:.metadata.name,MODE:.spec.scaling.mode,REPLICAS:.spec.replicas', '--no-headers');
    expect(meshes.trim().split('\n').map((l) => l.trim().split(/\s+/))).toEqual([
      ['conference', 'Model', '<none>'],
      ['demo', 'Fixed', '2'],
      ['webinar', 'External', '2'],
    ]);
    kubectl('scale', 'rmesh/demo', '--replicas=3');
    expect(kubectl('get', 'rmesh/demo', '-o', 'jsonpath={.spec.replicas}')).toBe('3');
    const scale = JSON.parse(kubectl('get', '--raw', '/apis/rmesh.io/v1alpha1/namespaces/default/reflectormeshes/webinar/scale')) as { kind: string; spec: { replicas: number } };
    expect(scale).toMatchObject({ kind: 'Scale', spec: { replicas: 2 } });
  });

  it('the API server rejects a broken example with the CRD\'s message (the check can fail)', () => {
    const broken = readFileSync(join(ROOT, 'examples', 'mesh.yaml'), 'utf8').replace('name: demo', 'name: broken').replace('spec:\n', 'spec:\n  scaling:\n    mode: Model\n');
    const result = exec(toolchain.kubectl, ['apply', '-f', '-'], broken);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('spec.replicas has one owner');
  });

  it('`helm upgrade` to one watched namespace swaps the ClusterRole for a Role there', () => {
    kubectl('create', 'namespace', 'media');
    helm('upgrade', 'rm', CHART, '-n', NAMESPACE, '--set', 'operator.watchNamespace=media', '--wait=false');
    expect(operatorCan('create', 'pods', 'media'), 'create pods').toBe(true);
    expect(operatorCan('create', 'pods', 'default'), 'create pods').toBe(false);
    expect(operatorCan('get', 'secrets', 'media'), 'get secrets in media').toBe(true);
    expect(operatorCan('get', 'secrets', 'default'), 'get secrets in default').toBe(false);
    expect(operatorCan('get', 'secrets', NAMESPACE), 'get secrets in the release namespace').toBe(false);
    // Cluster-scoped rights stay: a Role cannot grant nodes.
    expect(operatorCan('watch', 'nodes', ''), 'watch nodes').toBe(true);
    expect(exec(toolchain.kubectl, ['get', 'clusterrole/rm-reflector-mesh']).status).not.toBe(0);
    const args = kubectl('get', 'deployment/rm-reflector-mesh', '-n', NAMESPACE, '-o', 'jsonpath={.spec.template.spec.containers[0].args}');
    expect(args).toContain('--namespace=media');
  });

  it('`helm uninstall` removes the release and keeps the CRD and the meshes', () => {
    helm('uninstall', 'rm', '-n', NAMESPACE);
    expect(kubectl('get', 'deployment,serviceaccount,role', '-n', NAMESPACE, '-l', 'app.kubernetes.io/instance=rm', '-o', 'name').trim()).toBe('');
    kubectl('get', 'crd/reflectormeshes.rmesh.io');
    expect(kubectl('get', 'rmesh', '-o', 'name').trim().split('\n')).toHaveLength(3);
  });
});
