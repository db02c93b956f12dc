// A ReflectorMesh scaled by the real HPA controller of kube-controller-manager, from the operator's own
// external metrics API (external.metrics.k8s.io through kube-apiserver's aggregation layer: the chart's
// externalMetrics.enabled), as a user without Prometheus or an adapter would run it
// (examples/hpa-external-metrics.yaml). Clients outside the cluster join in steps until the mesh's
// capacity utilisation passes the HPA's target: the HPA writes spec.replicas through /scale and the
// operator adds a reflector; they leave, and after the HPA's scale-down window the operator drains a
// reflector before deleting it. Nothing is lost, the reflector count sampled every second never flaps,
// and the time from the capacity being used up to the new reflector serving is printed.
import { describe, expect, it } from 'vitest';
import { AutoscalingV2Api, type V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { waitFor, type Cluster } from './harness/cluster.js';
import { applyMesh, meshConverged, meshPods, podReady, readMesh } from './harness/mesh.js';
import { describeMoves } from './harness/reports.js';
import { meshScenario } from './harness/scenario.js';

const name = 'hpa';
const ports = { data: 5204, control: 7600 };
const metric = 'rmesh_mesh_capacity_utilisation';
const raw = `/apis/external.metrics.k8s.io/v1beta1/namespaces/default/${metric}?labelSelector=mesh%3D${name}`;

/** The HPA of examples/hpa-external-metrics.yaml with the e2e's short windows. */
function hpa(): V2HorizontalPodAutoscaler {
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name, namespace: 'default' },
    spec: {
      scaleTargetRef: { apiVersion: 'rmesh.io/v1alpha1', kind: 'ReflectorMesh', name },
      minReplicas: 1,
      maxReplicas: 3,
      metrics: [{ type: 'External', external: { metric: { name: metric, selector: { matchLabels: { mesh: name } } }, target: { type: 'Value', value: '800m' } } }],
      behavior: {
        scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 1, periodSeconds: 15 }] },
        scaleDown: { stabilizationWindowSeconds: 30, policies: [{ type: 'Pods', value: 1, periodSeconds: 30 }] },
      },
    },
  };
}

/** The last lines of kube-apiserver's log on the harness's own control plane, for a failed aggregation. */
function apiServerLog(cluster: Cluster): string {
  const dir = (cluster as Cluster & { plane?: { dir: string } }).plane?.dir;
  return dir ? `kube-apiserver log: ${dir}/kube-apiserver.log` : '(no log: a kubeconfig cluster)';
}

interface Sample {
  atMs: number;
  count: number;
  /** Of them, Ready: what the HPA multiplies its ratio by. */
  ready: number;
  /** The metric as the mesh's status gives it, and the HPA's view: for a count that went wrong. */
  plan?: string;
  hpa?: string;
}

/** Samples the mesh's reflector pods (not being deleted), its plan and the HPA's status every second. */
function sampleReflectors(cluster: Cluster): { samples: Sample[]; stop: () => void } {
  const samples: Sample[] = [];
  const autoscaling = cluster.kc.makeApiClient(AutoscalingV2Api);
  const timer = setInterval(() => {
    const atMs = Date.now();
    void (async () => {
      const pods = (await meshPods(cluster, name)).filter((p) => !p.metadata?.deletionTimestamp);
      const sample: Sample = { atMs, count: pods.length, ready: pods.filter(podReady).length };
      const mesh = await readMesh(cluster, name).catch(() => undefined);
      // status.plan as the operator writes it (the harness's mesh type leaves it out).
      const plan = (mesh?.status as { plan?: { reflectors: number; clientsPerReflector: number; peakOutboundStreams: number; bitrateMbps: number } } | undefined)?.plan;
      if (mesh && plan) sample.plan = `spec ${mesh.spec.replicas} plan ${plan.reflectors}x${plan.clientsPerReflector} peak ${plan.peakOutboundStreams} at ${plan.bitrateMbps} Mbit/s, clients ${mesh.status?.clients}`;
      const h = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name, namespace: 'default' }).catch(() => undefined);
      if (h) sample.hpa = `current ${h.status?.currentReplicas} desired ${h.status?.desiredReplicas} metric ${h.status?.currentMetrics?.[0]?.external?.current.value ?? '-'}`;
      samples.push(sample);
    })().catch(() => undefined);
  }, 1000);
  return { samples, stop: () => clearInterval(timer) };
}

