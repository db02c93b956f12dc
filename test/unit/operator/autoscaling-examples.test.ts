// The autoscaling examples agree with what the project really exports and labels (no tools needed; the
// packaging tests also validate them with kubeconform against the Kubernetes and KEDA schemas):
// the Prometheus scrape job keeps exactly the reflector pods' control port, and the HPA and the KEDA
// ScaledObject use metrics a reflector exports, on the labels the scrape job sets, to scale a mesh of
// the same file in External mode.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../../operator/api/v1alpha1/index.js';
import { buildReflectorPod } from '../../../operator/controller/pod-template.js';
import { ReflectorMetrics } from '../../../reflector/metrics.js';
import { mesh } from './fixtures.js';

const EXAMPLES = join(import.meta.dirname, '..', '..', '..', 'examples');
type Obj = { kind: string; metadata: { name: string }; spec: Record<string, unknown> };
const objects = (file: string) => parseAllDocuments(readFileSync(join(EXAMPLES, file), 'utf8')).map((d) => d.toJS() as Obj);

interface Relabel {
  source_labels?: string[];
  regex?: string;
  action?: string;
  target_label?: string;
}
const job = (parse(readFileSync(join(EXAMPLES, 'prometheus-scrape-config.yaml'), 'utf8')) as { scrape_configs: { relabel_configs: Relabel[] }[] }).scrape_configs[0]!;

/** Prometheus's pod-role discovery meta labels for one container port of a pod. */
function targetsOf(pod: ReturnType<typeof buildReflectorPod>): Record<string, string>[] {
  const base: Record<string, string> = { __meta_kubernetes_namespace: 'media', __meta_kubernetes_pod_name: 'conf-abc' };
  for (const [k, v] of Object.entries(pod.metadata?.labels ?? {})) base[`__meta_kubernetes_pod_label_${k.replace(/[^a-zA-Z0-9_]/g, '_')}`] = v;
  return pod.spec!.containers.flatMap((c) => (c.ports ?? []).map((p) => ({ ...base, __meta_kubernetes_pod_container_port_name: p.name ?? '' })));
}

/** Applies keep and replace relabelings as Prometheus does (regexes are anchored); undefined = dropped. */
function relabel(target: Record<string, string>): Record<string, string> | undefined {
  const t = { ...target };
  for (const r of job.relabel_configs) {
    const value = (r.source_labels ?? []).map((l) => t[l] ?? '').join(';');
    const matches = new RegExp(`^(?:${r.regex ?? '(.*)'})$`).test(value);
    if (r.action === 'keep' && !matches) return undefined;
    if ((r.action ?? 'replace') === 'replace' && r.target_label && matches) t[r.target_label] = value;
  }
  return t;
}

/** Metric names a reflector exports when the operator gave it a budget. */
function reflectorMetricNames(): string[] {
  const zero = { client: 0, peer: 0 };
  const metrics = new ReflectorMetrics({
    counters: () => ({ datagramsIn: zero, datagramsOut: zero, bytesIn: zero, bytesOut: zero, dropped: {} }) as never,
    latency: () => ({ bucketsSeconds: [], counts: [], count: 0, sumSeconds: 0 }),
    clients: () => 0,
    peers: () => 0,
    outboundStreams: () => 0,
    outboundStreamsPredicted: () => 0,
    outboundBitsPerSecond: () => 0,
    meshCapacity: () => ({ freeClientSlots: 1, utilisation: 0 }),
  });
  return metrics.registry.getMetricsAsArray().map((m) => m.name);
}

describe('prometheus-scrape-config.yaml', () => {
  const m = mesh({ replicas: 2 });
  const pod = buildReflectorPod(m, resolveSpec(m.spec).spec, { defaultImage: 'rmesh:test' });

  it('keeps one target per reflector pod, its control port, with the namespace, pod and mesh labels', () => {
    const kept = targetsOf(pod).map(relabel).filter((t) => t !== undefined);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatchObject({ __meta_kubernetes_pod_container_port_name: 'control', namespace: 'media', pod: 'conf-abc', mesh: 'conf' });
  });

  it('drops pods that are not reflectors (the check can fail)', () => {
    const other = { ...pod, metadata: { ...pod.metadata, labels: { ...pod.metadata!.labels, 'app.kubernetes.io/component': 'operator' } } };
    expect(targetsOf(other).map(relabel).filter((t) => t !== undefined)).toEqual([]);
  });
});

