// The examples users apply as they are: validated offline with kubeconform against the pinned
// Kubernetes version and the ReflectorMesh CRD, and checked for what their comments promise (a mesh
// that needs nothing else, one owner of spec.replicas, an HPA whose metrics the adapter rules serve).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { kubeconform, parseManifests, prepareSchemas, provideTools, ROOT, type KubeObject, type Schemas, type Tools } from './tools.js';

const EXAMPLES = join(ROOT, 'examples');

let tools: Tools;
let schemas: Schemas;

beforeAll(() => {
  tools = provideTools();
  schemas = prepareSchemas(tools);
}, 1_800_000);

function read(file: string): string {
  return readFileSync(join(EXAMPLES, file), 'utf8');
}

type Mesh = KubeObject & { spec: { replicas?: number; scaling?: { mode?: string }; auth?: unknown } };

function meshes(file: string): Mesh[] {
  return parseManifests(read(file)).filter((o): o is Mesh => o.kind === 'ReflectorMesh');
}

describe('examples/', () => {
  const manifests = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml') && !f.startsWith('prometheus-adapter'));

  it('has the mesh, the autoscaled mesh and the HPA', () => {
    expect(manifests).toEqual(expect.arrayContaining(['mesh.yaml', 'mesh-autoscaled.yaml', 'hpa.yaml']));
  });

  it.each(manifests)('%s is valid against Kubernetes and the CRD', (file) => {
    const text = read(file);
    const result = kubeconform(tools, schemas, text);
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
    expect(kubeconform(tools, schemas, broken).invalid).toHaveLength(1);
    const unknownField = read('mesh.yaml').replace('spec:\n', 'spec:\n  replica: 3\n');
    expect(kubeconform(tools, schemas, unknownField).invalid.join('\n')).toContain("'replica' not allowed");
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
