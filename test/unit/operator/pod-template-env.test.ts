// The environment the operator gives reflector pods is made from the reflector's settings table
// (protocol/settings.ts): it sets no variable the reflector does not read, every value it sets parses
// as that setting, and it names the mesh (RMESH_MESH_NAME), so tokens for another mesh are refused.
import { describe, expect, it } from 'vitest';
import { resolveSpec } from '../../../operator/api/v1alpha1/index.js';
import { buildReflectorPod } from '../../../operator/controller/pod-template.js';
import { REFLECTOR_SETTINGS, reflectorEnvNames } from '../../../protocol/settings.js';
import { mesh } from './fixtures.js';

/** A mesh that sets as much as the spec can: RTP, limits, an admin token, explicit capacity, a node (ExternalIP). */
function fullPod() {
  const m = mesh({
    replicas: 2,
    stream: { rtp: true },
    capacity: { maxClientsPerReflector: 8 },
    limits: { clientRateFactor: 2, clientBurstMs: 500, apiRequestsPerSecond: 30, apiBurst: 60 },
    auth: { adminTokenSecretRef: { name: 'admin', key: 'token' } },
  });
  return buildReflectorPod(m, resolveSpec(m.spec).spec, { defaultImage: 'rmesh:test', limits: { maxClients: 40 }, node: { name: 'node-1', address: '192.0.2.7' } });
}

const byEnv = new Map(Object.values(REFLECTOR_SETTINGS).map((s) => [s.env as string, s]));

describe('the reflector pod environment', () => {
  it('sets only variables of the settings table (every RMESH_* the operator sets is a setting)', () => {
    const env = fullPod().spec!.containers[0]!.env!;
    expect(env.length).toBeGreaterThanOrEqual(18);
    const known = new Set(reflectorEnvNames());
    for (const e of env) expect(known.has(e.name), `${e.name} is not a setting of protocol/settings.ts`).toBe(true);
    expect(new Set(env.map((e) => e.name)).size).toBe(env.length);
  });

  it('gives values each setting\'s parser accepts', () => {
    for (const e of fullPod().spec!.containers[0]!.env!) {
      if (e.value === undefined) continue; // from the downward API or a Secret
      const setting = byEnv.get(e.name)!;
      expect(() => setting.parse?.(e.value!), `${e.name}=${e.value}`).not.toThrow();
    }
  });

  it('names the mesh, so the reflectors take only tokens for it', () => {
    const env = Object.fromEntries(fullPod().spec!.containers[0]!.env!.map((e) => [e.name, e.value]));
    expect(env.RMESH_MESH_NAME).toBe('conf');
  });

  it('makes every pod wait for the operator\'s peer list before it is Ready (phases/wire.ts sends it)', () => {
    const env = Object.fromEntries(fullPod().spec!.containers[0]!.env!.map((e) => [e.name, e.value]));
    expect(env.RMESH_AWAIT_PEER_LIST).toBe('true');
  });
});
