// The chart and the examples against a real kube-apiserver (and etcd) of the pinned version, started by
// the end-to-end harness's control plane: `helm install` creates the CRD and every object, the API
// server accepts the examples (its own validation, CEL rules included, which kubeconform cannot run),
// the operator's ServiceAccount gets exactly its privileges, and upgrades and uninstall work. No
// controller runs here: the operator's behaviour is the end-to-end suite's. Address 127.0.6.2,
// ports 45901-45903.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane } from '../../e2e/harness/control-plane.js';
import { ensureToolchain, type Toolchain } from '../../e2e/harness/toolchain.js';
import { CHART, ROOT } from './tools.js';

const NAMESPACE = 'rmesh-system';
const SERVICE_ACCOUNT = `system:serviceaccount:${NAMESPACE}:rm-reflector-mesh`;

let toolchain: Toolchain;
let plane: ControlPlane | undefined;

beforeAll(async () => {
  toolchain = ensureToolchain();
  plane = await ControlPlane.start({ toolchain, address: '127.0.6.2', etcdClientPort: 45901, etcdPeerPort: 45902, apiServerPort: 45903 });
}, 1_800_000);

afterAll(async () => {
  await plane?.stop();
});

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
  const args = ['auth', 'can-i', verb, name, '-n', namespace, `--as=${SERVICE_ACCOUNT}`];
  if (subresource) args.push(`--subresource=${subresource}`);
  const answer = exec(toolchain.kubectl, args).stdout.trim();
  if (answer !== 'yes' && answer !== 'no') throw new Error(`kubectl auth can-i ${args.join(' ')} answered '${answer}'`);
  return answer === 'yes';
}

describe('the chart on a real kube-apiserver', () => {
  it('`helm install` with two replicas creates the CRD, the operator and its RBAC', () => {
    helm('install', 'rm', CHART, '-n', NAMESPACE, '--create-namespace', '--set', 'operator.replicas=2', '--set', 'dashboard.enabled=true', '--wait=false');
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
    kubectl('get', 'clusterrole/rm-reflector-mesh', 'clusterrolebinding/rm-reflector-mesh');
  });

  it('the operator may do what it needs and nothing more', () => {
    expect(operatorCan('watch', 'reflectormeshes.rmesh.io', 'default'), 'watch reflectormeshes.rmesh.io').toBe(true);
    expect(operatorCan('patch', 'reflectormeshes.rmesh.io/status', 'default'), 'patch reflectormeshes.rmesh.io/status').toBe(true);
    expect(operatorCan('create', 'pods', 'default'), 'create pods').toBe(true);
    expect(operatorCan('delete', 'pods', 'default'), 'delete pods').toBe(true);
    expect(operatorCan('get', 'secrets', 'default'), 'get secrets').toBe(true);
    expect(operatorCan('create', 'events', 'default'), 'create events').toBe(true);
    expect(operatorCan('update', 'leases.coordination.k8s.io', NAMESPACE), 'update leases.coordination.k8s.io').toBe(true);
    // Least privilege: never the mesh's spec, never a listing of secrets, no Lease elsewhere, no workloads.
    expect(operatorCan('update', 'reflectormeshes.rmesh.io', 'default'), 'update reflectormeshes.rmesh.io').toBe(false);
    expect(operatorCan('list', 'secrets', 'default'), 'list secrets').toBe(false);
    expect(operatorCan('update', 'leases.coordination.k8s.io', 'default'), 'update leases.coordination.k8s.io').toBe(false);
    expect(operatorCan('create', 'deployments.apps', 'default'), 'create deployments.apps').toBe(false);
  });

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
