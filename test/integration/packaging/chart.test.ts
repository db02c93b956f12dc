// The Helm chart, checked with the real tools: helm lints and renders it with default and non-default
// values, kubeconform validates every rendered object offline against the pinned Kubernetes version's
// schemas and the CRDs, and the rendered objects say what the chart promises (probes, security context,
// leader election, least-privilege RBAC from the operator's own manifest, the CRD without a copy).
import { spawnSync } from 'node:child_process';
import { cpSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CHART,
  ROOT,
  find,
  generatedRules,
  helm,
  kubeconform,
  parseManifests,
  run,
  template,
  toolsForTests,
  type KubeObject,
} from './tools.js';

const ready = toolsForTests();

const NON_DEFAULT = {
  'operator.replicas': 2,
  'metrics.podMonitor.enabled': true,
  'metrics.serviceMonitor.enabled': true,
  'dashboard.enabled': true,
  'image.repository': 'registry.example.com/media/reflector-mesh',
  'image.tag': '1.2.3',
};

interface Container {
  name: string;
  image: string;
  command?: string[];
  args: string[];
  env?: { name: string }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: { httpGet: { path: string; port: string | number } };
  readinessProbe: { httpGet: { path: string; port: string | number } };
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

function deployment(objects: KubeObject[]) {
  const d = find(objects, 'Deployment') as KubeObject & {
    spec: {
      replicas: number;
      strategy: { type: string };
      template: {
        metadata: { labels: Record<string, string> };
        spec: {
          serviceAccountName: string;
          securityContext: Record<string, unknown>;
          containers: Container[];
          volumes?: { name: string; emptyDir?: { sizeLimit?: string } }[];
        };
      };
    };
  };
  const container = d.spec.template.spec.containers[0];
  if (!container) throw new Error('the Deployment has no container');
  return { deployment: d, container };
}

describe('helm lint', () => {
  it('passes with default and with non-default values', () => {
    for (const sets of [{}, NON_DEFAULT, { 'operator.watchNamespace': 'media' }]) {
      const args = ['lint', CHART, '--strict'];
      for (const [k, v] of Object.entries(sets)) args.push('--set', `${k}=${String(v)}`);
      const out = helm(ready.tools, args);
      expect(out).toContain('1 chart(s) linted, 0 chart(s) failed');
    }
  });
});

describe('helm template with default values', () => {
  let objects: KubeObject[];
  let rendered: string;
  beforeAll(() => {
    rendered = template(ready.tools, {}, ['--include-crds']);
    objects = parseManifests(rendered);
  });

  it('renders objects that are valid for the pinned Kubernetes version', () => {
    const result = kubeconform(ready.tools, ready.schemas, rendered);
    expect(result.invalid, result.output).toEqual([]);
    expect(result.valid.sort()).toEqual(
      [
        'ClusterRole/rm-reflector-mesh',
        'ClusterRole/rm-reflector-mesh-cluster',
        'ClusterRoleBinding/rm-reflector-mesh',
        'ClusterRoleBinding/rm-reflector-mesh-cluster',
        'CustomResourceDefinition/reflectormeshes.rmesh.io',
        'Deployment/rm-reflector-mesh',
        'Pod/rm-reflector-mesh-test-operator',
        'Role/rm-reflector-mesh-leader-election',
        'RoleBinding/rm-reflector-mesh-leader-election',
        'Service/rm-reflector-mesh-metrics',
        'ServiceAccount/rm-reflector-mesh',
      ].sort(),
    );
  });

  it('runs one operator, `rmesh operator` with leader election (so a second replica later never acts beside it without the Lease)', () => {
    const { deployment: d, container } = deployment(objects);
    expect(d.spec.replicas).toBe(1);
    expect(d.spec.strategy.type).toBe('RollingUpdate');
    expect(container.command).toBeUndefined(); // the image's entrypoint, rmesh
    expect(container.args[0]).toBe('operator');
    expect(container.args.join(' ')).toContain('--leader-elect');
    expect(container.image).toBe('ghcr.io/reflector-mesh/rmesh:0.1.0');
    expect(container.args).toContain('--reflector-image=ghcr.io/reflector-mesh/rmesh:0.1.0');
  });

  it('probes /healthz and /readyz, limits memory, and runs non-root, read-only, without privileges', () => {
    const { deployment: d, container } = deployment(objects);
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.ports.map((p) => p.name)).toContain(container.livenessProbe.httpGet.port);
    expect(Object.keys(container.resources.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(container.resources.limits ?? {})).toContain('memory');
    expect(container.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      privileged: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(d.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(d.spec.template.spec.securityContext.runAsUser).toBeGreaterThan(0);
  });

  it('runs as the Dockerfile\'s user, adds no capability, and writes only to a size-limited emptyDir on /tmp', () => {
    const { deployment: d, container } = deployment(objects);
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const user = [...dockerfile.matchAll(/^USER\s+(\d+):(\d+)/gm)].at(-1);
    expect(user, 'the Dockerfile has a numeric USER uid:gid').toBeDefined();
    expect(d.spec.template.spec.securityContext).toMatchObject({ runAsUser: Number(user?.[1]), runAsGroup: Number(user?.[2]) });
    expect((container.securityContext.capabilities as { add?: unknown }).add).toBeUndefined();
    expect(container.securityContext.runAsUser ?? d.spec.template.spec.securityContext.runAsUser).not.toBe(0);
    // Read-only root: every writable mount is an emptyDir with a size limit, and the only one is /tmp.
    const writable = (container.volumeMounts ?? []).filter((m) => m.readOnly !== true);
    expect(writable.map((m) => m.mountPath)).toEqual(['/tmp']);
    for (const mount of writable) {
      const volume = d.spec.template.spec.volumes?.find((v) => v.name === mount.name);
      expect(volume?.emptyDir?.sizeLimit, `volume ${mount.name}`).toBeDefined();
    }
  });

  it('stays locked down with non-default values (more replicas, monitoring, another image)', () => {
    const { deployment: d, container } = deployment(parseManifests(template(ready.tools, NON_DEFAULT)));
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, privileged: false, capabilities: { drop: ['ALL'] } });
    expect(d.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
  });

  it('labels every object with the standard app.kubernetes.io labels', () => {
    for (const object of objects.filter((o) => o.kind !== 'CustomResourceDefinition')) {
      expect(object.metadata.labels, `${object.kind}/${object.metadata.name}`).toMatchObject({
        'app.kubernetes.io/name': 'reflector-mesh',
        'app.kubernetes.io/instance': 'rm',
        'app.kubernetes.io/version': '0.1.0',
        'app.kubernetes.io/managed-by': 'Helm',
        'helm.sh/chart': 'reflector-mesh-0.1.0',
      });
    }
  });
});

describe('helm template with non-default values', () => {
  it('two replicas: leader election on a Lease in the release namespace, rolling updates', () => {
    const objects = parseManifests(template(ready.tools, { 'operator.replicas': 2 }));
    const { deployment: d, container } = deployment(objects);
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.strategy.type).toBe('RollingUpdate');
    expect(container.args).toEqual(
      expect.arrayContaining(['--leader-elect', '--leader-election-namespace=rmesh-system', '--leader-election-id=rm-reflector-mesh']),
    );
    const role = find(objects, 'Role', 'rm-reflector-mesh-leader-election') as KubeObject & { rules: unknown };
    expect(role.metadata.namespace).toBe('rmesh-system');
    expect(role.rules).toEqual(generatedRules('reflector-mesh-operator-leader-election'));
    find(objects, 'RoleBinding', 'rm-reflector-mesh-leader-election');
  });

  it('leader election off: one operator, Recreate, never two at once; two replicas without it refused with the reason', () => {
    const off = deployment(parseManifests(run(ready.tools.helm, ['template', 'rm', CHART, '--set', 'operator.leaderElection.enabled=false']).stdout));
    expect(off.deployment.spec.strategy.type).toBe('Recreate');
    expect(off.container.args.join(' ')).not.toContain('--leader-elect');
    const result = run(ready.tools.helm, ['template', 'rm', CHART, '--set', 'operator.replicas=2', '--set', 'operator.leaderElection.enabled=false']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('operator.replicas > 1 needs leader election');
  });

  it('monitors, dashboard, custom image: valid, and the PodMonitor scrapes the reflector pods on their control port', () => {
    const rendered = template(ready.tools, NON_DEFAULT);
    const result = kubeconform(ready.tools, ready.schemas, rendered);
    expect(result.invalid, result.output).toEqual([]);
    const objects = parseManifests(rendered);
    expect(result.valid).toHaveLength(objects.length);

    const { container } = deployment(objects);
    expect(container.image).toBe('registry.example.com/media/reflector-mesh:1.2.3');
    expect(container.args).toContain('--reflector-image=registry.example.com/media/reflector-mesh:1.2.3');

    const podMonitor = find(objects, 'PodMonitor') as KubeObject & {
      spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: { any?: boolean }; podMetricsEndpoints: { port: string; path: string }[] };
    };
    // The labels and port name the operator gives reflector pods (operator/controller/pod-template.ts).
    expect(podMonitor.spec.selector.matchLabels).toEqual({ 'app.kubernetes.io/name': 'reflector-mesh', 'app.kubernetes.io/component': 'reflector' });
    expect(podMonitor.spec.podMetricsEndpoints[0]).toMatchObject({ port: 'control', path: '/metrics' });
    expect(podMonitor.spec.namespaceSelector).toEqual({ any: true });

    const serviceMonitor = find(objects, 'ServiceMonitor') as KubeObject & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string }[] } };
    const service = find(objects, 'Service') as KubeObject & { spec: { ports: { name: string }[] } };
    expect(service.metadata.labels).toMatchObject(serviceMonitor.spec.selector.matchLabels);
    expect(service.spec.ports.map((p) => p.name)).toContain(serviceMonitor.spec.endpoints[0]?.port);
  });

  it('the dashboard is Grafana JSON with clients, rates beside the model, drops and migrations', () => {
    const objects = parseManifests(template(ready.tools, { 'dashboard.enabled': true }));
    const configMap = find(objects, 'ConfigMap') as KubeObject & { data: Record<string, string> };
    expect(configMap.metadata.labels).toMatchObject({ grafana_dashboard: '1' });
    const dashboard = JSON.parse(configMap.data['reflector-mesh.json'] ?? '') as { uid: string; panels: { title: string; targets?: { expr: string }[] }[] };
    expect(dashboard.uid).toBe('rmesh-reflectors');
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)).join('\n');
    for (const metric of [
      'rmesh_clients',
      'rmesh_bytes_received_total',
      'rmesh_bytes_sent_total',
      'rmesh_outbound_streams_predicted',
      'rmesh_datagrams_dropped_total',
      'rmesh_migrations_total',
      'controller_runtime_reconcile_total',
      'workqueue_depth',
    ]) {
      expect(exprs).toContain(metric);
    }
    // Every reflector metric the dashboard reads is one the reflector documents (docs/protocol.md §5);
    // the operator's are checked against a running operator (test/e2e/control-plane/chart-install.test.ts).
    const documented = readFileSync(join(ROOT, 'docs', 'protocol.md'), 'utf8');
    for (const used of new Set(exprs.match(/rmesh_[a-z_]+/g) ?? [])) {
      if (used.startsWith('rmesh_operator_')) continue;
      const base = used.replace(/^rmesh_/, '').replace(/_(bucket|sum|count)$/, '');
      expect(documented, `${used} is not in docs/protocol.md §5`).toContain(`\`${base}`);
    }
  });

  it('an image digest wins over the tag', () => {
    const digest = `sha256:${'a'.repeat(64)}`;
    const { container } = deployment(parseManifests(template(ready.tools, { 'image.digest': digest })));
    expect(container.image).toBe(`ghcr.io/reflector-mesh/rmesh@${digest}`);
  });
});

