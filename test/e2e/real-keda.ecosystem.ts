// The autoscaling ecosystem as users run it, on the harness's real cluster (opt-in: npm run
// test:ecosystem, test/e2e/ecosystem.config.ts; docs/testing.md says why it is not in CI). Prometheus,
// built from its Go module, scrapes the reflector pods with examples/prometheus-scrape-config.yaml; KEDA,
// built from its Go module (operator and metrics API server, outside the cluster against the test's
// kubeconfig, its APIService holding external.metrics.k8s.io: the chart's own external metrics stay off),
// runs examples/keda-scaledobject.yaml (its Prometheus trigger on rmesh_mesh_capacity_utilisation), and
// the real HPA controller of kube-controller-manager writes spec.replicas through /scale.
//
// Clients outside the cluster join in steps until the busiest reflector passes the 0.8 threshold; the
// mesh grows to two; four leave and after the HPA's 30 s window it shrinks to one, draining first.
// Sampled every second: the reflector count goes 1 → 2 → 1 and never flaps; nothing is lost outside a
// migration's make-before-break window. The time from the join that used the capacity up to the new
// reflector serving is printed (docs/performance.md §6).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AutoscalingV2Api, type V2HorizontalPodAutoscaler } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { waitFor } from './harness/cluster.js';
import { meshEvents, sampleMesh, timeToServe } from './harness/autoscaling.js';
import { startKeda, type RunningKeda } from './harness/ecosystem/keda.js';
import { startPrometheus, type RunningPrometheus } from './harness/ecosystem/prometheus.js';
import { ecosystemTools } from './harness/ecosystem/tools.js';
import { meshBalanced, meshConverged, meshPods, readMesh, type ClientReport, type MeshObject, type RunningClient } from './harness/mesh.js';
import { clusterNet } from './harness/real/network.js';
import { describeMoves } from './harness/reports.js';
import { countChanges, describeChanges, findFlaps, lossOutsideMigrations, reflectorCounts, removedPods } from './harness/samples.js';
import { meshScenario } from './harness/scenario.js';
import { projectRoot } from './harness/toolchain.js';

const ports = { data: 5404, control: 7800 };
const windowSeconds = 30;
const windowMs = windowSeconds * 1000;

interface ScaledObject {
  apiVersion: string;
  kind: 'ScaledObject';
  metadata: { name: string; namespace?: string };
  spec: {
    scaleTargetRef: { name: string };
    minReplicaCount: number;
    maxReplicaCount: number;
    advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: number; policies: { periodSeconds: number }[] } } } };
    triggers: { type: string; metadata: { serverAddress: string; query: string; threshold: string } }[];
  };
}

/**
 * examples/keda-scaledobject.yaml as users copy it, with what this cluster needs changed: the mesh's
 * budget, ports and first size (32 streams of 1 Mbit/s per reflector: six sendrecv clients on one are
 * 6·5 = 30, utilisation 0.94 above the 0.8 threshold; five are 20, 0.63; six on two 18 each, 0.56),
 * 1..3 reflectors, the scale-down window 30 s instead of 300, and Prometheus's address.
 */
