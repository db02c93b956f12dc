// Scenario on the real-node cluster (harness/real): real etcd, kube-apiserver, kube-scheduler and
// kube-controller-manager, three nodes each with a real kubelet and containerd in a network namespace of
// its own, and the project's image built from its Dockerfile. `helm install` runs the operator from that
// image; `kubectl apply -f examples/mesh.yaml` (as shipped) makes reflector pods, and the test reads the
// kernel's view of their containers from the host's /proc: non-root, no capabilities, seccomp filter on,
// read-only root, the node's network namespace, the native data plane's addon mapped. Clients on the
// host, outside every node, join at the nodes' addresses and exchange traffic with nothing lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { existingClusterKubeconfig } from './harness/cluster.js';
import { meshClientToken, meshConverged, meshPods, podReady, startClient, type RunningClient } from './harness/mesh.js';
import { startRealCluster, type RealCluster } from './harness/real/cluster.js';
import { confinement, containerPids, netnsInode } from './harness/real/containers.js';
import { clientAddress, netnsPath } from './harness/real/network.js';

// The example as shipped: its default ports, which each node has to itself in its own namespace.
const name = 'demo';
const controlPort = 7400;

/** Helm values for this cluster: our image, never pulled, and the API server's real address for the operator. */
function helmValues(cluster: RealCluster): string {
  const [repository, tag] = cluster.images.image.split(/:(?=[^:]+$)/);
  const file = join(mkdtempSync(join(tmpdir(), 'rmesh-e2e-values-')), 'values.yaml');
  writeFileSync(file, stringify({
    image: { repository, tag, pullPolicy: 'Never' },
    operator: {
      // No kube-proxy and no Service IP is reachable here (nor may a test send to one): the operator's
      // in-cluster client is pointed at the API server itself, as its environment allows.
      extraEnv: [
        { name: 'KUBERNETES_SERVICE_HOST', value: cluster.apiServer.host },
        { name: 'KUBERNETES_SERVICE_PORT', value: String(cluster.apiServer.port) },
      ],
    },
  }));
  return file;
}

describe.skipIf(existingClusterKubeconfig() !== undefined)('real nodes: helm install, kubectl apply -f examples/mesh.yaml', () => {
  let cluster: RealCluster;
  const clients: RunningClient[] = [];

  beforeAll(async () => {
    cluster = await startRealCluster({ nodes: 3 });
  });

  afterAll(async () => {
    for (const c of clients) c.stop();
    await Promise.allSettled(clients.map((c) => c.report));
    await cluster?.stop();
  });

  it('runs the operator from the project image, installed by helm', async () => {
    await cluster.helm([
      'install', 'rmesh', 'charts/reflector-mesh', '--namespace', 'rmesh-system', '--create-namespace',
      '-f', helmValues(cluster), '--wait', '--timeout', '300s',
    ]);
    const core = cluster.kc.makeApiClient(CoreV1Api);
    const [operator] = (await core.listNamespacedPod({ namespace: 'rmesh-system', labelSelector: 'app.kubernetes.io/component=operator' })).items;
    expect(operator && podReady(operator)).toBe(true);
    expect(operator?.spec?.containers[0]?.image).toBe(cluster.images.image);
    expect(operator?.status?.containerStatuses?.[0]?.imageID).toMatch(/sha256:/);
    expect(cluster.nodes.map((n) => n.name)).toContain(operator?.spec?.nodeName);
  });

  it('makes the example mesh Ready, its reflectors confined containers of the project image on distinct nodes', async () => {
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

  it('carries traffic between clients outside the cluster, joined at the nodes, with nothing lost', async () => {
    const pods: V1Pod[] = (await meshPods(cluster, name)).filter(podReady);
    const addresses = pods.map((p) => p.status?.hostIP ?? '');
    for (let i = 0; i < 4; i++) {
      const token = await meshClientToken(cluster, name, 'default', `c${i}`);
      clients.push(startClient({ join: `${addresses[i % 2]}:${controlPort}`, bind: clientAddress(i + 1), duration: '20s', name: `c${i}`, token }));
    }
    const reports = await Promise.all(clients.map((c) => c.report));
    for (const r of reports) {
      expect(r.received.sources).toHaveLength(3);
      expect(r.received.total).toBeGreaterThan(0);
      expect(r.received.lost).toBe(0);
      expect(r.failovers).toEqual([]);
    }
  });
});
