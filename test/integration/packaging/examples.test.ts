// The examples users apply as they are: validated offline with kubeconform against the pinned
// Kubernetes version and the ReflectorMesh CRD, and checked for what their comments promise (a mesh
// that needs nothing else, one owner of spec.replicas, an HPA whose metrics the adapter rules serve).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LABEL_MESH } from '../../../operator/controller/labels.js';
import { kubeconform, parseManifests, ROOT, toolsForTests, type KubeObject } from './tools.js';

const EXAMPLES = join(ROOT, 'examples');

const ready = toolsForTests();

function read(file: string): string {
  return readFileSync(join(EXAMPLES, file), 'utf8');
}

type Mesh = KubeObject & { spec: { replicas?: number; scaling?: { mode?: string }; auth?: unknown } };

function meshes(file: string): Mesh[] {
  return parseManifests(read(file)).filter((o): o is Mesh => o.kind === 'ReflectorMesh');
}

describe('examples/', () => {
  const manifests = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml') && !f.startsWith('prometheus-'));

  it('has the mesh, the autoscaled mesh, the HPA and the NetworkPolicy', () => {
    expect(manifests).toEqual(expect.arrayContaining(['mesh.yaml', 'mesh-autoscaled.yaml', 'hpa.yaml', 'keda-scaledobject.yaml', 'networkpolicy.yaml']));
  });

  it.each(manifests)('%s is valid against Kubernetes and the CRD', (file) => {
    const text = read(file);
    const result = kubeconform(ready.tools, ready.schemas, text);
    expect(result.invalid, result.output).toEqual([]);
    expect(result.valid).toHaveLength(parseManifests(text).length);
  });

  it.each(manifests)('%s explains itself in comments', (file) => {
    const comments = read(file)
      .split('\n')
      .filter((line) => line.trimStart().startsWith('#'));
    expect(comments.length).toBeGreaterThanOrEqual(5);
    expect(comments.join('\n')).toContain('kubectl apply -f examples/');
  });

  it('mesh.yaml is one minimal mesh that needs nothing else (Fixed mode, replicas set, no secret)', () => {
    const objects = parseManifests(read('mesh.yaml'));
    expect(objects).toHaveLength(1);
    const [mesh] = meshes('mesh.yaml');
    expect(mesh?.spec.replicas).toBeGreaterThanOrEqual(1);
    expect(mesh?.spec.scaling?.mode ?? 'Fixed').toBe('Fixed');
    expect(mesh?.spec.auth).toBeUndefined();
  });

  it('mesh-autoscaled.yaml leaves spec.replicas to the operator (Model mode)', () => {
    const [mesh] = meshes('mesh-autoscaled.yaml');
    expect(mesh?.spec.scaling?.mode).toBe('Model');
    expect(mesh?.spec.replicas).toBeUndefined();
  });

  it('kubeconform rejects an example with a mistake (the check can fail)', () => {
    const broken = read('mesh.yaml').replace('bitrateMbps: 2', 'bitrateMbps: fast');
    expect(broken).not.toBe(read('mesh.yaml'));
    expect(kubeconform(ready.tools, ready.schemas, broken).invalid).toHaveLength(1);
    const unknownField = read('mesh.yaml').replace('spec:\n', 'spec:\n  replica: 3\n');
    expect(kubeconform(ready.tools, ready.schemas, unknownField).invalid.join('\n')).toContain("'replica' not allowed");
  });
});

