// The e2e harness itself, against a real kube-apiserver and etcd: the simulated nodes register and stay
// Ready; pending pods are bound honouring required pod anti-affinity, node selectors and taints; each
// pod runs as a real process with its environment resolved (values, fieldRef, secretKeyRef, $(VAR));
// the readiness probe is a real HTTP GET; a killed process is restarted and reported; a deleted pod's
// process gets SIGTERM and is gone; pods whose owner is deleted are garbage-collected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { startCluster, waitFor, type Cluster } from './harness/cluster.js';
import type { Simulator } from './harness/simulator.js';
import { toolchainVersions } from './harness/toolchain.js';
import { TEST_MESH_KEY } from '../support/reflector-process.js';

const namespace = 'simulator-test';
const port = 30100;

// A stand-in container: serves its environment and a readiness endpoint on its node's address, and
// says when it gets SIGTERM.
const server = `
const http = require('node:http');
const s = http.createServer((req, res) => {
  if (req.url === '/readyz') { res.end('ok'); return; }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ env: process.env, argv: process.argv.slice(1), pid: process.pid }));
});
s.listen(Number(process.env.PORT), process.env.ADDRESS, () => console.log('listening on', process.env.ADDRESS));
process.on('SIGTERM', () => { console.log('got SIGTERM'); s.close(); process.exit(0); });
`;

function reflectorLikePod(name: string, extra: Partial<V1Pod['spec']> = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: { 'app.kubernetes.io/name': 'reflector-mesh', 'rmesh.io/mesh': 'sim' } },
    spec: {
      hostNetwork: true,
      terminationGracePeriodSeconds: 5,
      affinity: {
        podAntiAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: [
            { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'rmesh.io/mesh': 'sim' } } },
          ],
        },
      },
      containers: [
        {
          name: 'main',
          image: 'example/stand-in:1',
          command: ['node', '-e', server, '--', '$(POD_NAME)'],
          // No declared ports: on the host network they would make the scheduler's port filter, not
          // the anti-affinity under test, keep a second pod of the mesh off a node.
          env: [
            { name: 'ADDRESS', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
            { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            { name: 'PORT', value: String(port) },
            { name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'sim-secret', key: 'token' } } },
            { name: 'JOINED', value: '$(POD_NAME)@$(ADDRESS):$(PORT)' },
          ],
          readinessProbe: { httpGet: { path: '/readyz', port }, periodSeconds: 1 },
        },
      ],
      ...extra,
    },
  };
}

