// The chart's PrometheusRule and the dashboard panels beside it: rendered by helm, valid against the
// Prometheus Operator's CRD, every alert with a severity, a `for` and text to act on, and every metric
// an alert or a panel reads one the code exports: the reflector's names from a real `rmesh reflector`
// scraped on its control port, the operator's from the registry `rmesh operator` builds
// (test/e2e/control-plane/chart-install.test.ts checks them again on a running operator). Renaming a metric breaks this test.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHART, find, kubeconform, parseManifests, template, toolsForTests, type KubeObject } from './tools.js';
import { exportedNames, matchedValues, metricNames, operatorExposition, reflectorExposition } from './promql-names.js';

const ready = toolsForTests();

interface Alert {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
type Rule = KubeObject & { spec: { groups: { name: string; rules: Alert[] }[] } };

let reflectorText = '';
let operatorText = '';

beforeAll(async () => {
  reflectorText = await reflectorExposition('127.0.6.3');
  operatorText = await operatorExposition();
}, 60_000);

function renderRule(sets: Record<string, string | number | boolean> = {}): { rule: Rule; rendered: string } {
  const rendered = template(ready.tools, { 'metrics.prometheusRule.enabled': true, ...sets });
  return { rule: find(parseManifests(rendered), 'PrometheusRule') as Rule, rendered };
}

function alerts(rule: Rule): Alert[] {
  return rule.spec.groups.flatMap((g) => g.rules);
}

function dashboardExprs(): string[] {
  const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards', 'reflector-mesh.json'), 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  return dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
}

describe('the PrometheusRule', () => {
  it('is off by default', () => {
    expect(parseManifests(template(ready.tools)).filter((o) => o.kind === 'PrometheusRule')).toEqual([]);
  });

  it('renders valid for the Prometheus Operator, with the alerts an SRE needs', () => {
    const { rule, rendered } = renderRule({ 'metrics.prometheusRule.labels.release': 'kube-prometheus' });
    const result = kubeconform(ready.tools, ready.schemas, rendered);
    expect(result.invalid, result.output).toEqual([]);
    expect(rule.metadata).toMatchObject({ namespace: 'rmesh-system', labels: { release: 'kube-prometheus' } });
    expect(alerts(rule).map((a) => a.alert).sort()).toEqual(
      [
        'ReflectorMeshNotReady',
        'ReflectorMeshDegraded',
        'ReflectorMeshCapacityExceeded',
        'ReflectorMeshFull',
        'ReflectorMeshOperatorReconcileErrors',
        'ReflectorMeshOperatorQueueBacklog',
        'ReflectorMeshOperatorNoLeader',
        'ReflectorDroppingData',
        'ReflectorRejectingPeerData',
      ].sort(),
    );
  });

  it('every alert waits a while, has a severity, and says what happened and what to do', () => {
    const { rule } = renderRule({ 'metrics.prometheusRule.notReadyFor': '7m', 'metrics.prometheusRule.additionalAlertLabels.team': 'media' });
    for (const alert of alerts(rule)) {
      expect(alert.for, alert.alert).toMatch(/^[0-9]+m$/);
      expect(['warning', 'critical'], alert.alert).toContain(alert.labels.severity);
      expect(alert.labels.team, alert.alert).toBe('media');
      for (const key of ['summary', 'description', 'runbook']) expect(alert.annotations[key]?.length ?? 0, `${alert.alert} ${key}`).toBeGreaterThan(20);
      // Prometheus templates survive helm: $labels reach Prometheus, not helm's renderer.
      expect(`${alert.annotations.summary} ${alert.annotations.description}`, alert.alert).not.toContain('<no value>');
    }
    const notReady = alerts(rule).find((a) => a.alert === 'ReflectorMeshNotReady');
    expect(notReady?.for).toBe('7m');
    expect(notReady?.annotations.summary).toContain('{{ $labels.mesh }}');
  });

  it('the no-leader alert also fires when no operator is scraped at all', () => {
    const noLeader = alerts(renderRule().rule).find((a) => a.alert === 'ReflectorMeshOperatorNoLeader');
    expect(noLeader?.expr).toContain('sum(rmesh_operator_leader) == 0');
    expect(noLeader?.expr).toContain('absent(rmesh_operator_leader)');
  });
});

describe('every metric the alerts and the dashboard read is exported', () => {
  it('the name extraction finds metrics and nothing else (the check can fail)', () => {
    expect(metricNames('sum by (namespace, mesh) (rate(rmesh_x_total{reason=~"a|b"}[5m])) / max(y_depth{name="q"}) > 0.1 or absent(z) * 8e6')).toEqual(['rmesh_x_total', 'y_depth', 'z']);
  });

  it('by the reflector or the operator, under the names they use', () => {
    const reflectorNames = exportedNames(reflectorText);
    const operatorNames = exportedNames(operatorText);
    const exprs = [...alerts(renderRule().rule).map((a) => a.expr), ...dashboardExprs()];
    const used = new Set(exprs.flatMap(metricNames));
    expect(used.size).toBeGreaterThan(15);
    // rmesh_forwarding_latency_seconds is documented but may come later (metrics.test.ts says why).
    const missing = [...used].filter((m) => !reflectorNames.has(m) && !operatorNames.has(m) && !m.startsWith('rmesh_forwarding_latency_seconds'));
    expect(missing, 'metrics the chart reads that nothing exports').toEqual([]);
  });

  it('the drop reasons the alerts and panels select are reasons the reflector exports', () => {
    const exported = new Set([...reflectorText.matchAll(/rmesh_datagrams_dropped_total\{[^}]*reason="([a-z_]+)"/g)].map((m) => m[1]));
    const selected = [...alerts(renderRule().rule).map((a) => a.expr), ...dashboardExprs()].filter((e) => e.includes('rmesh_datagrams_dropped_total')).flatMap((e) => matchedValues(e, 'reason'));
    expect(selected).toEqual(expect.arrayContaining(['receive_buffer', 'stale', 'bad_peer_tag']));
    for (const reason of selected) expect(exported.has(reason), reason).toBe(true);
  });

  it('the condition types the alerts select are ones the operator sets', () => {
    const expr = alerts(renderRule().rule).map((a) => a.expr).join('\n');
    const status = readFileSync(join(CHART, '..', '..', 'operator', 'controller', 'status.ts'), 'utf8');
    for (const type of matchedValues(expr, 'type')) expect(status, type).toContain(`type: '${type}'`);
  });
});
