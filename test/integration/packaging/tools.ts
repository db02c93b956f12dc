// The packaging checks' access to their tools: provides them through tools.sh (pinned, cached in .cache/),
// prepares the offline schemas, and runs helm, kubeconform and hadolint as real processes. A tool that
// cannot be had is an error, never a skipped check.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { beforeAll } from 'vitest';
import { writeCrdSchemas, writeKubernetesSchemas } from './kube-schemas.js';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(here, '..', '..', '..');
export const CHART = join(ROOT, 'charts', 'reflector-mesh');

export interface Tools {
  helm: string;
  kubeconform: string;
  hadolint: string;
  kubernetesVersion: string;
  swagger: string;
  monitoringCrds: string;
  /** KEDA's CRDs (ScaledObject), from its Go module. */
  kedaCrds: string;
}

/** Builds or finds the tools (minutes the first time, seconds after); throws with tools.sh's log. */
export function provideTools(): Tools {
  const result = spawnSync('bash', [join(here, 'tools.sh')], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.status !== 0) {
    throw new Error(`test/integration/packaging/tools.sh failed (exit ${result.status ?? result.signal}): the packaging checks need helm, kubeconform and hadolint.\n${tail(result.stderr)}`);
  }
  const values = Object.fromEntries(
    result.stdout
      .split('\n')
      .filter((line) => /^[A-Z0-9_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const need = (key: string): string => {
    const value = values[key];
    if (!value) throw new Error(`tools.sh printed no ${key}=...:\n${result.stdout}`);
    return value;
  };
  return {
    helm: need('HELM'),
    kubeconform: need('KUBECONFORM'),
    hadolint: need('HADOLINT'),
    kubernetesVersion: need('K8S_VERSION'),
    swagger: need('K8S_SWAGGER'),
    monitoringCrds: need('MONITORING_CRDS'),
    kedaCrds: need('KEDA_CRDS'),
  };
}

export interface Schemas {
  /** `-schema-location` of the Kubernetes kinds (kubeconform appends the version and kind). */
  kubernetes: string;
  /** `-schema-location` template of the CRDs: the project's and the Prometheus Operator's. */
  crds: string;
}

/**
 * Kubernetes schemas are cached per release and generator version; CRD schemas are made afresh for
 * each run, so a changed CRD is what gets checked.
 */
export function prepareSchemas(tools: Tools): Schemas {
  const generator = createHash('sha256')
    .update(readFileSync(join(here, 'kube-schemas.ts')))
    .update(tools.swagger)
    .digest('hex')
    .slice(0, 16);
  const kubernetes = join(ROOT, '.cache', 'packaging', 'schemas', `${tools.kubernetesVersion}-${generator}`);
  const marker = join(kubernetes, '.complete');
  if (!existsSync(marker)) {
    const count = writeKubernetesSchemas(tools.swagger, kubernetes, tools.kubernetesVersion);
    if (count < 50) throw new Error(`only ${count} Kubernetes schemas generated from ${tools.swagger}`);
    writeFileSync(marker, `${count}\n`);
  }
  const crdDir = mkdtempSync(join(tmpdir(), 'rmesh-crd-schemas-'));
  const monitoring = ['podmonitors', 'servicemonitors', 'prometheusrules'].map((name) => join(tools.monitoringCrds, `monitoring.coreos.com_${name}.yaml`));
  const projectCrds = readdirSync(join(ROOT, 'crds'))
    .filter((file) => file.endsWith('.yaml'))
    .map((file) => join(ROOT, 'crds', file));
  writeCrdSchemas([...projectCrds, ...monitoring, join(tools.kedaCrds, 'keda.sh_scaledobjects.yaml')], crdDir);
  return { kubernetes, crds: join(crdDir, '{{ .ResourceKind }}{{ .KindSuffix }}.json') };
}

export function run(command: string, args: string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', input, maxBuffer: 256 << 20 });
}

/** Runs helm; throws with its error output when it fails. Helm's notes about followed symlinks are dropped. */
export function helm(tools: Tools, args: string[]): string {
  const result = run(tools.helm, args);
  if (result.status !== 0) throw new Error(`helm ${args.join(' ')} exited ${result.status ?? result.signal}:\n${result.stderr}`);
  return result.stdout;
}

/** `helm template` of the chart with the given --set values (and any extra flags). */
export function template(tools: Tools, sets: Record<string, string | number | boolean> = {}, extra: string[] = []): string {
  const args = ['template', 'rm', CHART, '--namespace', 'rmesh-system', ...extra];
  for (const [key, value] of Object.entries(sets)) args.push('--set', `${key}=${String(value)}`);
  return helm(tools, args);
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** The object of that kind (and name) among rendered objects; throws listing what there is. */
export function find(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? `/${name}` : ''} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}

/** The rules of one document (by name, operator/rbac.ts RBAC_NAMES) of the operator's generated RBAC manifest. */
export function generatedRules(name: string): unknown {
  const docs = parseManifests(readFileSync(join(ROOT, 'config', 'rbac', 'role.yaml'), 'utf8'));
  return (find(docs, name.endsWith('leader-election') ? 'Role' : 'ClusterRole', name) as KubeObject & { rules: unknown }).rules;
}

export function parseManifests(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML: ${doc.errors[0]?.message ?? ''}`);
      return doc.toJS() as KubeObject | null;
    })
    .filter((doc): doc is KubeObject => doc !== null && typeof doc === 'object');
}

export interface Validation {
  valid: string[];
  invalid: string[];
  output: string;
}

/**
 * Validates manifests with kubeconform against the pinned Kubernetes version and the CRDs, strictly
 * (unknown fields are errors) and with no schema missing (a kind without a schema is an error).
 */
export function kubeconform(tools: Tools, schemas: Schemas, manifests: string): Validation {
  const result = run(
    tools.kubeconform,
    [
      '-strict',
      '-verbose',
      '-output', 'json',
      '-kubernetes-version', tools.kubernetesVersion.replace(/^v/, ''),
      '-schema-location', schemas.kubernetes,
      '-schema-location', schemas.crds,
      '-',
    ],
    manifests,
  );
  const output = `${result.stdout}${result.stderr}`;
  let report: { resources?: { kind: string; name: string; status: string; msg?: string }[] };
  try {
    report = JSON.parse(result.stdout) as typeof report;
  } catch {
    throw new Error(`kubeconform did not run (exit ${result.status ?? result.signal}):\n${output}`);
  }
  const resources = report.resources ?? [];
  return {
    valid: resources.filter((r) => r.status === 'statusValid').map((r) => `${r.kind}/${r.name}`),
    invalid: resources.filter((r) => r.status !== 'statusValid').map((r) => `${r.kind}/${r.name}: ${r.status} ${r.msg ?? ''}`),
    output,
  };
}

function tail(text: string, lines = 30): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

/** The tools and the schemas for a test file, provided before its tests (building them the first time takes long). */
export function toolsForTests(): { tools: Tools; schemas: Schemas } {
  const ready = {} as { tools: Tools; schemas: Schemas };
  beforeAll(() => {
    ready.tools = provideTools();
    ready.schemas = prepareSchemas(ready.tools);
  }, 1_800_000);
  return ready;
}
