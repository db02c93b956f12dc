// A reflector joins a running mesh while every client sends: the mesh hands the newcomer clients
// (make before break) until every reflector serves nr or nr-1, and no datagram is lost on the way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { meshMemberSpec, startMesh, startReflector, stopAll, waitForFullMesh, type ReflectorProcess } from '../../support/reflector-process.js';
import { waitFor } from '../../support/wait.js';
import { closeClients, joinClients, sendRounds, type TestClient } from '../../support/mesh-traffic.js';
import type { MigratedEvent } from '../../../client/mesh-client.js';

const MESH = { size: 3, addressPrefix: '127.0.1.', firstHost: 11 };
const ROUNDS = 800;

describe('a reflector joining a running mesh', () => {
  let mesh: ReflectorProcess[] = [];
  let clients: TestClient[] = [];
  const migrations: MigratedEvent[] = [];

  beforeAll(async () => {
    mesh = await startMesh(MESH);
    clients = await joinClients(9, (i) => ({ join: mesh[i % 3]!.controlAddress, bindAddress: `127.0.1.${120 + i}` }));
    for (const c of clients) c.client.on('migrated', (e) => migrations.push(e));
  });

  afterAll(async () => {
    closeClients(clients);
    await stopAll(mesh);
  });

  it('redistributes the clients to nr or nr-1 per reflector with zero lost datagrams', async () => {
    const before = await Promise.all(mesh.map(async (r) => (await r.status()).clients.length));
    expect(before).toEqual([3, 3, 3]);

    const traffic = sendRounds(clients, 0, ROUNDS, 4);
    await new Promise((r) => setTimeout(r, 500));
    const newcomer = await startReflector(await meshMemberSpec(MESH, 3, mesh[1]!.controlAddress));
    mesh.push(newcomer);
    await waitForFullMesh(mesh);
    await waitFor(
      async () => {
        const counts = await Promise.all(mesh.map(async (r) => (await r.status()).clients.filter((c) => c.state === 'active').length));
        return counts.reduce((a, b) => a + b, 0) === 9 && counts.every((c) => c === 2 || c === 3) && counts[3] === 2;
      },
      { timeoutMs: 10_000, what: 'clients spread as 3/2/2/2' },
    );
    await traffic;
    expect(migrations.length).toBe(2);
    for (const m of migrations) expect(m.to.id).toBe(newcomer.id);

    await waitFor(() => clients.every((r) => clients.every((s) => s === r || r.countFrom(s.index) === ROUNDS)), {
      timeoutMs: 10_000,
      what: 'every datagram at every client',
    }).catch(() => undefined);
    for (const r of clients) {
      expect(r.received.has(r.index)).toBe(false);
      for (const s of clients) if (s !== r) expect(r.missingFrom(s.index, 0, ROUNDS), `lost at ${r.index} from ${s.index}`).toEqual([]);
    }
    const status = await newcomer.status();
    const atNewcomer = clients.filter((c) => c.client.reflector?.id === newcomer.id).map((c) => c.client.clientId);
    expect(status.clients.map((c) => c.clientId).sort()).toEqual(atNewcomer.sort());
    expect(atNewcomer).toHaveLength(2);
  });
});
