// The generated manifests are committed and current, and the CRD schema is structural (the API
// server rejects a CRD whose schema is not), with a description on every field.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildCrd, resolveSpec } from '../../../operator/api/v1alpha1/index.js';
import { manifests } from '../../../operator/manifests.js';
import { buildRbac, CLUSTER_RULES, CONTROLLER_RULES, RBAC_NAMES } from '../../../operator/rbac.js';

const root = join(import.meta.dirname, '..', '..', '..');

const ALLOWED = new Set([
  'description', 'type', 'format', 'title', 'default', 'maximum', 'exclusiveMaximum', 'minimum', 'exclusiveMinimum',
  'maxLength', 'minLength', 'pattern', 'maxItems', 'minItems', 'uniqueItems', 'multipleOf', 'enum', 'maxProperties',
  'minProperties', 'required', 'items', 'allOf', 'oneOf', 'anyOf', 'not', 'properties', 'additionalProperties',
  'nullable', 'example', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-embedded-resource',
  'x-kubernetes-int-or-string', 'x-kubernetes-list-map-keys', 'x-kubernetes-list-type', 'x-kubernetes-map-type',
  'x-kubernetes-validations',
]);

type Node = Record<string, unknown>;

/** Problems that make a schema non-structural, each with the path of the offending node. */
function structuralProblems(node: Node, path: string, problems: string[] = []): string[] {
  for (const key of Object.keys(node)) if (!ALLOWED.has(key)) problems.push(`${path}: keyword ${key} is not allowed`);
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  if (typeof node.type !== 'string' && !intOrString && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    problems.push(`${path}: no type`);
  }
  if (node.anyOf !== undefined && !intOrString) problems.push(`${path}: anyOf outside int-or-string`);
  if (node.oneOf !== undefined || node.allOf !== undefined || node.not !== undefined) problems.push(`${path}: junctor`);
  if (node.properties !== undefined && node.additionalProperties !== undefined) problems.push(`${path}: properties and additionalProperties`);
  if (node.properties !== undefined && node.type !== 'object') problems.push(`${path}: properties on a non-object`);
  if (node.exclusiveMinimum !== undefined && typeof node.exclusiveMinimum !== 'boolean') problems.push(`${path}: numeric exclusiveMinimum`);
  if (node.enum !== undefined && node.type !== 'string') problems.push(`${path}: enum without type string`);
  if (node.required !== undefined) {
    for (const key of node.required as string[]) {
      if (!(node.properties as Node | undefined)?.[key]) problems.push(`${path}: required ${key} is not a property`);
    }
  }
  for (const [key, child] of Object.entries((node.properties as Record<string, Node> | undefined) ?? {})) {
    structuralProblems(child, `${path}.${key}`, problems);
  }
  if (node.items) structuralProblems(node.items as Node, `${path}[]`, problems);
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    structuralProblems(node.additionalProperties as Node, `${path}{}`, problems);
  }
  return problems;
}

function undocumented(node: Node, path: string, out: string[] = []): string[] {
  for (const [key, child] of Object.entries((node.properties as Record<string, Node> | undefined) ?? {})) {
    if (path !== '' && typeof child.description !== 'string') out.push(`${path}.${key}`);
    undocumented(child, path === '' && (key === 'metadata' || key === 'apiVersion' || key === 'kind') ? '' : `${path}.${key}`, out);
  }
  if (node.items) undocumented(node.items as Node, `${path}[]`, out);
  return out;
}

function openApiSchema(): Node {
  const crd = buildCrd() as { spec: { versions: { schema: { openAPIV3Schema: Node } }[] } };
  return crd.spec.versions[0]!.schema.openAPIV3Schema;
}

describe('generated manifests', () => {
  it.each(Object.entries(manifests()))('%s is committed and current (run npm run generate:manifests)', (path, text) => {
    expect(readFileSync(join(root, path), 'utf8')).toBe(text);
  });

  it('the committed CRD parses back to the built object', () => {
    expect(parse(readFileSync(join(root, 'crds/rmesh.io_reflectormeshes.yaml'), 'utf8'))).toEqual(buildCrd());
  });
});

describe('CRD schema', () => {
  it('is structural', () => {
    expect(structuralProblems(openApiSchema(), '')).toEqual([]);
  });

  it('the check catches what the API server rejects', () => {
    const bad: Node = {
      type: 'object',
      properties: { a: { anyOf: [{ type: 'string', const: 'x' }] }, b: { type: 'object', patternProperties: {} } },
    };
    expect(structuralProblems(bad, '')).toEqual([
      '.a: no type',
      '.a: anyOf outside int-or-string',
      '.b: keyword patternProperties is not allowed',
    ]);
  });

  it('describes every field', () => {
    expect(undocumented(openApiSchema(), '')).toEqual([]);
  });

  it('has the scale subresource on a string selector in status', () => {
    const crd = buildCrd() as { spec: { versions: { subresources: unknown }[] } };
    expect(crd.spec.versions[0]!.subresources).toEqual({
      status: {},
      scale: { specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.replicas', labelSelectorPath: '.status.selector' },
    });
    const status = openApiSchema().properties as Record<string, Node>;
    expect((status.status!.properties as Record<string, Node>).selector!.type).toBe('string');
  });

  it('does not require fields that have defaults', () => {
    const spec = (openApiSchema().properties as Record<string, Node>).spec!;
    expect(spec.required).toBeUndefined();
  });
});

describe('resolveSpec', () => {
  it('fills every default into a minimal spec', () => {
    const { spec, errors } = resolveSpec({ replicas: 2 });
    expect(errors).toEqual([]);
    expect(spec.scaling).toEqual({ mode: 'Fixed', minReplicas: 1, maxReplicas: 16, scaleDownDelaySeconds: 300, scaleDown: { maxRemovedPerPeriod: 1, periodSeconds: 15 } });
    expect(spec.ports).toEqual({ data: 5004, control: 7400 });
    expect(spec.stream.rtp).toBe(true);
    expect(spec.placement.onePerNode).toBe(true);
  });

  it('names the field that is out of range', () => {
    const { errors } = resolveSpec({ replicas: 2, ports: { data: 70000 } });
    expect(errors.join('\n')).toContain('spec.ports.data');
  });

  it('rejects an unknown scaling mode', () => {
    const { errors } = resolveSpec({ scaling: { mode: 'Sometimes' } });
    expect(errors.join('\n')).toContain('spec.scaling.mode');
  });
});

describe('RBAC', () => {
  it('grants update on the meshes\' finalizers, which owner references with blockOwnerDeletion need under OwnerReferencesPermissionEnforcement', () => {
    expect(CONTROLLER_RULES).toContainEqual({ apiGroups: ['rmesh.io'], resources: ['reflectormeshes/finalizers'], verbs: ['update'] });
  });

  it('keeps nodes (cluster-scoped, read by an informer) out of the namespaced rules, in a ClusterRole of their own', () => {
    expect(CONTROLLER_RULES.flatMap((r) => r.resources)).not.toContain('nodes');
    expect(CLUSTER_RULES).toEqual([{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] }]);
    const docs = buildRbac() as { kind: string; metadata: { name: string }; rules: unknown }[];
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual([
      `ClusterRole/${RBAC_NAMES.controller}`,
      `ClusterRole/${RBAC_NAMES.cluster}`,
      `Role/${RBAC_NAMES.leaderElection}`,
    ]);
    expect(docs[1]?.rules).toBe(CLUSTER_RULES);
  });
});