describe('node and pod simulator', () => {
  let cluster: Cluster;
  let sim: Simulator;
  let core: CoreV1Api;

  const pod = (name: string): Promise<V1Pod> => core.readNamespacedPod({ name, namespace });
  const ready = (p: V1Pod): boolean => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const alive = (pid: number): boolean => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  const fetchEnv = async (address: string): Promise<{ env: Record<string, string>; argv: string[]; pid: number }> =>
    (await (await fetch(`http://${address}:${port}/`)).json()) as { env: Record<string, string>; argv: string[]; pid: number };

  beforeAll(async () => {
    cluster = await startCluster({
      local: true,
      simulator: {
        nodes: [
          { name: 'sim-a', address: '127.0.3.21' },
          { name: 'sim-b', address: '127.0.3.22', labels: { zone: 'b' } },
          { name: 'sim-tainted', address: '127.0.3.23', taints: [{ key: 'dedicated', value: 'media', effect: 'NoSchedule' }] },
        ],
        commands: { node: [process.execPath] },
      },
    });
    sim = cluster.simulator as Simulator;
    core = cluster.kc.makeApiClient(CoreV1Api);
    await cluster.kubectl(['create', 'namespace', namespace]);
    await cluster.kubectl(['-n', namespace, 'create', 'secret', 'generic', 'sim-secret', '--from-literal=token=s3cret', `--from-literal=meshKey=${TEST_MESH_KEY}`]);
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('serves the pinned Kubernetes version and registers Ready nodes on their loopback addresses', async () => {
    const version = JSON.parse((await cluster.kubectl(['version', '-o', 'json'])).stdout) as { serverVersion: { gitVersion: string } };
    expect(version.serverVersion.gitVersion).toBe(toolchainVersions().K8S_VERSION);
    const nodes = await core.listNode();
    const byName = new Map(nodes.items.map((n) => [n.metadata?.name, n]));
    for (const [name, address] of [['sim-a', '127.0.3.21'], ['sim-b', '127.0.3.22'], ['sim-tainted', '127.0.3.23']]) {
      const node = byName.get(name);
      expect(node?.status?.addresses).toContainEqual({ type: 'InternalIP', address });
      expect(node?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    }
    const lease = await cluster.kc.makeApiClient((await import('@kubernetes/client-node')).CoordinationV1Api).readNamespacedLease({
      name: 'sim-a',
      namespace: 'kube-node-lease',
    });
    expect(lease.spec?.holderIdentity).toBe('sim-a');
  });

  it('binds pods one per node by anti-affinity, keeps off tainted nodes, and runs them with their environment', async () => {
    await cluster.kubectl(['apply', '-f', '-'], {
      input: [reflectorLikePod('sim-1'), reflectorLikePod('sim-2'), reflectorLikePod('sim-3')].map((p) => JSON.stringify(p)).join('\n'),
    });
    const running = await waitFor('two pods Ready', async () => {
      const list = await core.listNamespacedPod({ namespace });
      const readyPods = list.items.filter(ready);
      return readyPods.length === 2 ? readyPods : undefined;
    });
    const nodes = running.map((p) => p.spec?.nodeName).sort();
    expect(nodes).toEqual(['sim-a', 'sim-b']);
    for (const p of running) {
      const address = sim.nodeAddress(p.spec?.nodeName ?? '');
      expect(p.status?.hostIP).toBe(address);
      expect(p.status?.podIP).toBe(address);
      expect(p.status?.phase).toBe('Running');
      const served = await fetchEnv(address);
      const name = p.metadata?.name ?? '';
      expect(served.env).toMatchObject({
        ADDRESS: address,
        POD_IP: address,
        POD_NAME: name,
        POD_NAMESPACE: namespace,
        TOKEN: 's3cret',
        JOINED: `${name}@${address}:${port}`,
      });
      expect(served.argv).toContain(name);
      expect(served.pid).toBe(sim.pid(namespace, name));
    }
    const pending = (await core.listNamespacedPod({ namespace })).items.find((p) => !p.spec?.nodeName);
    const scheduled = await waitFor('the third pod marked Unschedulable', async () => {
      const p = await pod(pending?.metadata?.name ?? '');
      return p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.reason === 'Unschedulable');
    });
    expect(scheduled.message).toContain("didn't match pod anti-affinity rules");
    expect(scheduled.message).toContain('untolerated taint {dedicated: media}');
  });

  it('runs real rmesh reflector pods, shaped as the operator makes them, to Ready on their nodes', async () => {
    const reflector = (name: string) => ({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace,
        labels: { 'app.kubernetes.io/name': 'reflector-mesh', 'app.kubernetes.io/component': 'reflector', 'rmesh.io/mesh': 'real' },
      },
      spec: {
        hostNetwork: true,
        dnsPolicy: 'ClusterFirstWithHostNet',
        automountServiceAccountToken: false,
        terminationGracePeriodSeconds: 10,
        affinity: {
          podAntiAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: [
              { topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: { 'rmesh.io/mesh': 'real' } } },
            ],
          },
        },
        containers: [
          {
            name: 'reflector',
            image: 'reflector-mesh:dev',
            args: ['reflector'],
            env: [
              { name: 'RMESH_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'RMESH_ADDRESS', valueFrom: { fieldRef: { fieldPath: 'status.hostIP' } } },
              { name: 'RMESH_DATA_PORT', value: '30200' },
              { name: 'RMESH_CONTROL_PORT', value: '30202' },
              { name: 'RMESH_ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: 'sim-secret', key: 'token' } } },
              { name: 'RMESH_MESH_KEY', valueFrom: { secretKeyRef: { name: 'sim-secret', key: 'meshKey' } } },
            ],
            ports: [
              { name: 'data', containerPort: 30200, hostPort: 30200, protocol: 'UDP' },
              { name: 'control', containerPort: 30202, hostPort: 30202, protocol: 'TCP' },
            ],
            readinessProbe: { httpGet: { path: '/readyz', port: 30202 }, periodSeconds: 1 },
            livenessProbe: { httpGet: { path: '/healthz', port: 30202 }, periodSeconds: 5 },
          },
        ],
      },
    });
    await cluster.kubectl(['apply', '-f', '-'], { input: [reflector('real-0'), reflector('real-1')].map((p) => JSON.stringify(p)).join('\n') });
    const readyPods = await waitFor('both reflectors Ready', async () => {
      const list = await core.listNamespacedPod({ namespace, labelSelector: 'rmesh.io/mesh=real' });
      return list.items.filter(ready).length === 2 ? list.items : undefined;
    });
    expect(new Set(readyPods.map((p) => p.spec?.nodeName)).size).toBe(2);
    for (const p of readyPods) {
      const res = await fetch(`http://${p.status?.hostIP}:30202/readyz`);
      expect(res.status).toBe(200);
    }
    await cluster.kubectl(['-n', namespace, 'delete', 'pod', 'real-0', 'real-1', '--wait=true', '--timeout=60s']);
    expect(sim.logs(namespace, 'real-0')).toContain('exited: code 0');
  });

  it('restarts a killed process and reports the restart', async () => {
    const name = (await core.listNamespacedPod({ namespace })).items.find((p) => p.spec?.nodeName === 'sim-a')?.metadata?.name ?? '';
    const before = sim.pid(namespace, name) ?? 0;
    const exit = await sim.killPod(namespace, name);
    expect(exit.signal).toBe('SIGKILL');
    expect(alive(before)).toBe(false);
    const restarted = await waitFor('the killed pod restarted and Ready', async () => {
      const p = await pod(name);
      const status = p.status?.containerStatuses?.[0];
      return status?.restartCount === 1 && ready(p) ? status : undefined;
    });
    expect(restarted.lastState?.terminated?.exitCode).toBe(137);
    expect(sim.pid(namespace, name)).not.toBe(before);
  });

  it('stops a deleted pod with SIGTERM, then schedules the pending pod in its place', async () => {
    const victim = (await core.listNamespacedPod({ namespace })).items.find((p) => p.spec?.nodeName === 'sim-b');
    const name = victim?.metadata?.name ?? '';
    const pid = sim.pid(namespace, name) ?? 0;
    expect(alive(pid)).toBe(true);
    await cluster.kubectl(['-n', namespace, 'delete', 'pod', name, '--wait=true', '--timeout=60s']);
    expect(alive(pid)).toBe(false);
    expect(sim.logs(namespace, name)).toContain('got SIGTERM');
    const replacement = await waitFor('the pending pod Ready on the freed node', async () => {
      const list = await core.listNamespacedPod({ namespace });
      return list.items.find((p) => p.metadata?.name !== name && p.spec?.nodeName === 'sim-b' && ready(p));
    });
    expect(replacement.status?.hostIP).toBe('127.0.3.22');
  });

  it('honours nodeSelector and tolerations, and runs rmesh itself to completion under restartPolicy Never', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'rmesh-version', namespace, labels: { 'app.kubernetes.io/name': 'reflector-mesh' } },
      spec: {
        restartPolicy: 'Never',
        nodeSelector: { 'kubernetes.io/hostname': 'sim-tainted' },
        tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
        containers: [{ name: 'rmesh', image: 'reflector-mesh:dev', args: ['--version'] }],
      },
    };
    await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(pod) });
    const done = await waitFor('rmesh --version to succeed', async () => {
      const p = await core.readNamespacedPod({ name: 'rmesh-version', namespace });
      if (p.status?.phase === 'Failed') throw new Error(`rmesh --version failed: ${sim.logs(namespace, 'rmesh-version')}`);
      return p.status?.phase === 'Succeeded' ? p : undefined;
    });
    expect(done.spec?.nodeName).toBe('sim-tainted');
    expect(done.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
    expect(sim.logs(namespace, 'rmesh-version')).toMatch(/\d+\.\d+\.\d+/);
  });

  it('garbage-collects pods whose owner is deleted', async () => {
    const owner = await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'owner' }, data: {} } });
    const owned = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'owned',
        namespace,
        labels: { 'app.kubernetes.io/name': 'reflector-mesh' },
        ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid }],
      },
      spec: {
        nodeSelector: { 'kubernetes.io/hostname': 'sim-a' },
        containers: [{ name: 'main', image: 'x', command: ['node', '-e', 'setInterval(() => {}, 1000)'] }],
      },
    };
    await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(owned) });
    await waitFor('the owned pod running', () => sim.pid(namespace, 'owned'));
    const pid = sim.pid(namespace, 'owned') ?? 0;
    await core.deleteNamespacedConfigMap({ name: 'owner', namespace });
    await waitFor('the owned pod deleted', async () => {
      const list = await core.listNamespacedPod({ namespace });
      return !list.items.some((p) => p.metadata?.name === 'owned');
    });
    expect(alive(pid)).toBe(false);
  });

  it('runs a Deployment through a ReplicaSet with its service account identity, and scales and removes it', async () => {
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'op', namespace },
      spec: {
        replicas: 1,
        selector: { matchLabels: { 'app.kubernetes.io/name': 'reflector-mesh', 'app.kubernetes.io/component': 'operator' } },
        template: {
          metadata: { labels: { 'app.kubernetes.io/name': 'reflector-mesh', 'app.kubernetes.io/component': 'operator' } },
          spec: {
            containers: [
              {
                name: 'operator',
                image: 'x',
                command: ['node', '-e', server],
                env: [
                  { name: 'ADDRESS', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
                  { name: 'PORT', value: '30101' },
                ],
                readinessProbe: { httpGet: { path: '/readyz', port: 30101 }, periodSeconds: 1 },
              },
            ],
          },
        },
      },
    };
    await cluster.kubectl(['apply', '-f', '-'], { input: JSON.stringify(deployment) });
    await cluster.kubectl(['-n', namespace, 'rollout', 'status', 'deployment/op', '--timeout=90s']);
    const pods = (await core.listNamespacedPod({ namespace, labelSelector: 'app.kubernetes.io/component=operator' })).items;
    expect(pods).toHaveLength(1);
    const opPod = pods[0] as V1Pod;
    expect(opPod.metadata?.ownerReferences?.[0]?.kind).toBe('ReplicaSet');
    // The process talks to the API server as the pod's service account, through RBAC.
    const served = await fetchEnv(opPod.status?.podIP ?? '');
    const whoami = await cluster.kubectl(['--kubeconfig', served.env.KUBECONFIG ?? '', 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
    expect(whoami.stdout).toBe(`system:serviceaccount:${namespace}:default`);

    await cluster.kubectl(['-n', namespace, 'scale', 'deployment/op', '--replicas=0']);
    await waitFor('the operator pod gone after scaling to 0', async () =>
      (await core.listNamespacedPod({ namespace, labelSelector: 'app.kubernetes.io/component=operator' })).items.length === 0,
    );
    await cluster.kubectl(['-n', namespace, 'delete', 'deployment', 'op']);
    await waitFor('its ReplicaSet garbage-collected', async () =>
      (JSON.parse((await cluster.kubectl(['-n', namespace, 'get', 'replicasets', '-o', 'json'])).stdout) as { items: unknown[] }).items.length === 0,
    );
  });

  it('connects to an existing cluster when RMESH_E2E_KUBECONFIG names one, without starting or stopping anything', async () => {
    const saved = process.env.RMESH_E2E_KUBECONFIG;
    process.env.RMESH_E2E_KUBECONFIG = cluster.kubeconfigPath;
    try {
      const existing = await startCluster();
      expect(existing.existing).toBe(true);
      expect(existing.simulator).toBeUndefined();
      expect((await existing.kubectl(['get', 'node', 'sim-a', '-o', 'name'])).stdout.trim()).toBe('node/sim-a');
      await existing.stop();
      // Stopping it left the cluster it borrowed alone.
      expect((await cluster.kubectl(['get', 'namespace', namespace, '-o', 'name'])).stdout.trim()).toBe(`namespace/${namespace}`);
    } finally {
      if (saved === undefined) delete process.env.RMESH_E2E_KUBECONFIG;
      else process.env.RMESH_E2E_KUBECONFIG = saved;
    }
  });
});
