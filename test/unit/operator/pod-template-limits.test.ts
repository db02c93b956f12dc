// The per-client rate limit a mesh gives its reflectors (docs/security.md, Limits): by default twice the
// stream's bitrate and packet rate with a 500 ms burst, explicit values instead, off at factor 0; the
// values are ones `rmesh reflector` accepts, and changing them rolls the pods (template hash).
import { describe, expect, it } from 'vitest';
import { resolveSpec, type ReflectorMeshSpec } from '../../../operator/api/v1alpha1/index.js';
import { buildReflectorPod, clientRateLimit, desiredTemplateHash } from '../../../operator/controller/pod-template.js';
import { mesh } from './fixtures.js';

type Limits = NonNullable<ReflectorMeshSpec['limits']>;
/** spec.limits as a test writes it: the schema fills in the rest. */
const limits = (l: Partial<Limits>): Limits => l as Limits;

function envFor(spec: Parameters<typeof mesh>[0]): Record<string, string | undefined> {
  const m = mesh(spec);
  const pod = buildReflectorPod(m, resolveSpec(m.spec).spec, { defaultImage: 'rmesh:test' });
  return Object.fromEntries(pod.spec!.containers[0]!.env!.map((e) => [e.name, e.value]));
}

describe('per-client rate limit of the reflector pods', () => {
  it('defaults to twice the stream: 2 Mbit/s of 1200-byte datagrams gives 4 Mbit/s and 417 datagrams/s', () => {
    const env = envFor({ replicas: 2 });
    expect(env).toMatchObject({ RMESH_MAX_CLIENT_BITRATE: '4000000', RMESH_MAX_CLIENT_PPS: '417', RMESH_MAX_CLIENT_BURST: '500ms' });
  });

  it('follows the stream and the factor', () => {
    const env = envFor({ replicas: 2, stream: { bitrateMbps: 30, packetSizeBytes: 1400 }, limits: limits({ clientRateFactor: 1.5, clientBurstMs: 250 }) });
    expect(env).toMatchObject({ RMESH_MAX_CLIENT_BITRATE: '45000000', RMESH_MAX_CLIENT_PPS: String(Math.ceil(45e6 / (8 * 1400))), RMESH_MAX_CLIENT_BURST: '250ms' });
  });

  it('takes explicit values, and 0 turns one limit off', () => {
    expect(envFor({ replicas: 2, limits: limits({ clientBitrateMbps: 10, clientPacketsPerSecond: 0 }) })).toMatchObject({ RMESH_MAX_CLIENT_BITRATE: '10000000', RMESH_MAX_CLIENT_PPS: '0' });
  });

  it('sets nothing with clientRateFactor 0', () => {
    const env = envFor({ replicas: 2, limits: limits({ clientRateFactor: 0 }) });
    expect(env.RMESH_MAX_CLIENT_BITRATE).toBeUndefined();
    expect(env.RMESH_MAX_CLIENT_PPS).toBeUndefined();
  });

  it('applies the defaults to an object without spec.limits (created before the field existed)', () => {
    const spec = resolveSpec(mesh({ replicas: 2 }).spec).spec;
    delete (spec as { limits?: unknown }).limits;
    expect(clientRateLimit(spec)).toEqual({ bitsPerSecond: 4_000_000, packetsPerSecond: 417, burstMs: 500 });
  });

  it('leaves the control API limit to the reflector unless the mesh sets it', () => {
    const plain = envFor({ replicas: 2 });
    expect(plain.RMESH_API_RATE_LIMIT).toBeUndefined();
    expect(plain.RMESH_API_RATE_BURST).toBeUndefined();
    expect(envFor({ replicas: 2, limits: limits({ apiRequestsPerSecond: 200, apiBurst: 1000 }) })).toMatchObject({ RMESH_API_RATE_LIMIT: '200', RMESH_API_RATE_BURST: '1000' });
  });

  it('rolls the pods when the limit changes', () => {
    const a = mesh({ replicas: 2 });
    const b = mesh({ replicas: 2, limits: limits({ clientRateFactor: 3 }) });
    expect(desiredTemplateHash(a, resolveSpec(a.spec).spec, 'img')).not.toBe(desiredTemplateHash(b, resolveSpec(b.spec).spec, 'img'));
  });

  it('is refused by the schema when negative', () => {
    expect(resolveSpec(mesh({ replicas: 2, limits: limits({ clientRateFactor: -1 }) }).spec).errors.join(' ')).toMatch(/clientRateFactor/);
  });
});
