// The metrics the packaging relies on (the Grafana dashboard, the prometheus-adapter rules, the HPA
// example, the PodMonitor) exist: a real `rmesh reflector` process is started and its /metrics scraped
// on the control port, where the PodMonitor scrapes it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHART, parseManifests, ROOT } from './tools.js';
import { exportedNames, reflectorExposition } from './promql-names.js';

let exposition = '';

beforeAll(async () => {
  exposition = await reflectorExposition('127.0.6.1');
}, 60_000);

/** Metric names of the exposition (histograms as their _bucket/_sum/_count series). */
function exported(): Set<string> {
  return exportedNames(exposition);
}

/** rmesh_* names a PromQL text uses. */
function used(text: string): string[] {
  return [...new Set(text.match(/rmesh_[a-z_]+/g) ?? [])];
}

describe('the metrics the packaging uses, on a real reflector', () => {
  it('the reflector serves Prometheus text on its control port at /metrics', () => {
    expect(exposition).toContain('# TYPE rmesh_clients gauge');
  });

  it('every reflector metric of the Grafana dashboard is exported', () => {
    const dashboard = readFileSync(join(CHART, 'dashboards', 'reflector-mesh.json'), 'utf8');
    const names = exported();
    // The operator's (rmesh_operator_*) are checked against a running operator in test/e2e/control-plane/chart-install.test.ts.
    const missing = used(dashboard).filter((m) => !m.startsWith('rmesh_operator_') && !names.has(m));
    // rmesh_forwarding_latency_seconds is documented (docs/protocol.md §5) but may come later: its
    // panel shows no data until then; every other metric must be there.
    expect(missing.filter((m) => !m.startsWith('rmesh_forwarding_latency_seconds'))).toEqual([]);
  });

  it('the label values the dashboard filters on are the reflector\'s', () => {
    const dashboard = readFileSync(join(CHART, 'dashboards', 'reflector-mesh.json'), 'utf8');
    const filters = [...dashboard.matchAll(/(rmesh_[a-z_]+)\{[^}]*?\b(result|reason|source|destination)=\\"([a-z_]+)\\"/g)];
    expect(filters.length).toBeGreaterThan(0);
    for (const [, metric = '', label = '', value = ''] of filters) {
      expect(exposition, `${metric}{${label}="${value}"}`).toContain(`${metric}{${label}="${value}"}`);
    }
  });

  it('the dashboard\'s drop panel names every drop reason the reflector exports', () => {
    const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards', 'reflector-mesh.json'), 'utf8')) as { panels: { description?: string }[] };
    const panel = dashboard.panels.find((p) => p.description?.includes('by reflector and reason'));
    const exported = [...exposition.matchAll(/rmesh_datagrams_dropped_total\{[^}]*reason="([a-z_]+)"/g)].map((m) => m[1]!);
    expect(exported.length).toBeGreaterThan(5);
    for (const reason of new Set(exported)) expect(panel?.description, reason).toContain(reason);
  });

  it('every series of the prometheus-adapter rules and every metric of the HPA is exported', () => {
    const names = exported();
    const adapter = readFileSync(join(ROOT, 'examples', 'prometheus-adapter-values.yaml'), 'utf8');
    const series = used(adapter).filter((m) => adapter.includes(`'${m}{`));
    expect(series.length).toBeGreaterThan(0);
    expect(series.filter((m) => !names.has(m))).toEqual([]);
    const hpa = parseManifests(readFileSync(join(ROOT, 'examples', 'hpa.yaml'), 'utf8')).find((o) => o.kind === 'HorizontalPodAutoscaler') as
      | { spec: { metrics: { pods: { metric: { name: string } } }[] } }
      | undefined;
    for (const metric of hpa?.spec.metrics ?? []) {
      // Served by the adapter under the same name, from a series of that name.
      expect(names.has(metric.pods.metric.name), metric.pods.metric.name).toBe(true);
    }
  });
});