describe('values.schema.json', () => {
  it.each([
    [{ 'operator.replica': 2 }, "additional properties 'replica' not allowed"],
    [{ 'operator.logLevel': 'loud' }, '/operator/logLevel'],
    [{ 'operator.leaderElection.enabled': 'maybe' }, '/operator/leaderElection/enabled'],
    [{ 'operator.replicas': 0 }, '/operator/replicas'],
    [{ 'image.pullPolicy': 'Sometimes' }, '/image/pullPolicy'],
  ])('rejects %o, naming the value', (sets, message) => {
    const args = ['template', 'rm', CHART];
    for (const [k, v] of Object.entries(sets)) args.push('--set', `${k}=${String(v)}`);
    const result = run(ready.tools.helm, args);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain(message);
  });

  it('describes every key of values.yaml', () => {
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8')) as SchemaNode;
    const values = parseManifests(readFileSync(join(CHART, 'values.yaml'), 'utf8'))[0] as unknown as Record<string, unknown>;
    expect(undocumented(values, schema, '')).toEqual([]);
  });
});

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  type?: string | string[];
}

/** Keys of `values` that the schema neither names nor allows as free-form maps. */
function undocumented(values: Record<string, unknown>, schema: SchemaNode, path: string): string[] {
  const missing: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    const child = schema.properties?.[key];
    if (!child) {
      if (schema.additionalProperties === false || schema.additionalProperties === undefined) missing.push(`${path}.${key}`);
      continue;
    }
    if (child.properties && value && typeof value === 'object' && !Array.isArray(value)) {
      missing.push(...undocumented(value as Record<string, unknown>, child, `${path}.${key}`));
    }
  }
  return missing;
}

