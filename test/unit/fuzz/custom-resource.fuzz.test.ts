// The ReflectorMesh spec as the operator reads it (resolveSpec), fed arbitrary objects (fast-check):
// near-valid specs with leaves replaced by any JSON, and any JSON at all. Properties: it never throws
// and never changes its input; a rejected spec has messages naming the field; an accepted one passes
// the schema, keeps the CRD's CEL rules (the API server's checks, which a stale CRD may not have run),
// resolves to itself again, and gives reflector pods whose environment `rmesh reflector` accepts; and
// the reconcile decision over it does not throw.
import fc from 'fast-check';
import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { ReflectorMeshSpecSchema, resolveSpec, type ReflectorMeshSpec } from '../../../operator/api/v1alpha1/index.js';
import { buildReflectorPod } from '../../../operator/controller/pod-template.js';
import { decide } from '../../../operator/controller/decide.js';
import { mesh, observed } from '../operator/fixtures.js';
import { reflectorConfig } from './reflector-config.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KEY_SET_MOUNT_PATH, KEY_SET_SECRET_KEY } from '../../../operator/controller/mesh-key-set-secret.js';

/** Leaves of a resolved spec, with a few optional fields the defaults leave out. */
const BASE = resolveSpec({ replicas: 2 }).spec;
function leaves(value: unknown, path: string[] = []): string[][] {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) return Object.entries(value).flatMap(([k, v]) => leaves(v, [...path, k]));
  return [path];
}
const PATHS = [
  ...leaves(BASE),
  ['capacity', 'maxClients'],
  ['capacity', 'maxClientsPerReflector'],
  ['auth', 'adminTokenSecretRef', 'name'],
  ['auth', 'adminTokenSecretRef'],
  ['placement', 'nodeSelector'],
  ['placement', 'tolerations'],
  ['reflector', 'image'],
  ['reflector', 'resources'],
  ['reflector', 'podLabels'],
  ['replicas'],
];

/** Values worth trying at a leaf: the interesting numbers, strings, and any JSON. */
const leafValue = fc.oneof(
  fc.integer({ min: -2, max: 70000 }),
  fc.constantFrom(0, 1, 1023, 1024, 1025, 65534, 65535, 65536, 0.5, -0.1, 1e308, 2 ** 53),
  fc.double({ noNaN: true }),
  fc.constantFrom('Model', 'External', 'Fixed', 'fixed', '', 'info', 'native', 'js', 'ExternalIP', 'Always', '1', '100m', '1Gi'),
  fc.boolean(),
  fc.jsonValue({ maxDepth: 2 }),
);

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
}

const nearValidSpec = fc
  .tuple(fc.array(fc.tuple(fc.constantFrom(...PATHS), leafValue), { minLength: 0, maxLength: 4 }), fc.boolean(), fc.option(fc.constantFrom('Model', 'External', 'Fixed'), { nil: undefined }))
  .map(([changes, keepReplicas, mode]) => {
    const spec = structuredClone(BASE) as unknown as Record<string, unknown>;
    if (mode) (spec.scaling as Record<string, unknown>).mode = mode;
    if (!keepReplicas || mode === 'Model') delete spec.replicas;
    for (const [path, value] of changes) setPath(spec, path, value);
    return spec;
  });

const anySpec = fc.oneof({ weight: 4, arbitrary: nearValidSpec }, fc.jsonValue({ maxDepth: 3 }), fc.object({ maxDepth: 3 }));

/** The CRD's CEL rules (operator/api/v1alpha1/reflectormesh.ts), on a resolved spec. */
function celViolations(spec: ReflectorMeshSpec): string[] {
  const out: string[] = [];
  if ((spec.scaling.mode === 'Model') === (spec.replicas !== undefined)) out.push('replicas owner');
  if (spec.ports.control === spec.ports.data || (spec.stream.rtp && spec.ports.control === spec.ports.data + 1)) out.push('ports');
  if (spec.scaling.minReplicas > spec.scaling.maxReplicas) out.push('min > max replicas');
  if (spec.timeouts.peerTimeoutMs <= spec.timeouts.keepaliveIntervalMs || spec.timeouts.clientIdleTimeoutMs <= spec.timeouts.keepaliveIntervalMs) out.push('timeouts');
  if (!(spec.stream.bitrateMbps > 0)) out.push('bitrate');
  if (!(spec.capacity.outboundMbps > 0)) out.push('outbound');
  return out;
}