/** Counts that went down and then up again within `windowMs`: a flap. */
function flaps(samples: Sample[], windowMs: number): string[] {
  const out: string[] = [];
  const sorted = [...samples].sort((a, b) => a.atMs - b.atMs);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.count >= sorted[i - 1]!.count) continue;
    const down = sorted[i]!;
    const up = sorted.slice(i + 1).find((s) => s.atMs - down.atMs <= windowMs && s.count > down.count);
    if (up) out.push(`${sorted[i - 1]!.count} -> ${down.count} then ${up.count} within ${up.atMs - down.atMs} ms`);
  }
  return out;
}

describe('a real cluster: an HPA scales a mesh from the operator\'s external metrics API', () => {
  const scenario = meshScenario({ set: ['externalMetrics.enabled=true'] });
  const client = (i: number) => scenario.cluster.clientAddress(i);

  it('serves the metrics through the aggregation layer; the HPA grows the mesh when its capacity is used and shrinks it after the window, nothing lost', async () => {
    const { cluster } = scenario;
    await applyMesh(cluster, {
      apiVersion: 'rmesh.io/v1alpha1',
      kind: 'ReflectorMesh',
      metadata: { name },
      // 32 streams per reflector: six sendrecv clients on one are 6·5 = 30 (utilisation 0.94, above the
      // 0.8 target: two reflectors), five are 20 (0.63); six on two are 3·5 + 3 = 18 each (0.56, stays two).
      spec: { replicas: 1, scaling: { mode: 'External' }, stream: { bitrateMbps: 1 }, capacity: { outboundMbps: 32, headroom: 0 }, ports },
    });
    const [first] = await meshConverged(cluster, { name, controlPort: ports.control, replicas: 1 }, 300_000);
    const address = first?.status?.hostIP ?? '';

    // The aggregator reaches the operator: the APIService is Available and kubectl reads the value.
    await waitFor('APIService v1beta1.external.metrics.k8s.io Available', async () => {
      const r = await cluster.kubectl(['get', 'apiservice', 'v1beta1.external.metrics.k8s.io', '-o', 'jsonpath={.status.conditions[?(@.type=="Available")].status} {.status.conditions[?(@.type=="Available")].message}']);
      if (r.stdout.startsWith('True')) return true;
      console.log(`[real-hpa] APIService not yet available: ${r.stdout} (${apiServerLog(cluster)})`);
      return undefined;
    }, { timeoutMs: 120_000, intervalMs: 3000 });
    const value = await waitFor(`kubectl get --raw ${raw}`, async () => {
      const r = await cluster.kubectl(['get', '--raw', raw], { allowFailure: true });
      if (r.code !== 0) {
        console.log(`[real-hpa] kubectl get --raw: ${r.stderr.trim()} (${apiServerLog(cluster)})`);
        return undefined;
      }
      const list = JSON.parse(r.stdout) as { kind: string; items: { metricLabels: Record<string, string>; value: string }[] };
      return list.items[0] ? list : undefined;
    }, { timeoutMs: 60_000, intervalMs: 2000 });
    expect(value.kind).toBe('ExternalMetricValueList');
    expect(value.items[0]?.metricLabels).toEqual({ mesh: name });

    await cluster.kc.makeApiClient(AutoscalingV2Api).createNamespacedHorizontalPodAutoscaler({ namespace: 'default', body: hpa() });
    const sampler = sampleReflectors(cluster);
    try {
      // Three clients: 6 of 32 streams; then one at a time up to six (30 of 32, above the 80% target).
      const clients = await scenario.startClientsInTurn(
        [0, 1, 2].map((i) => ({ join: `${address}:${ports.control}`, bind: client(i + 1), duration: '15m', bitrate: '800kbps', name: `h${i}` })),
        { addresses: [address], controlPort: ports.control },
      );
      for (const i of [3, 4, 5]) {
        await new Promise((r) => setTimeout(r, 10_000)); // a step: the HPA sees each level at least once
        clients.push(...(await scenario.startClientsInTurn([{ join: `${address}:${ports.control}`, bind: client(i + 1), duration: '15m', bitrate: '800kbps', name: `h${i}` }], { addresses: [address], controlPort: ports.control })));
      }
      const usedUpAt = Date.now();
      await waitFor('the mesh counting six clients', async () => (await readMesh(cluster, name)).status?.clients === 6, { timeoutMs: 60_000 });
      const autoscaling = cluster.kc.makeApiClient(AutoscalingV2Api);
      const scaledUp = await waitFor('the HPA asking for two reflectors', async () => {
        const h = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name, namespace: 'default' });
        return (h.status?.desiredReplicas ?? 0) >= 2 ? h : undefined;
      }, { timeoutMs: 120_000, intervalMs: 1000 });
      const grown = await meshConverged(cluster, { name, controlPort: ports.control, replicas: 2 }, 240_000);
      const servingAt = Date.now();
      expect(grown.every(podReady)).toBe(true);
      expect((await readMesh(cluster, name)).spec.replicas).toBe(2);
      const metricStatus = scaledUp.status?.currentMetrics?.[0]?.external;
      console.log(`[real-hpa] utilisation ${metricStatus?.current.value ?? '?'} against 800m; HPA desired ${scaledUp.status?.desiredReplicas}; ` +
        `capacity used up to the second reflector serving: ${((servingAt - usedUpAt) / 1000).toFixed(1)} s`);
      const able = scaledUp.status?.conditions?.find((c) => c.type === 'ScalingActive');
      expect(able?.status, able?.message).toBe('True');

      // Four leave: 2 clients on 2 reflectors is far below the target; after the 30 s window, back to one.
      const leaving = clients.slice(2);
      for (const c of leaving) c.stop();
      await Promise.all(leaving.map((c) => c.report));
      const shrinkStart = Date.now();
      await meshConverged(cluster, { name, controlPort: ports.control, replicas: 1 }, 300_000);
      const shrinkMs = Date.now() - shrinkStart;
      expect(shrinkMs, 'the scale-down waited for the HPA\'s 30 s window').toBeGreaterThanOrEqual(25_000);
      await new Promise((r) => setTimeout(r, 15_000)); // stays at one: no flap after the window

      const staying = clients.slice(0, 2);
      expect(staying.filter((c) => c.exited)).toEqual([]);
      for (const c of staying) c.stop();
      const reports = [...(await Promise.all(staying.map((c) => c.report))), ...(await Promise.all(leaving.map((c) => c.report)))];
      console.log(`[real-hpa] 1 -> 2 -> 1 reflectors by the HPA (down after ${(shrinkMs / 1000).toFixed(1)} s); the clients:\n${describeMoves(reports)}`);
      for (const r of reports) {
        expect(r.failovers, `${r.name} failed over`).toEqual([]);
        expect(r.received.lost, `${r.name} lost datagrams`).toBe(0);
      }
      // The rebalance onto the new reflector and the drain before the scale-down are migrations
      // (make-before-break: nothing lost above).
      expect(reports.reduce((n, r) => n + r.migrations.length, 0)).toBeGreaterThanOrEqual(1);
    } finally {
      sampler.stop();
      console.log(`[real-hpa] reflector count each second: ${sampler.samples.map((s) => s.count).join('')}`);
      const start = sampler.samples[0]?.atMs ?? 0;
      console.log(`[real-hpa] each second (count/ready, the mesh's plan, the HPA):\n${sampler.samples.map((s) => `${((s.atMs - start) / 1000).toFixed(0)} s: ${s.count}/${s.ready}; ${s.plan ?? '-'}; ${s.hpa ?? '-'}`).join('\n')}`);
    }
    expect(flaps(sampler.samples, 30_000)).toEqual([]);
    expect(Math.max(...sampler.samples.map((s) => s.count))).toBe(2);
    await cluster.kc.makeApiClient(AutoscalingV2Api).deleteNamespacedHorizontalPodAutoscaler({ name, namespace: 'default' });
    await cluster.kubectl(['delete', 'rmesh', name, '--wait=true', '--timeout=120s'], { timeoutMs: 150_000 });
  });
});