describe('hpa.yaml and the prometheus-adapter rules', () => {
  type Hpa = KubeObject & {
    spec: { scaleTargetRef: { apiVersion: string; kind: string; name: string }; metrics: { type: string; pods?: { metric: { name: string } } }[] };
  };
  const objects = () => parseManifests(read('hpa.yaml'));

  it('scales a ReflectorMesh of the same file, in External mode, through its scale subresource', () => {
    const hpa = objects().find((o): o is Hpa => o.kind === 'HorizontalPodAutoscaler');
    expect(hpa?.spec.scaleTargetRef).toEqual({ apiVersion: 'rmesh.io/v1alpha1', kind: 'ReflectorMesh', name: 'webinar' });
    const mesh = meshes('hpa.yaml').find((m) => m.metadata.name === hpa?.spec.scaleTargetRef.name);
    expect(mesh?.spec.scaling?.mode).toBe('External');
    const crd = parseManifests(readFileSync(join(ROOT, 'crds', 'rmesh.io_reflectormeshes.yaml'), 'utf8'))[0] as KubeObject & {
      spec: { versions: { subresources?: { scale?: { labelSelectorPath?: string } } }[] };
    };
    // The HPA needs the scale subresource's selector to find the reflector pods.
    expect(crd.spec.versions[0]?.subresources?.scale?.labelSelectorPath).toBe('.status.selector');
  });

  it('uses only metrics that the adapter rules serve, from series the reflectors export', () => {
    const hpa = objects().find((o): o is Hpa => o.kind === 'HorizontalPodAutoscaler');
    const used = hpa?.spec.metrics.map((m) => m.pods?.metric.name) ?? [];
    expect(used.length).toBeGreaterThan(0);

    const adapter = parseManifests(read('prometheus-adapter-values.yaml'))[0] as unknown as {
      rules: { default: boolean; custom: { seriesQuery: string; name: { matches: string; as: string }; resources: { overrides: Record<string, { resource: string }> } }[] };
    };
    const served = adapter.rules.custom.map((r) => r.name.as);
    for (const metric of used) expect(served).toContain(metric);

    const documented = readFileSync(join(ROOT, 'docs', 'protocol.md'), 'utf8');
    for (const rule of adapter.rules.custom) {
      const series = /^(rmesh_[a-z_]+)\{/.exec(rule.seriesQuery)?.[1];
      expect(series, rule.seriesQuery).toBeDefined();
      expect(new RegExp(rule.name.matches).test(series ?? '')).toBe(true);
      expect(documented, `${series} is not in docs/protocol.md §5`).toContain(`\`${(series ?? '').replace(/^rmesh_/, '')}`);
      // Per-pod metrics: the HPA's Pods metrics are looked up by pod and namespace.
      expect(rule.resources.overrides).toEqual({ namespace: { resource: 'namespace' }, pod: { resource: 'pod' } });
    }
  });
});

describe('networkpolicy.yaml', () => {
  interface Peer {
    namespaceSelector?: { matchLabels: Record<string, string> };
    podSelector?: { matchLabels: Record<string, string> };
    ipBlock?: { cidr: string };
  }
  interface Rule {
    ports: { protocol: string; port: number }[];
    from?: Peer[];
  }
  type Policy = KubeObject & { spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; ingress: Rule[] } };
  const policies = () => parseManifests(read('networkpolicy.yaml')) as Policy[];
  const chart = (file: string) => readFileSync(join(ROOT, 'charts', 'reflector-mesh', file), 'utf8');

  it('selects the reflector pods of the mesh of mesh.yaml by the label the operator sets', () => {
    const [mesh] = meshes('mesh.yaml');
    const reflectors = policies().find((p) => p.metadata.name === `${mesh?.metadata.name}-reflectors`);
    expect(reflectors?.spec.podSelector.matchLabels).toEqual({ [LABEL_MESH]: mesh?.metadata.name });
    expect(reflectors?.spec.policyTypes).toEqual(['Ingress']);
  });

  it('lets the data ports in from anywhere and the control port only from listed sources, the operator and the mesh among them', () => {
    const [mesh] = meshes('mesh.yaml');
    const reflectors = policies().find((p) => p.spec.podSelector.matchLabels[LABEL_MESH] === mesh?.metadata.name)!;
    const portsOf = (r: Rule) => r.ports.map((p) => `${p.protocol}/${p.port}`).sort();
    // The CRD's default ports (mesh.yaml sets none).
    const data = reflectors.spec.ingress.find((r) => r.ports.every((p) => p.protocol === 'UDP'));
    expect(data && portsOf(data)).toEqual(['UDP/5004', 'UDP/5005']);
    expect(data?.from).toBeUndefined();
    const control = reflectors.spec.ingress.find((r) => r.ports.some((p) => p.protocol === 'TCP'));
    expect(control && portsOf(control)).toEqual(['TCP/7400']);
    expect(control?.from?.length).toBeGreaterThan(0);
    // The operator as the chart labels it (its selector labels, component operator).
    const operator = control?.from?.find((f) => f.namespaceSelector !== undefined);
    expect(operator?.podSelector?.matchLabels).toEqual({ 'app.kubernetes.io/name': 'reflector-mesh', 'app.kubernetes.io/component': 'operator' });
    expect(chart('templates/_helpers.tpl')).toContain('app.kubernetes.io/component: operator');
    expect(control?.from?.some((f) => f.podSelector?.matchLabels[LABEL_MESH] === mesh?.metadata.name && !f.namespaceSelector)).toBe(true);
    // Nothing opens the control port to every address.
    for (const f of control?.from ?? []) expect(f.ipBlock?.cidr).not.toBe('0.0.0.0/0');
  });

  it('restricts the operator\'s port to the one the chart gives it', () => {
    const operator = policies().find((p) => p.metadata.name === 'rmesh-operator');
    expect(operator?.spec.ingress.flatMap((r) => r.ports.map((p) => p.port))).toEqual([Number(/^ {2}port: (\d+)$/m.exec(chart('values.yaml'))?.[1])]);
  });

  it('says that host-network pods are not selected by most CNIs, and what to do instead', () => {
    const text = read('networkpolicy.yaml');
    expect(text).toMatch(/host-network pods/);
    expect(text).toMatch(/node firewall/);
    const security = readFileSync(join(ROOT, 'docs', 'security.md'), 'utf8');
    expect(security).toContain('examples/networkpolicy.yaml');
    expect(security).toMatch(/host network/i);
    expect(security).toMatch(/node firewall/i);
  });
});