/** The key-set Secret volume as the kubelet would mount it: a file in a folder of the test's own. */
const mountedKeySet = (() => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'rmesh-keyset-')), KEY_SET_SECRET_KEY);
  writeFileSync(file, `current: ${Buffer.alloc(32, 1).toString('base64')}\n`);
  return file;
})();

/** What `rmesh reflector` makes of a pod's environment (valueFrom and volumes filled as the kubelet would). */
async function reflectorAccepts(env: { name: string; value?: string; valueFrom?: unknown }[]): Promise<string | undefined> {
  const fromRefs: Record<string, string> = { RMESH_ID: 'conf-x1', RMESH_ADDRESS: '127.0.9.40', RMESH_ADMIN_TOKEN: 'token', RMESH_MESH_KEY: Buffer.alloc(32, 1).toString('base64') };
  const mounted: Record<string, string> = { [`${KEY_SET_MOUNT_PATH}/${KEY_SET_SECRET_KEY}`]: mountedKeySet };
  const vars = Object.fromEntries(env.map((e) => [e.name, e.value !== undefined ? (mounted[e.value] ?? e.value) : (fromRefs[e.name] ?? 'unknown-ref')]));
  const saved = { ...process.env };
  for (const key of Object.keys(process.env)) if (key.startsWith('RMESH_')) delete process.env[key];
  Object.assign(process.env, vars);
  try {
    await reflectorConfig([], process.env);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  } finally {
    for (const key of Object.keys(process.env)) if (key.startsWith('RMESH_')) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

describe('the ReflectorMesh spec, for any object', () => {
  it('resolves without throwing or touching its input; rejected with messages, accepted within the schema and the CEL rules', async () => {
    await fc.assert(
      fc.asyncProperty(anySpec, async (input) => {
        const before = JSON.stringify(input);
        const { spec, errors } = resolveSpec(input);
        expect(JSON.stringify(input), 'the input is not modified').toBe(before);
        if (errors.length > 0) {
          for (const e of errors) expect(e, before).toMatch(/^spec.*: \S/s);
          return;
        }
        expect(Value.Check(ReflectorMeshSpecSchema, spec), before).toBe(true);
        expect(celViolations(spec), `accepted, but the CRD would refuse it: ${before}`).toEqual([]);
        // Resolving again changes nothing.
        expect(resolveSpec(spec)).toEqual({ spec, errors: [] });
        // The pods it gives run: `rmesh reflector` takes their environment.
        const m = mesh(spec);
        const pod = buildReflectorPod(m, spec, { defaultImage: 'rmesh:test', limits: { maxClients: 10, maxClientsPerReflector: 5 } });
        expect(await reflectorAccepts(pod.spec!.containers[0]!.env ?? []), `a pod of ${before}`).toBeUndefined();
        expect(() => decide(observed({ mesh: m })), before).not.toThrow();
      }),
      { numRuns: 400 },
    );
  }, 60_000);
});

describe('specs the CRD lets through but that resolve badly (found by the fuzzer)', () => {
  it('refuses a keep-alive interval at or above the defaulted peer timeout, and min above the defaulted max replicas', () => {
    // The CEL rules only compare fields that are set; the defaults (peer timeout 5000 ms, max 16) are not.
    expect(resolveSpec({ replicas: 2, timeouts: { keepaliveIntervalMs: 6000 } }).errors).toEqual([
      expect.stringMatching(/^spec\.timeouts\.peerTimeoutMs: .*longer than timeouts\.keepaliveIntervalMs/),
    ]);
    expect(resolveSpec({ replicas: 2, scaling: { minReplicas: 20 } }).errors).toEqual([expect.stringMatching(/^spec\.scaling\.minReplicas: /)]);
    expect(resolveSpec({ scaling: { mode: 'Fixed' } }).errors).toEqual([expect.stringMatching(/^spec\.replicas: .*one owner/)]);
    expect(resolveSpec({ replicas: 2, timeouts: { keepaliveIntervalMs: 2000 } }).errors).toEqual([]);
  });
});
