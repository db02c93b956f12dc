// Scenarios on the real-node cluster (harness/real): real etcd, kube-apiserver, kube-scheduler and
// kube-controller-manager, three nodes each with a real kubelet and containerd in a network namespace of
// its own, and the project's image built from its Dockerfile. `helm install` runs the operator from that
// image; `kubectl apply -f examples/mesh.yaml` (as shipped) makes reflector pods, and the test reads the
// kernel's view of their containers from the host's /proc: non-root, no capabilities, seccomp filter on,
// read-only root, the node's network namespace, the native data plane's addon mapped. Clients on the
// host, outside every node, join at the nodes' addresses: they exchange traffic with nothing lost, also
// while `kubectl scale` grows and shrinks the mesh, and while the API server is down for 15 s and
// restarted, and while `helm upgrade` goes to two operators and rolls them (the Lease passes to a new
// pod), and while spec.reflector.image rolls the reflectors onto another image. Deleting the mesh lets the real garbage collector remove its pods and Secret.
import { describe, expect, it } from 'vitest';
import { CoordinationV1Api, CoreV1Api } from '@kubernetes/client-node';
import { existingClusterKubeconfig, waitFor } from './harness/cluster.js';
import { meshBalanced, meshConverged, meshPods, podReady, readMesh } from './harness/mesh.js';
import { realChart } from './harness/real/chart.js';
import { realClusterStartTimeoutMs, startRealCluster } from './harness/real/cluster.js';
import { confinement, containerPids, netnsInode } from './harness/real/containers.js';
import { clientAddress, netnsPath } from './harness/real/network.js';
import { describeMoves } from './harness/reports.js';
import { meshScenario } from './harness/scenario.js';

// The example as shipped: its default ports, which each node has to itself in its own namespace.
const name = 'demo';
const controlPort = 7400;

