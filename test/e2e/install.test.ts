// Scenario: a user installs the chart with helm and applies examples/mesh.yaml with kubectl. The mesh
// becomes Ready with the planned reflectors on distinct nodes, every reflector is peered with every
// other, and real clients that join through different reflectors receive each other's streams.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { run, startCluster, waitFor, type Cluster } from './harness/cluster.js';
import { projectRoot } from './harness/toolchain.js';

// The example's ports (5004, 7400) lie outside the e2e port range; everything else is the example as is.
const ports = { data: 30300, control: 30310 };

interface Mesh {
  spec: { replicas: number; ports: typeof ports };
  status?: { readyReplicas?: number; conditions?: { type: string; status: string; message?: string }[] };
}

interface ClientReport {
  sent: number;
  reflector: string | null;
  sender: { ssrc: string };
  received: { total: number; sources: { ssrc: string }[] };
}

describe('helm install, then kubectl apply -f examples/mesh.yaml', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster();
  });

  afterAll(async () => {
    await cluster?.stop();
  });

  it('makes a Ready, fully peered mesh whose clients exchange traffic through different reflectors', async () => {
    await cluster.helm([
      'install', 'rmesh', 'charts/reflector-mesh', '--namespace', 'rmesh-system', '--create-namespace',
      '--set', 'operator.port=30080', '--wait', '--timeout', '180s',
    ]);
    const example = parse(readFileSync(join(projectRoot, 'examples/mesh.yaml'), 'utf8')) as Mesh & { metadata: { name: string } };
    example.spec.ports = ports;
    await cluster.kubectl(['apply', '-f', '-'], { input: stringify(example) });
    const name = example.metadata.name;

    const custom = cluster.kc.makeApiClient(CustomObjectsApi);
    const mesh = await waitFor(
      `mesh ${name} Ready`,
      async () => {
        const m = (await custom.getNamespacedCustomObject({ group: 'rmesh.io', version: 'v1alpha1', namespace: 'default', plural: 'reflectormeshes', name })) as Mesh;
        return m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? m : undefined;
      },
      { timeoutMs: 120_000 },
    );
    expect(mesh.status?.readyReplicas).toBe(example.spec.replicas);

    const core = cluster.kc.makeApiClient(CoreV1Api);
    const pods: V1Pod[] = (await core.listNamespacedPod({ namespace: 'default', labelSelector: `rmesh.io/mesh=${name}` })).items;
    expect(pods).toHaveLength(example.spec.replicas);
    const addresses = pods.map((p) => p.status?.hostIP ?? '');
    expect(new Set(pods.map((p) => p.spec?.nodeName)).size).toBe(pods.length);

    // Full mesh: each reflector lists every other as its peer.
    for (const address of addresses) {
      const res = await fetch(`http://${address}:${ports.control}/v1/peers`);
      const body = (await res.json()) as { peers: { address: string }[] };
      expect(body.peers.map((p) => p.address).sort()).toEqual(addresses.filter((a) => a !== address).sort());
    }

    // Two clients, each through a different reflector, send and receive for a few seconds.
    const client = (join: string, bind: string) =>
      run(
        process.execPath,
        ['dist/cli/rmesh.js', 'client', '--join', join, '--bind', bind, '--bitrate', '500kbps', '--duration', '4s', '--linger', '1s', '--report', 'json', '--no-progress'],
        { PATH: process.env.PATH },
        { timeoutMs: 60_000 },
      );
    const [a, b] = await Promise.all([
      client(`${addresses[0]}:${ports.control}`, '127.0.3.50'),
      client(`${addresses[1]}:${ports.control}`, '127.0.3.51'),
    ]);
    const reportA = JSON.parse(a.stdout) as ClientReport;
    const reportB = JSON.parse(b.stdout) as ClientReport;
    expect(reportA.reflector).not.toBe(reportB.reflector);
    for (const [receiver, sender] of [[reportA, reportB], [reportB, reportA]] as const) {
      expect(sender.sent).toBeGreaterThan(0);
      expect(receiver.received.sources.map((s) => s.ssrc)).toEqual([sender.sender.ssrc]);
      // The streams overlap by most of their duration: most of what one sent reached the other.
      expect(receiver.received.total).toBeGreaterThan(sender.sent / 2);
    }
  });
});
