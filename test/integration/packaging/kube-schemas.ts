// Turns the Kubernetes OpenAPI (swagger.json of the pinned release) and CustomResourceDefinitions into
// the strict, standalone JSON schemas kubeconform reads, so manifests are validated offline against
// exactly the pinned Kubernetes version and the project's own CRD. It follows what kubeconform's
// openapi2jsonschema does: objects with properties reject unknown fields (as the API server's strict
// field validation does), int-or-string fields take both, and each file holds every definition it needs.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

const DEFINITIONS_REF = '#/definitions/';
const INT_OR_STRING = 'io.k8s.apimachinery.pkg.util.intstr.IntOrString';
const QUANTITY = 'io.k8s.apimachinery.pkg.api.resource.Quantity';

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** kubeconform's file name for a kind: `deployment-apps-v1.json`, `configmap-v1.json`, `role-rbac-v1.json`. */
export function schemaFileName({ group, version, kind }: GroupVersionKind): string {
  const suffix = group === '' ? `-${version}` : `-${group.split('.')[0]}-${version}`;
  return `${kind.toLowerCase()}${suffix}.json`.toLowerCase();
}

/** Deep copy with additionalProperties: false on every object that lists properties and allows no others. */
function strict(node: Json, preserveUnknown = false): Json {
  if (Array.isArray(node)) return node.map((item) => strict(item));
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  const keepsUnknown = preserveUnknown || node['x-kubernetes-preserve-unknown-fields'] === true;
  for (const [key, value] of Object.entries(node)) {
    // The keys of `properties` are field names, not schemas: descend into each value.
    if (key === 'properties' && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, strict(schema)]));
    } else {
      out[key] = strict(value);
    }
  }
  if (isObject(node.properties) && !('additionalProperties' in node) && !keepsUnknown) {
    out.additionalProperties = false;
  }
  return out;
}

/** The names of the definitions `node` refers to, directly. */
function refsOf(node: Json, found: Set<string>): Set<string> {
  if (Array.isArray(node)) for (const item of node) refsOf(item, found);
  else if (isObject(node)) {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string' && value.startsWith(DEFINITIONS_REF)) {
        found.add(value.slice(DEFINITIONS_REF.length));
      } else refsOf(value, found);
    }
  }
  return found;
}

/** Every definition `root` needs, transitively. */
function closure(root: string, definitions: Record<string, Json>): string[] {
  const seen = new Set<string>([root]);
  const queue = [root];
  while (queue.length > 0) {
    const name = queue.pop() as string;
    for (const ref of refsOf(definitions[name] ?? null, new Set())) {
      if (!seen.has(ref)) {
        seen.add(ref);
        queue.push(ref);
      }
    }
  }
  return [...seen];
}

/** The definitions of swagger.json, with Kubernetes' special string types made acceptable as YAML writes them. */
function kubernetesDefinitions(swaggerPath: string): Record<string, Json> {
  const swagger = JSON.parse(readFileSync(swaggerPath, 'utf8')) as { definitions?: Record<string, Json> };
  if (!isObject(swagger.definitions ?? null)) throw new Error(`${swaggerPath} has no definitions: is it a Kubernetes swagger.json?`);
  const definitions = { ...(swagger.definitions as Record<string, Json>) };
  // `port: 8080` and `port: http`; `cpu: 1` and `cpu: 500m`: YAML writes numbers where the API takes strings.
  definitions[INT_OR_STRING] = { oneOf: [{ type: 'string' }, { type: 'integer' }] };
  definitions[QUANTITY] = { oneOf: [{ type: 'string' }, { type: 'number' }] };
  return definitions;
}

/**
 * Writes a strict standalone schema per kind of the Kubernetes API into
 * `<outDir>/v<version>-standalone-strict/`, the layout `kubeconform -schema-location <outDir>
 * -kubernetes-version <version> -strict` looks up. Returns the number of files written.
 */
export function writeKubernetesSchemas(swaggerPath: string, outDir: string, kubernetesVersion: string): number {
  const definitions = kubernetesDefinitions(swaggerPath);
  const dir = join(outDir, `v${kubernetesVersion.replace(/^v/, '')}-standalone-strict`);
  mkdirSync(dir, { recursive: true });
  const written = new Set<string>();
  for (const [name, definition] of Object.entries(definitions)) {
    if (!isObject(definition)) continue;
    const kinds = definition['x-kubernetes-group-version-kind'];
    if (!Array.isArray(kinds)) continue;
    // meta/v1 DeleteOptions and WatchEvent claim every group; they are never manifests.
    if (kinds.length > 1) continue;
    for (const gvk of kinds) {
      const file = schemaFileName(gvk as unknown as GroupVersionKind);
      if (written.has(file)) continue;
      const needed = closure(name, definitions).filter((n) => n !== name);
      const schema = strict({
        ...definition,
        definitions: Object.fromEntries(needed.map((n) => [n, definitions[n] ?? {}])),
      }) as JsonObject;
      // The definitions map itself is not an object schema: it must not reject anything.
      if (isObject(schema.definitions ?? null)) delete (schema.definitions as JsonObject).additionalProperties;
      writeFileSync(join(dir, file), JSON.stringify(schema));
      written.add(file);
    }
  }
  return written.size;
}

/** Converts a CRD version's openAPIV3Schema: nullable and int-or-string as JSON Schema says them. */
function fromOpenApiV3(node: Json): Json {
  if (Array.isArray(node)) return node.map(fromOpenApiV3);
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'properties' && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, schema]) => [name, fromOpenApiV3(schema)]));
    } else {
      out[key] = fromOpenApiV3(value);
    }
  }
  if (node['x-kubernetes-int-or-string'] === true && !('anyOf' in node) && !('oneOf' in node)) {
    out.oneOf = [{ type: 'string' }, { type: 'integer' }];
  }
  if (node.nullable === true && typeof node.type === 'string') out.type = [node.type, 'null'];
  return out;
}

/**
 * Writes a strict schema per served version of every CustomResourceDefinition in `crdFiles` into
 * `outDir/<kind>-<group>-<version>.json` (kubeconform: `-schema-location
 * '<outDir>/{{ .ResourceKind }}{{ .KindSuffix }}.json'`). Returns the file names written.
 */
export function writeCrdSchemas(crdFiles: string[], outDir: string): string[] {
  mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const path of crdFiles) {
    for (const doc of parseAllDocuments(readFileSync(path, 'utf8'))) {
      if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
      const crd = doc.toJS() as JsonObject | null;
      if (!crd || crd.kind !== 'CustomResourceDefinition') continue;
      const spec = crd.spec as JsonObject;
      const kind = (spec.names as JsonObject).kind as string;
      const group = spec.group as string;
      for (const version of spec.versions as JsonObject[]) {
        if (version.served === false) continue;
        const openApi = (version.schema as JsonObject | undefined)?.openAPIV3Schema;
        if (!isObject(openApi ?? null)) throw new Error(`${path}: ${kind} ${JSON.stringify(version.name)} has no openAPIV3Schema`);
        const file = schemaFileName({ group, version: version.name as string, kind });
        writeFileSync(join(outDir, file), JSON.stringify(strict(fromOpenApiV3(openApi as Json))));
        written.push(file);
      }
    }
  }
  if (written.length === 0) throw new Error(`no CustomResourceDefinition found in ${crdFiles.join(', ')}`);
  return written;
}