describe('keda-scaledobject.yaml and hpa.yaml', () => {
  const exported = reflectorMetricNames();

  it('the reflector exports the capacity metrics the examples use', () => {
    expect(exported).toEqual(expect.arrayContaining(['rmesh_mesh_free_client_slots', 'rmesh_mesh_capacity_utilisation']));
  });

  it('KEDA scales a mesh of the same file in External mode, on an exported metric and the scrape job\'s labels', () => {
    const all = objects('keda-scaledobject.yaml');
    const scaled = all.find((o) => o.kind === 'ScaledObject')!;
    const spec = scaled.spec as { scaleTargetRef: { apiVersion: string; kind: string; name: string }; triggers: { type: string; metadata: { query: string; threshold: string } }[] };
    const target = all.find((o) => o.kind === 'ReflectorMesh' && o.metadata.name === spec.scaleTargetRef.name)!;
    expect(spec.scaleTargetRef).toMatchObject({ apiVersion: 'rmesh.io/v1alpha1', kind: 'ReflectorMesh' });
    expect(resolveSpec(target.spec)).toMatchObject({ errors: [], spec: { scaling: { mode: 'External' } } });
    const [trigger] = spec.triggers;
    expect(trigger?.type).toBe('prometheus');
    const names = trigger!.metadata.query.match(/rmesh_[a-z_]+/g) ?? [];
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(exported).toContain(name);
    // The selectors name labels the scrape job (and the chart's PodMonitor) set, and this mesh.
    expect(trigger!.metadata.query).toContain(`mesh="${target.metadata.name}"`);
    for (const label of trigger!.metadata.query.match(/([a-z_]+)=/g) ?? []) expect(['namespace=', 'mesh=', 'pod=']).toContain(label);
    expect(Number(trigger!.metadata.threshold)).toBeGreaterThan(0);
    expect(Number(trigger!.metadata.threshold)).toBeLessThan(1);
  });

  it('KEDA adds one reflector per period, longer than the metric takes to show the grown mesh', () => {
    // After a scale-up the reflectors' utilisation in Prometheus is the old mesh's for up to a scrape
    // interval after the new one serves; an HPA reading it at the new size asks for one more reflector
    // than needed. The period must cover a scrape interval, the time to serve (about 15 s measured,
    // docs/performance.md §6) and an HPA sync (15 s by default).
    const scaled = objects('keda-scaledobject.yaml').find((o) => o.kind === 'ScaledObject')!;
    const behavior = (scaled.spec as { advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleUp: { policies: { type: string; value: number; periodSeconds: number }[] } } } } })
      .advanced.horizontalPodAutoscalerConfig.behavior;
    const scrapeSeconds = parseInt((job as { scrape_interval?: string }).scrape_interval ?? '60s', 10);
    expect(behavior.scaleUp.policies.length).toBeGreaterThan(0);
    for (const p of behavior.scaleUp.policies) {
      expect(p).toMatchObject({ type: 'Pods', value: 1 });
      expect(p.periodSeconds).toBeGreaterThanOrEqual(scrapeSeconds + 30);
    }
  });

  it('the HPA\'s metrics are all exported by a reflector', () => {
    const hpa = objects('hpa.yaml').find((o) => o.kind === 'HorizontalPodAutoscaler')!;
    const metrics = (hpa.spec as { metrics: { pods: { metric: { name: string } } }[] }).metrics.map((x) => x.pods.metric.name);
    expect(metrics).toContain('rmesh_mesh_capacity_utilisation');
    for (const name of metrics) expect(exported).toContain(name);
  });
});