describe.skipIf(existingClusterKubeconfig() !== undefined)('real nodes: helm install, kubectl apply -f examples/mesh.yaml', () => {
  const scenario = meshScenario({ start: () => startRealCluster({ nodes: 3 }), chart: realChart, startTimeoutMs: realClusterStartTimeoutMs });

  it('runs the operator from the project image, installed by helm', async () => {
    const { cluster } = scenario;
    const core = cluster.kc.makeApiClient(CoreV1Api);
    const [operator] = (await core.listNamespacedPod({ namespace: 'rmesh-system', labelSelector: 'app.kubernetes.io/component=operator' })).items;
    expect(operator && podReady(operator)).toBe(true);
    expect(operator?.spec?.containers[0]?.image).toBe(cluster.images.image);
    expect(operator?.status?.containerStatuses?.[0]?.imageID).toMatch(/sha256:/);
    expect(cluster.nodes.map((n) => n.name)).toContain(operator?.spec?.nodeName);
  });

  it('makes the example mesh Ready, its reflectors confined containers of the project image on distinct nodes', async () => {
    const { cluster } = scenario;
    await cluster.kubectl(['apply', '-f', 'examples/mesh.yaml']);
    const pods = await meshConverged(cluster, { name, controlPort, replicas: 2 }, 300_000);
    expect(new Set(pods.map((p) => p.spec?.nodeName)).size).toBe(2);
    for (const pod of pods) {
      const node = cluster.nodes.find((n) => n.name === pod.spec?.nodeName);
      if (!node) throw new Error(`pod ${pod.metadata?.name} is on ${pod.spec?.nodeName}, not one of the cluster's nodes`);
      expect(pod.status?.hostIP).toBe(node.address);
      expect(pod.spec?.containers[0]?.image).toBe(cluster.images.image);
      const [pid] = containerPids(node.podsCgroup, pod, 'reflector');
      const c = confinement(pid ?? 0);
      expect(c.cmdline.slice(-1)).toEqual(['reflector']);
      expect(c.uid).toEqual([1000, 1000, 1000, 1000]);
      expect(c.gid).toEqual([1000, 1000, 1000, 1000]);
      expect(c.capEff).toBe('0000000000000000');
      expect(c.capBnd).toBe('0000000000000000');
      expect(c.seccompMode).toBe(2); // SECCOMP_MODE_FILTER: the runtime's default profile is loaded
      expect(c.noNewPrivs).toBe(true);
      expect(c.rootReadOnly).toBe(true);
      expect(c.netns).toBe(netnsInode(netnsPath(cluster.nodes.indexOf(node) + 1)));
      expect(c.mappedFiles.some((f) => f.endsWith('/rmesh_mirror.node'))).toBe(true);
    }
  });

  it('carries traffic between clients outside the cluster while kubectl scale grows and shrinks the mesh, nothing lost', async () => {
    const { cluster } = scenario;
    const two = await meshConverged(cluster, { name, controlPort, replicas: 2 });
    const addresses = two.map((p) => p.status?.hostIP ?? '');
    const clients = await scenario.startClientsInTurn(
      [0, 1, 2, 3].map((i) => ({ join: `${addresses[i % 2]}:${controlPort}`, bind: clientAddress(i + 1), duration: '10m', name: `c${i}` })),
      { addresses, controlPort },
    );
    await waitFor('the mesh counting four clients', async () => (await readMesh(cluster, name)).status?.clients === 4, { timeoutMs: 60_000 });

    await cluster.kubectl(['scale', `rmesh/${name}`, '--replicas=3']);
    const three = await meshBalanced(cluster, { name, controlPort, replicas: 3, clients: 4 });
    expect(new Set(three.pods.map((p) => p.spec?.nodeName)).size).toBe(3);
    await cluster.kubectl(['scale', `rmesh/${name}`, '--replicas=2']);
    const after = await meshBalanced(cluster, { name, controlPort, replicas: 2, clients: 4 });
    expect([...after.clients.values()].flat().sort()).toEqual(['c0', 'c1', 'c2', 'c3']);

    expect(clients.filter((c) => c.exited)).toEqual([]);
    for (const c of clients) c.stop();
    const reports = await Promise.all(clients.map((c) => c.report));
    for (const r of reports) {
      expect(r.received.sources).toHaveLength(3);
      expect(r.received.total).toBeGreaterThan(0);
      expect(r.received.lost, `${r.name} lost datagrams`).toBe(0);
      expect(r.failovers, `${r.name} failed over`).toEqual([]);
    }
    // The rebalance onto the third reflector and the drain of the one that went are migrations.
    expect(reports.reduce((n, r) => n + r.migrations.length, 0)).toBeGreaterThanOrEqual(1);
  });

  it('keeps the data plane going while the API server is down and restarted; the operator carries on after', async () => {
    const { cluster } = scenario;
    const pods = await meshConverged(cluster, { name, controlPort, replicas: 2 });
    const addresses = pods.map((p) => p.status?.hostIP ?? '');
    const clients = await scenario.startClientsInTurn(
      [0, 1, 2, 3].map((i) => ({ join: `${addresses[i % 2]}:${controlPort}`, bind: clientAddress(i + 5), duration: '10m', name: `a${i}` })),
      { addresses, controlPort },
    );
    await cluster.plane.restartApiServer(15_000);
    // The operator's watches reconnect: it acts on a change made after the restart.
    await cluster.kubectl(['scale', `rmesh/${name}`, '--replicas=3']);
    await meshBalanced(cluster, { name, controlPort, replicas: 3, clients: 4 });
    await cluster.kubectl(['scale', `rmesh/${name}`, '--replicas=2']);
    await meshBalanced(cluster, { name, controlPort, replicas: 2, clients: 4 });
    expect(clients.filter((c) => c.exited)).toEqual([]);
    for (const c of clients) c.stop();
    const reports = await Promise.all(clients.map((c) => c.report));
    for (const r of reports) {
      expect(r.received.sources).toHaveLength(3);
      expect(r.received.lost, `${r.name} lost datagrams`).toBe(0);
      expect(r.failovers, `${r.name} failed over`).toEqual([]);
    }
  });

  it('helm upgrade to two operators and a rolling update: the Lease passes to a new pod, the data plane undisturbed', async () => {
    const { cluster } = scenario;
    const pods = await meshConverged(cluster, { name, controlPort, replicas: 2 });
    const addresses = pods.map((p) => p.status?.hostIP ?? '');
    const clients = await scenario.startClientsInTurn(
      [0, 1, 2, 3].map((i) => ({ join: `${addresses[i % 2]}:${controlPort}`, bind: clientAddress(i + 1), duration: '10m', name: `u${i}` })),
      { addresses, controlPort },
    );
    const upgrade = (set: string[]) => cluster.helm([
      'upgrade', 'rmesh', 'charts/reflector-mesh', '--namespace', 'rmesh-system', '--reuse-values', ...set, '--wait', '--timeout', '300s',
    ], { timeoutMs: 360_000 });
    const lease = cluster.kc.makeApiClient(CoordinationV1Api);
    const core = cluster.kc.makeApiClient(CoreV1Api);
    // The holder identity is `<pod name>_<random suffix>`: the pod that holds it.
    const holder = async () =>
      (await lease.readNamespacedLease({ name: 'rmesh-reflector-mesh', namespace: 'rmesh-system' })).spec?.holderIdentity?.replace(/_[^_]*$/, '');
    const operators = async () => (await core.listNamespacedPod({ namespace: 'rmesh-system', labelSelector: 'app.kubernetes.io/component=operator' }))
      .items.filter((p) => !p.metadata?.deletionTimestamp).map((p) => p.metadata?.name ?? '');

    await upgrade(['--set', 'operator.replicas=2']);
    const first = await waitFor('a Lease holder among two operators', async () => {
      const [h, names] = [await holder(), await operators()];
      return names.length === 2 && h && names.includes(h) ? h : undefined;
    }, { timeoutMs: 120_000 });
    // A change of the pod template: the Deployment rolls both operators, the old ones standing down.
    await upgrade(['--set-string', 'operator.podAnnotations.rollout=2']);
    const before = await operators();
    const second = await waitFor('the Lease held by one of the new operators', async () => {
      const [h, names] = [await holder(), await operators()];
      return h && h !== first && names.includes(h) && !names.includes(first) ? h : undefined;
    }, { timeoutMs: 180_000 });
    console.log(`[real-cluster] Lease: ${first} -> ${second} (operators now ${before.join(', ')})`);
    // The new leader acts: it resizes the mesh.
    await cluster.kubectl(['scale', `rmesh/${name}`, '--replicas=3']);
    await meshBalanced(cluster, { name, controlPort, replicas: 3, clients: 4 });
    await cluster.kubectl(['scale', `rmesh/${name}`, '--replicas=2']);
    await meshBalanced(cluster, { name, controlPort, replicas: 2, clients: 4 });
    for (const c of clients) c.stop();
    const reports = await Promise.all(clients.map((c) => c.report));
    for (const r of reports) {
      expect(r.received.lost, `${r.name} lost datagrams`).toBe(0);
      expect(r.failovers, `${r.name} failed over`).toEqual([]);
    }
  });

  it('rolls the reflectors onto a new image under traffic: every pod on it, no failover, nothing lost', async () => {
    const { cluster } = scenario;
    const pods = await meshConverged(cluster, { name, controlPort, replicas: 2 });
    const addresses = pods.map((p) => p.status?.hostIP ?? '');
    const clients = await scenario.startClientsInTurn(
      [0, 1, 2, 3].map((i) => ({ join: `${addresses[i % 2]}:${controlPort}`, bind: clientAddress(i + 5), duration: '10m', name: `r${i}` })),
      { addresses, controlPort },
    );
    const next = cluster.images.nextImage;
    await cluster.kubectl(['patch', `rmesh/${name}`, '--type=merge', '-p', JSON.stringify({ spec: { reflector: { image: next } } })]);
    const rolled = await waitFor('every reflector on the new image, the mesh balanced', async () => {
      const { pods: now } = await meshBalanced(cluster, { name, controlPort, replicas: 2, clients: 4 });
      // (The status's image is the runtime's first name for that image ID, the old name: not checked.)
      return now.every((p) => p.spec?.containers[0]?.image === next) ? now : undefined;
    }, { timeoutMs: 300_000, intervalMs: 1000 });
    expect(rolled.map((p) => p.metadata?.uid).filter((uid) => pods.some((q) => q.metadata?.uid === uid))).toEqual([]);
    for (const c of clients) c.stop();
    const reports = await Promise.all(clients.map((c) => c.report));
    console.log(`[real-cluster] roll-out to ${next}:\n${describeMoves(reports)}`);
    for (const r of reports) {
      expect(r.received.lost, `${r.name} lost datagrams`).toBe(0);
      expect(r.failovers, `${r.name} failed over`).toEqual([]);
    }
    expect(reports.reduce((n, r) => n + r.migrations.length, 0)).toBeGreaterThanOrEqual(1);
  });

  it('deletes the mesh: the garbage collector removes its reflector pods and its key Secret', async () => {
    const { cluster } = scenario;
    const core = cluster.kc.makeApiClient(CoreV1Api);
    expect((await core.readNamespacedSecret({ name: `${name}-mesh-key`, namespace: 'default' })).metadata?.ownerReferences?.[0]?.kind).toBe('ReflectorMesh');
    await cluster.kubectl(['delete', 'rmesh', name, '--wait=false']);
    await waitFor('the mesh, its pods and its Secret gone', async () => {
      const pods = await meshPods(cluster, name);
      const secret = await core.readNamespacedSecret({ name: `${name}-mesh-key`, namespace: 'default' }).then(() => true, () => false);
      const mesh = await readMesh(cluster, name).then(() => true, () => false);
      return pods.length === 0 && !secret && !mesh;
    }, { timeoutMs: 120_000 });
  });
});
