// What the chart's alerts and dashboard read, and what the code exports, as metric names: a rename on
// either side breaks the packaging tests (alerts.test.ts, metrics.test.ts, test/e2e/control-plane/chart-install.test.ts).
import type { Registry } from 'prom-client';
import { recordMeshCapacity } from '../../../operator/mesh-metrics.js';
import { recordMeshConditions } from '../../../operator/condition-metrics.js';
import { OperatorMetrics } from '../../../operator/metrics.js';
import { resolveSpec, type ReflectorMesh, type ReflectorMeshStatus } from '../../../operator/api/v1alpha1/index.js';
import { freePorts } from '../../support/ports.js';
import { startReflector } from '../../support/reflector-process.js';

/** Series names of an exposition: each family's name, histograms and summaries also as _bucket/_sum/_count. */
export function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (!type) continue;
    const [, name = '', kind] = type;
    names.add(name);
    if (kind === 'histogram' || kind === 'summary') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression reads: what is left once strings, label matchers, grouping
 * clauses, ranges, numbers, Grafana variables, function calls and keywords are taken out. Not a
 * parser, but every identifier it returns must be a metric, so a name it cannot place fails the test
 * rather than being skipped.
 */
export function metricNames(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\$\w+/g, ' ')
    .replace(/\b\d+(\.\d+)?(e[+-]?\d+)?\b/gi, ' ');
  const names = new Set<string>();
  for (const match of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, word = '', call] = match;
    if (call || KEYWORDS.has(word.toLowerCase())) continue;
    names.add(word);
  }
  return [...names];
}

/** The label values an expression matches for `label` (`label="a"` or `label=~"a|b"`). */
export function matchedValues(expr: string, label: string): string[] {
  const values: string[] = [];
  for (const [, op, value = ''] of expr.matchAll(new RegExp(`\\b${label}\\s*(=~|=)\\s*"([^"]*)"`, 'g'))) {
    values.push(...(op === '=~' ? value.split('|') : [value]));
  }
  return values;
}

/**
 * The operator's exposition as `rmesh operator` builds it (operator/main.ts: its metrics with the
 * process defaults), with one mesh's gauges recorded, since those appear once a mesh is reconciled.
 */
export async function operatorExposition(): Promise<string> {
  const registry: Registry = new OperatorMetrics({ defaultMetrics: true }).registry;
  const mesh = { apiVersion: 'rmesh.io/v1alpha1', kind: 'ReflectorMesh', metadata: { namespace: 'media', name: 'conf', uid: 'u1', generation: 1 }, spec: { replicas: 1 } } as unknown as ReflectorMesh;
  const status = {
    plan: { bitrateMbps: 2, peakOutboundStreams: 10 },
    autoscaling: { freeClientSlots: 3 },
    conditions: [{ type: 'Ready', status: 'True', reason: 'MeshReady', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }],
  } as unknown as ReflectorMeshStatus;
  recordMeshCapacity(registry, mesh, resolveSpec(mesh.spec).spec, status);
  recordMeshConditions(registry, mesh, status);
  return registry.metrics();
}

/**
 * The exposition of a real `rmesh reflector` at `address`, scraped on its control port as Prometheus
 * does; with --budget-streams, since the mesh capacity gauges are exported only with a budget
 * (docs/metrics.md). The reflector is stopped before this returns.
 */
export async function reflectorExposition(address: string): Promise<string> {
  const [dataPort, controlPort] = await freePorts(2);
  const reflector = await startReflector({ address, dataPort: dataPort!, controlPort: controlPort!, rtp: true, extraArgs: ['--budget-streams', '405'] });
  try {
    const response = await reflector.request('/metrics', { token: null });
    if (!response.ok) throw new Error(`GET /metrics -> ${response.status}:\n${reflector.output.join('\n')}`);
    return await response.text();
  } finally {
    await reflector.stop(10_000);
  }
}