describe('the CRD in the chart', () => {
  it('is the repository crds/ directory itself (a symlink), not a copy', () => {
    const link = join(CHART, 'crds');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('../../crds');
    expect(realpathSync(link)).toBe(realpathSync(join(ROOT, 'crds')));
    expect(realpathSync(join(CHART, 'files', 'rbac.yaml'))).toBe(realpathSync(join(ROOT, 'config', 'rbac', 'role.yaml')));
  });

  it('`helm template --include-crds` renders crds/ unchanged', () => {
    const crd = parseManifests(readFileSync(join(ROOT, 'crds', 'rmesh.io_reflectormeshes.yaml'), 'utf8'))[0];
    const rendered = find(parseManifests(template(ready.tools, {}, ['--include-crds'])), 'CustomResourceDefinition');
    expect(rendered).toEqual(crd);
  });

  it('`helm package` resolves the symlinks into real files, and the package renders the same', () => {
    const out = mkdtempSync(join(tmpdir(), 'rmesh-chart-'));
    helm(ready.tools, ['package', CHART, '--destination', out]);
    const archive = join(out, 'reflector-mesh-0.1.0.tgz');
    const listing = spawnSync('tar', ['-tvzf', archive], { encoding: 'utf8' });
    expect(listing.status).toBe(0);
    const crdEntry = listing.stdout.split('\n').find((l) => l.endsWith('reflector-mesh/crds/rmesh.io_reflectormeshes.yaml'));
    expect(crdEntry, listing.stdout).toMatch(/^-/); // a regular file, not a link
    const packaged = spawnSync('tar', ['-xzOf', archive, 'reflector-mesh/crds/rmesh.io_reflectormeshes.yaml'], { encoding: 'utf8' });
    expect(packaged.stdout).toBe(readFileSync(join(ROOT, 'crds', 'rmesh.io_reflectormeshes.yaml'), 'utf8'));
    const fromPackage = helm(ready.tools, ['template', 'rm', archive, '--namespace', 'rmesh-system', '--include-crds', '--set', 'operator.replicas=2']);
    expect(fromPackage).toBe(template(ready.tools, { 'operator.replicas': 2 }, ['--include-crds']));
  });

  it('NOTES.txt renders and says what to do next', () => {
    // helm prints NOTES only from install/upgrade, which need a cluster: render a copy of the chart
    // (symlinks resolved) in which NOTES.txt is a named template shown through a ConfigMap.
    const copy = join(mkdtempSync(join(tmpdir(), 'rmesh-notes-')), 'reflector-mesh');
    cpSync(CHART, copy, { recursive: true, dereference: true });
    const source = readFileSync(join(copy, 'templates', 'NOTES.txt'), 'utf8');
    rmSync(join(copy, 'templates', 'NOTES.txt'));
    writeFileSync(join(copy, 'templates', '_notes.tpl'), `{{- define "test.notes" -}}\n${source}{{- end }}\n`);
    writeFileSync(
      join(copy, 'templates', 'notes.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include "test.notes" . | toJson }}\n',
    );
    const rendered = helm(ready.tools, ['template', 'rm', copy, '--namespace', 'rmesh-system', '--show-only', 'templates/notes.yaml', '--set', 'metrics.podMonitor.enabled=true', '--set', 'operator.replicas=2']);
    const notes = (parseManifests(rendered)[0] as KubeObject & { data: { notes: string } }).data.notes;
    expect(notes).toContain('kubectl -n rmesh-system rollout status deployment/rm-reflector-mesh');
    expect(notes).toContain('kubectl apply -f examples/mesh.yaml');
    expect(notes).toContain('kubectl get rmesh -w');
    expect(notes).toContain('http://rm-reflector-mesh-metrics.rmesh-system.svc:8080/metrics');
    expect(notes).toContain('PodMonitor rm-reflector-mesh-reflectors');
    expect(notes).toContain('kubectl -n rmesh-system get lease rm-reflector-mesh');
    // Reflectors use the host network, which `baseline` refuses: the namespace must be privileged.
    expect(notes).toContain('pod-security.kubernetes.io/enforce=privileged');
    expect(notes).toContain('baseline');
    expect(notes).toContain('helm test rm -n rmesh-system');
  });
});

describe('the operator Deployment runs the real CLI', () => {
  it('`rmesh operator` accepts every flag the chart passes', () => {
    const objects = parseManifests(template(ready.tools, { 'operator.replicas': 2, 'operator.watchNamespace': 'media' }));
    const { container } = deployment(objects);
    const help = run(process.execPath, [join(ROOT, 'dist', 'cli', 'rmesh.js'), 'operator', '--help']);
    expect(help.status, `rmesh operator --help (is dist/ built?):\n${help.stderr}`).toBe(0);
    expect(help.stdout, 'rmesh has no operator subcommand').toContain('Usage: rmesh operator');
    const [subcommand, ...flags] = container.args;
    expect(subcommand).toBe('operator');
    for (const flag of flags) {
      const name = flag.split('=')[0] ?? flag;
      expect(help.stdout, `${name} is not a flag of rmesh operator`).toMatch(new RegExp(`(^|[\\s,])${name}([\\s=<\\[,]|$)`, 'm'));
    }
  });
});