function example(prometheusUrl: string): { mesh: MeshObject; scaled: ScaledObject } {
  const docs = parseAllDocuments(readFileSync(join(projectRoot, 'examples/keda-scaledobject.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string });
  const mesh = docs.find((d) => d.kind === 'ReflectorMesh') as MeshObject;
  const scaled = docs.find((d) => d.kind === 'ScaledObject') as ScaledObject;
  mesh.spec = { ...mesh.spec, replicas: 1, stream: { bitrateMbps: 1 }, capacity: { outboundMbps: 32, headroom: 0 }, ports };
  Object.assign(scaled.spec, { minReplicaCount: 1, maxReplicaCount: 3 });
  const down = scaled.spec.advanced.horizontalPodAutoscalerConfig.behavior.scaleDown;
  down.stabilizationWindowSeconds = windowSeconds;
  for (const p of down.policies) p.periodSeconds = windowSeconds;
  for (const t of scaled.spec.triggers) t.metadata.serverAddress = prometheusUrl;
  return { mesh, scaled };
}

describe('a real cluster: KEDA scales a mesh from Prometheus through the real HPA', () => {
  const scenario = meshScenario();
  const client = (i: number) => scenario.cluster.clientAddress(i);
  let prometheus: RunningPrometheus | undefined;
  let keda: RunningKeda | undefined;

  beforeAll(async () => {
    const tools = ecosystemTools();
    const started = Date.now();
    prometheus = await startPrometheus(tools.prometheus, scenario.cluster.kubeconfigPath);
    keda = await startKeda(scenario.cluster, tools, clusterNet.hostAddress);
    console.log(`[real-keda] Prometheus at ${prometheus.url} and KEDA (APIService Available) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }, 600_000);

  afterAll(async () => {
    await keda?.stop();
    await prometheus?.stop();
  });

  /** Prometheus's series `metric` of mesh `name`, one per reflector pod, once every pod of `pods` has one. */
  const scraped = (metric: string, name: string, pods: string[]) =>
    waitFor(`Prometheus having ${metric} of ${pods.join(', ')}`, async () => {
      const samples = await prometheus!.query(`${metric}{namespace="default", mesh="${name}"}`);
      const seen = samples.map((s) => s.metric.pod ?? '').sort();
      return JSON.stringify(seen) === JSON.stringify([...pods].sort()) ? samples : undefined;
    }, { timeoutMs: 90_000, intervalMs: 2000 });

  /** What the run looked like, for a failed run's log. */
  async function printState(name: string, hpaName: string): Promise<void> {
    const { cluster } = scenario;
    const hpa = await cluster.kubectl(['get', 'hpa', hpaName, '-o', 'yaml'], { allowFailure: true });
    const so = await cluster.kubectl(['get', 'scaledobject', name, '-o', 'jsonpath={.status}'], { allowFailure: true });
    const events = await meshEvents(cluster, name).catch((e: Error) => e.message);
    const values = await prometheus?.query(`rmesh_mesh_capacity_utilisation{mesh="${name}"}`).catch((e: Error) => e.message);
    console.log(`[real-keda] FAILED; HPA:\n${hpa.stdout}${hpa.stderr}\nScaledObject status: ${so.stdout}\nmesh events: ${JSON.stringify(events)}\n` +
      `Prometheus: ${JSON.stringify(values)} (log ${prometheus?.logFile})\n${keda?.tail(30) ?? ''}`);
  }

  it('Prometheus scrapes every reflector; KEDA\'s HPA grows the mesh when its capacity is used and shrinks it after the window, drained, no flap, nothing lost', async () => {
    const { cluster } = scenario;
    const { mesh, scaled } = example(prometheus!.url);
    const name = mesh.metadata.name;
    const hpaName = `keda-hpa-${scaled.metadata.name}`;
    await cluster.kubectl(['apply', '-f', '-'], { input: stringify(mesh) });
    const [first] = await meshConverged(cluster, { name, controlPort: ports.control, replicas: 1 }, 300_000);
    const address = first?.status?.hostIP ?? '';

    // The scrape job of the example found the reflector through the Kubernetes API and scrapes it on its node's address.
    for (const metric of ['rmesh_mesh_capacity_utilisation', 'rmesh_mesh_free_client_slots']) await scraped(metric, name, [first?.metadata?.name ?? '']);
    const [up] = await prometheus!.query(`up{job="${prometheus!.jobs[0]?.job_name}", mesh="${name}"}`);
    expect(up?.value).toBe(1);
    expect(up?.metric.instance).toBe(`${address}:${ports.control}`);

    await cluster.kubectl(['apply', '-f', '-'], { input: stringify(scaled) });
    const autoscaling = cluster.kc.makeApiClient(AutoscalingV2Api);
    const hpa = await waitFor(`KEDA's HPA ${hpaName} reading its metric`, async () => {
      const h = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name: hpaName, namespace: 'default' }).catch(() => undefined);
      return h?.status?.conditions?.find((c) => c.type === 'ScalingActive')?.status === 'True' ? h : undefined;
    }, { timeoutMs: 120_000, intervalMs: 2000 }).catch(async (err: Error) => {
      await printState(name, hpaName);
      throw err;
    });
    // The HPA's metric, read through kube-apiserver's aggregation layer from KEDA's metrics API server.
    const external = hpa.spec?.metrics?.[0]?.external;
    const selector = Object.entries(external?.metric.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
    const raw = await cluster.kubectl(['get', '--raw', `/apis/external.metrics.k8s.io/v1beta1/namespaces/default/${external?.metric.name}?labelSelector=${encodeURIComponent(selector)}`]);
    console.log(`[real-keda] ${hpaName}: metric ${external?.metric.name} target ${external?.target.value ?? external?.target.averageValue}; through the aggregation layer: ${raw.stdout.trim()}`);

    const sampler = sampleMesh(cluster, name);
    const originMs = Date.now();
    const reports: ClientReport[] = [];
    const clients: RunningClient[] = [];
    let timing: Awaited<ReturnType<typeof timeToServe>> | undefined;
    let scaledUp: V2HorizontalPodAutoscaler | undefined;
    let leftAtMs: number | undefined;
    try {
      const joining = (i: number) => ({ join: `${address}:${ports.control}`, bind: client(i + 1), duration: '20m', bitrate: '800kbps', name: `k${i}` });
      clients.push(...(await scenario.startClientsInTurn([0, 1, 2].map(joining), { addresses: [address], controlPort: ports.control })));
      for (const i of [3, 4, 5]) {
        await new Promise((r) => setTimeout(r, 10_000)); // a step: the HPA sees each level
        clients.push(...(await scenario.startClientsInTurn([joining(i)], { addresses: [address], controlPort: ports.control })));
      }
      timing = await timeToServe(cluster, { name, controlPort: ports.control }, [first?.metadata?.name ?? ''], Date.now(), 240_000);
      console.log(`[real-keda] the sixth client used the capacity up: ${JSON.stringify(timing)}`);
      const { pods } = await meshBalanced(cluster, { name, controlPort: ports.control, replicas: 2, clients: 6 }, 240_000);
      scaledUp = await autoscaling.readNamespacedHorizontalPodAutoscaler({ name: hpaName, namespace: 'default' });
      expect(scaledUp.status?.desiredReplicas).toBe(2);
      // Both reflectors scraped, each now at the two-reflector mesh's 18 of 32 streams: the HPA has no reason for a third.
      const values = await waitFor('Prometheus having both reflectors at the two-reflector utilisation', async () => {
        const s = await scraped('rmesh_mesh_capacity_utilisation', name, pods.map((p) => p.metadata?.name ?? ''));
        return s.every((x) => x.value < 0.8) ? s : undefined;
      }, { timeoutMs: 60_000, intervalMs: 2000 });
      console.log(`[real-keda] utilisation in Prometheus at two reflectors: ${values.map((v) => `${v.metric.pod} ${v.value}`).join(', ')}`);
      await new Promise((r) => setTimeout(r, 15_000)); // the HPA's next syncs see it: still two

      // Four leave: 2 clients on 2 reflectors is far below the threshold; after the 30 s window, one.
      const leaving = clients.slice(2);
      leftAtMs = Date.now();
      for (const c of leaving) c.stop();
      reports.push(...(await Promise.all(leaving.map((c) => c.report))));
      await meshConverged(cluster, { name, controlPort: ports.control, replicas: 1 }, 300_000);
      await waitFor('the samples to count 1 reflector', () => (reflectorCounts(sampler.samples).at(-1)?.count === 1 ? true : undefined), { timeoutMs: 60_000 });
      await new Promise((r) => setTimeout(r, 15_000)); // stays at one: no flap after the window
    } catch (err) {
      await printState(name, hpaName);
      throw err;
    } finally {
      await sampler.stop();
    }
    const staying = clients.slice(0, 2);
    expect(staying.filter((c) => c.exited)).toEqual([]);
    for (const c of staying) c.stop();
    reports.push(...(await Promise.all(staying.map((c) => c.report))));

    const counts = reflectorCounts(sampler.samples);
    const removals = countChanges(counts).filter((c) => c.to < c.from);
    console.log(`[real-keda] reflectors: ${describeChanges(counts, originMs)}; failed reads ${sampler.errors.length}`);
    console.log(`[real-keda] HPA: utilisation ${scaledUp?.status?.currentMetrics?.[0]?.external?.current.value ?? '?'} against ${external?.target.value ?? '?'}; ` +
      `time to serve (join that used the capacity up -> new reflector Ready and peered both ways): decided ${timing?.decidedMs} ms, pod ${timing?.createdMs} ms, Ready ${timing?.readyMs} ms, serving ${timing?.servingMs} ms; ` +
      `first removal ${removals[0] && leftAtMs ? ((removals[0].atMs - leftAtMs) / 1000).toFixed(1) : '?'} s after the clients left`);
    console.log(`[real-keda] clients:\n${describeMoves(reports)}`);

    expect(countChanges(counts).map((c) => [c.from, c.to])).toEqual([[1, 2], [2, 1]]);
    expect(findFlaps(counts, windowMs)).toEqual([]);
    expect(removals[0]!.atMs - (leftAtMs ?? 0), 'the removal came only after the HPA\'s scale-down window').toBeGreaterThanOrEqual(windowMs);
    // The scale-down drained first: the removed reflector had a Draining event (or no clients), no DrainTimeout.
    const events = await meshEvents(cluster, name);
    expect(events.filter((e) => e.reason === 'DrainTimeout')).toEqual([]);
    for (const r of removedPods(sampler.samples)) {
      const held = r.lastSeen.reflectors.find((x) => x.name === r.pod)?.clients ?? 0;
      const drained = events.some((e) => e.reason === 'Draining' && e.message.includes(`draining reflector ${r.pod} `));
      expect(drained || held === 0, `${r.pod} removed while its last report had ${held} clients, without a Draining event`).toBe(true);
    }
    for (const r of reports) {
      expect(r.failovers, `${r.name} failed over`).toEqual([]);
      expect(lossOutsideMigrations(r), `${r.name} lost datagrams outside its migrations`).toBe(0);
      expect(r.received.total).toBeGreaterThan(0);
    }
    expect(reports.reduce((n, r) => n + r.migrations.length, 0)).toBeGreaterThanOrEqual(1);
    expect((await readMesh(cluster, name)).spec.replicas).toBe(1);
    expect((await meshPods(cluster, name)).filter((p) => !p.metadata?.deletionTimestamp).length).toBe(1);
    await cluster.kubectl(['delete', 'scaledobject', scaled.metadata.name, '--wait=true', '--timeout=60s'], { timeoutMs: 90_000 });
    await cluster.kubectl(['delete', 'rmesh', name, '--wait=true', '--timeout=120s'], { timeoutMs: 150_000 });
  }, 1_200_000);
});
