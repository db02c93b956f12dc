// The operator rotates a mesh's key across real reflectors under traffic (docs/security.md "Rotating the
// mesh key"): the rmesh.io/rotate-mesh-key annotation makes a new generated key, the operator publishes
// the three steps into the key-set Secret the pods mount (the in-memory kubelet rewrites the mounted
// file, the reflectors read it within a second), each step once every reflector reports the one before;
// no pod is replaced, no datagram lost, a token minted with the old key joins during the overlap and is
// refused after it.
import { describe, expect, it } from 'vitest';
import { OVERLAP_ANNOTATION, ROTATE_ANNOTATION } from '../../../operator/controller/mesh-key-set-secret.js';
import { closeClients, joinClients, lossReport, steadyTraffic, type TestClient } from '../../support/mesh-traffic.js';
import { waitFor } from '../../support/wait.js';
import { controllerLoopFor, MESH_KEY } from './controller-loop.js';

const NODES = ['127.0.12.11', '127.0.12.12', '127.0.12.13'];

describe('the operator rotates the mesh key of running reflectors', () => {
  let clients: TestClient[] = [];
  const operator = controllerLoopFor(
    { nodes: NODES },
    {
      replicas: 3,
      reflector: { dataPlane: 'native' },
    },
    () => closeClients(clients),
  );
  const { cluster } = operator;

  const steps = () => cluster.events.filter((e) => e.reason === 'MeshKeyRotation').map((e) => e.message!.slice(0, 11));
  const join = async (token: string): Promise<number> => {
    const r = await fetch(`http://${NODES[0]}:${operator.controlPort}/v1/join`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ role: 'recvonly' }),
    });
    await r.body?.cancel();
    return r.status;
  };
  const keysOf = async () =>
    Promise.all(operator.podNames().map(async (n) => (await operator.adminGet<{ meshKeys?: { current: string; accepted: string[] } }>(operator.reflectorOf(n), '/v1/status')).meshKeys));

  it('moves every reflector to a new key in three steps, without a restart or a lost datagram', async () => {
    await operator.waitReady();
    const pods = operator.podNames().sort();
    const oldToken = operator.clientToken();
    const before = await keysOf();
    expect(new Set(before.map((k) => JSON.stringify(k))).size).toBe(1);
    clients = await joinClients(3, (i) => ({ token: oldToken, join: `${NODES[i]}:${operator.controlPort}`, bindAddress: `127.0.12.${120 + i}` }));
    const traffic = steadyTraffic(clients);
    await waitFor(() => traffic.sent > 50, { what: 'traffic flowing' });

    const mesh = cluster.mesh(MESH_KEY);
    mesh.metadata.annotations = { [ROTATE_ANNOTATION]: 'now', [OVERLAP_ANNOTATION]: '4' };
    await waitFor(() => steps().includes('step 2 of 3'), { timeoutMs: 60_000, what: `step 2 (${steps().join(', ')}; ${operator.lastError})` });
    const overlap = await join(oldToken); // inside the overlap: the old key still verifies
    await waitFor(() => steps().includes('step 3 of 3'), { timeoutMs: 60_000, what: `step 3 (${steps().join(', ')}; ${operator.lastError})` });
    expect(overlap).toBe(201);
    expect(steps()).toEqual(['step 1 of 3', 'step 2 of 3', 'step 3 of 3']);
    await waitFor(async () => (await keysOf()).every((k) => k?.accepted.length === 0 && k.current !== before[0]!.current), { timeoutMs: 10_000, what: 'every reflector on the new key alone' });
    expect(await join(oldToken)).toBe(401);
    expect(await join(operator.clientToken())).toBe(201);

    const sentAfter = traffic.sent;
    await waitFor(() => traffic.sent > sentAfter + 50, { what: 'traffic on the new key' });
    const n = await traffic.stop();
    await waitFor(() => lossReport(clients, n).length === 0, { timeoutMs: 5000, what: 'every datagram delivered' }).catch((err: Error) => {
      throw new Error(`${err.message}: ${lossReport(clients, n).join('; ')}`);
    });
    expect(operator.podNames().sort()).toEqual(pods); // no pod replaced
    for (const name of pods) {
      const status = await operator.adminGet<{ counters: { dropped: Record<string, number> } }>(operator.reflectorOf(name), '/v1/status');
      expect(status.counters.dropped).toMatchObject({ bad_peer_tag: 0, replay: 0 });
    }
  });
});
