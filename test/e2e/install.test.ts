// Scenario: a user installs the chart with helm and applies examples/mesh.yaml with kubectl. The mesh
// becomes Ready with the planned reflectors on distinct nodes, every reflector is peered with every
// other, and real clients that join through different reflectors receive each other's streams. Then,
// on the same mesh: invalid meshes are rejected by the API server, `kubectl scale` resizes it, a
// deleted pod and a killed reflector process are replaced, and deleting the mesh removes its pods.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Pod } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { existingClusterKubeconfig, run, startCluster, waitFor, type Cluster } from './harness/cluster.js';
import { meshClientToken, meshConverged, meshKey, meshPods, readMesh, reflectorAdminGet, type ClientReport, type MeshObject } from './harness/mesh.js';
import { projectRoot } from './harness/toolchain.js';

// The example's ports (5004, 7400) lie outside the e2e port range; everything else is the example as is.
const ports = { data: 30300, control: 30310 };

describe('helm install, then kubectl apply -f examples/mesh.yaml', () => {
  let cluster: Cluster;
  const name = 'demo';

  const pods = (): Promise<V1Pod[]> => meshPods(cluster, name);
  const converged = (replicas: number): Promise<V1Pod[]> => meshConverged(cluster, { name, controlPort: ports.control, replicas });

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
    const example = parse(readFileSync(join(projectRoot, 'examples/mesh.yaml'), 'utf8')) as MeshObject;
    example.spec.ports = ports;
    await cluster.kubectl(['apply', '-f', '-'], { input: stringify(example) });
    expect(example.metadata.name).toBe(name);

    const mesh = await waitFor(
      `mesh ${name} Ready`,
      async () => {
        const m = await readMesh(cluster, name);
        return m.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? m : undefined;
      },
      { timeoutMs: 120_000 },
    );
    expect(mesh.status?.readyReplicas).toBe(example.spec.replicas);

    const ready = await pods();
    expect(ready).toHaveLength(example.spec.replicas ?? 0);
    const addresses = ready.map((p) => p.status?.hostIP ?? '');
    expect(new Set(ready.map((p) => p.spec?.nodeName)).size).toBe(ready.length);

    // Full mesh: each reflector lists every other as its peer (asked as the operator asks: signed with the mesh key).
    const key = await meshKey(cluster, name);
    for (const address of addresses) {
      const body = await reflectorAdminGet<{ peers: { address: string }[] }>(address, ports.control, '/v1/peers', key);
      expect(body.peers.map((p) => p.address).sort()).toEqual(addresses.filter((a) => a !== address).sort());
    }

    // Two clients, each through a different reflector, send and receive for a few seconds.
    // The mesh has a key (the operator's <mesh>-mesh-key Secret): a client needs a token minted with it.
    const token = await meshClientToken(cluster, name);
    const client = (join: string, bind: string) =>
      run(
        process.execPath,
        ['dist/cli/rmesh.js', 'client', '--join', join, '--bind', bind, '--bitrate', '500kbps', '--duration', '6s', '--linger', '1s', '--report', 'json', '--no-progress'],
        { PATH: process.env.PATH, RMESH_TOKEN: token },
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
      // The two processes start at different moments, so how much overlaps is not fixed; what arrived
      // arrived whole: no gap in the sender's sequence numbers.
      expect(receiver.received.total).toBeGreaterThan(0);
      expect(receiver.received.lost).toBe(0);
    }
  });

  it('rejects invalid meshes with the schema messages', async () => {
    const bad = (spec: object) => stringify({ apiVersion: 'rmesh.io/v1alpha1', kind: 'ReflectorMesh', metadata: { name: 'bad' }, spec });
    const minOverMax = await cluster.kubectl(['apply', '-f', '-'], {
      input: bad({ scaling: { mode: 'Model', minReplicas: 5, maxReplicas: 2 }, stream: { bitrateMbps: 2 } }),
      allowFailure: true,
    });
    expect(minOverMax.code).not.toBe(0);
    expect(minOverMax.stderr).toContain('scaling.minReplicas must be less than or equal to scaling.maxReplicas');
    const outOfRange = await cluster.kubectl(['apply', '-f', '-'], {
      input: bad({ replicas: 2, stream: { bitrateMbps: 2 }, ports: { data: 70000, control: 30310 } }),
      allowFailure: true,
    });
    expect(outOfRange.code).not.toBe(0);
    expect(outOfRange.stderr).toMatch(/spec\.ports\.data: Invalid value: 70000: spec\.ports\.data in body should be less than or equal to 65534/);
    const twoOwners = await cluster.kubectl(['apply', '-f', '-'], { input: bad({ replicas: 2, scaling: { mode: 'Model' } }), allowFailure: true });
    expect(twoOwners.code).not.toBe(0);
    expect(twoOwners.stderr).toContain('spec.replicas has one owner');
    const names = await cluster.kubectl(['get', 'rmesh', '-o', 'name']);
    expect(names.stdout.trim()).toBe(`reflectormesh.rmesh.io/${name}`);
  });

  it('follows kubectl scale up and down', async () => {
    await cluster.kubectl(['scale', `rmesh/${name}`, '--replicas=3']);
    const three = await converged(3);
    expect(new Set(three.map((p) => p.spec?.nodeName)).size).toBe(3);
    await cluster.kubectl(['scale', `rmesh/${name}`, '--replicas=2']);
    const two = await converged(2);
    const gone = three.filter((p) => !two.some((q) => q.metadata?.uid === p.metadata?.uid));
    expect(gone).toHaveLength(1);
  });

  it('replaces a deleted reflector pod', async () => {
    const [victim] = await pods();
    await cluster.kubectl(['delete', 'pod', victim?.metadata?.name ?? '', '--wait=false']);
    const after = await converged(2);
    expect(after.map((p) => p.metadata?.uid)).not.toContain(victim?.metadata?.uid);
  });

  // Failure injection goes through the simulator's container runtime, which an existing cluster has not.
  it.skipIf(existingClusterKubeconfig() !== undefined)('recovers from a killed reflector process', async () => {
    const [victim] = await pods();
    const podName = victim?.metadata?.name ?? '';
    const exit = await cluster.simulator?.killPod('default', podName);
    expect(exit?.signal).toBe('SIGKILL');
    await waitFor('the killed reflector restarted', async () => {
      const p = (await pods()).find((x) => x.metadata?.name === podName);
      return (p?.status?.containerStatuses?.[0]?.restartCount ?? 0) >= 1 || p === undefined;
    });
    await converged(2);
  });

  // The reflector pods carry an ownerReference to their mesh; deleting the mesh leaves their removal to
  // the garbage collector. There is no kube-controller-manager here: the simulator's GarbageCollector
  // (test/e2e/harness/controllers.ts) plays its part. On an existing cluster the real one does.
  it('removes the pods when the mesh is deleted', async () => {
    await cluster.kubectl(['delete', 'rmesh', name, '--wait=true', '--timeout=60s']);
    await waitFor('no reflector pods left', async () => (await pods()).length === 0, { timeoutMs: 120_000 });
  });
});
