// The autoscaling metrics (docs/metrics.md) on real reflector processes: two reflectors with the
// operator's budget (--budget-streams 20) and real clients joining; every reflector exports the mesh's
// free client slots and capacity utilisation, and they follow the clients. Addresses 127.0.13.x.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeClients, joinClients, type TestClient } from '../../support/mesh-traffic.js';
import { parsePrometheusText, sampleValue } from '../../support/prometheus-text.js';
import { reflectorPorts, startMesh, startReflector, stopAll, type ReflectorProcess } from '../../support/reflector-process.js';
import { waitFor } from '../../support/wait.js';

let mesh: ReflectorProcess[] = [];
let unbudgeted: ReflectorProcess | undefined;
const clients: TestClient[] = [];

async function scrape(r: ReflectorProcess): Promise<{ free: number; utilisation: number }> {
  const families = parsePrometheusText(await (await fetch(r.url('/metrics'))).text());
  return { free: sampleValue(families, 'rmesh_mesh_free_client_slots'), utilisation: sampleValue(families, 'rmesh_mesh_capacity_utilisation') };
}

beforeAll(async () => {
  mesh = await startMesh({ size: 2, addressPrefix: '127.0.13.', common: { extraArgs: ['--budget-streams', '20'] } });
  unbudgeted = await startReflector({ address: '127.0.13.9', ...(await reflectorPorts()) });
}, 60_000);

afterAll(async () => {
  closeClients(clients);
  await stopAll([...mesh, ...(unbudgeted ? [unbudgeted] : [])]);
});

describe('mesh capacity metrics on real reflectors', () => {
  it('an empty mesh of 2 with a 20-stream budget has 6 free slots (nr·(m+n−2) <= 20) and no load', async () => {
    for (const r of mesh) expect(await scrape(r)).toEqual({ free: 6, utilisation: 0 });
  });

  it('both reflectors follow the clients as they join: 3 clients leave 3 slots at 2·3/20 = 0.3', async () => {
    clients.push(...(await joinClients(3, (i) => ({ join: mesh[i % 2]!.controlAddress, bindAddress: `127.0.13.${20 + i}` }))));
    // A reflector learns its peer's count from the peer's keep-alives.
    await waitFor(async () => (await Promise.all(mesh.map(scrape))).every((s) => s.free === 3), { timeoutMs: 10_000, what: 'free slots 3 at both reflectors' });
    for (const r of mesh) expect(await scrape(r)).toEqual({ free: 3, utilisation: 0.3 });
  });

  it('a full mesh shows 0 free slots at 18/20 = 0.9', async () => {
    clients.push(...(await joinClients(3, (i) => ({ join: mesh[i % 2]!.controlAddress, bindAddress: `127.0.13.${30 + i}` }))));
    await waitFor(async () => (await Promise.all(mesh.map(scrape))).every((s) => s.free === 0), { timeoutMs: 10_000, what: 'free slots 0 at both reflectors' });
    // 6 clients on 2: nr = 3, 3·(2+6−2) = 18 of 20 streams.
    for (const r of mesh) expect(await scrape(r)).toEqual({ free: 0, utilisation: 0.9 });
  });

  it('a reflector given no budget exports neither, rather than a made-up number', async () => {
    const families = parsePrometheusText(await (await fetch(unbudgeted!.url('/metrics'))).text());
    expect(families.has('rmesh_clients')).toBe(true);
    expect(families.has('rmesh_mesh_free_client_slots')).toBe(false);
    expect(families.has('rmesh_mesh_capacity_utilisation')).toBe(false);
  });
});
