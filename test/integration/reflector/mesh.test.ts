// A mesh of 4 real reflector processes and 9 real SDK clients: every client receives every other
// sending client's datagrams exactly once and never its own; recvonly and sendonly roles behave;
// admission spreads the clients to nr or nr-1 per reflector.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMesh, stopAll, type ReflectorProcess } from '../../support/reflector-process.js';
import { waitFor } from '../../support/wait.js';
import { closeClients, joinClients, sendRounds, type TestClient } from '../../support/mesh-traffic.js';

const ROLES = ['sendrecv', 'sendrecv', 'sendrecv', 'recvonly', 'sendrecv', 'sendonly', 'sendrecv', 'sendrecv', 'sendrecv'] as const;
const ROUNDS = 100;

// Both engines: the TypeScript one, and auto (the native one when its addon is built).
describe.each([
  'js',
  'auto',
] as const)('a mesh of 4 reflectors and 9 clients (--data-plane %s)', (dataPlane) => {
  let mesh: ReflectorProcess[] = [];
  let clients: TestClient[] = [];

  beforeAll(async () => {
    mesh = await startMesh({ size: 4, addressPrefix: '127.0.1.', common: { dataPlane } });
    // Join through different reflectors: the mesh, not the one asked, decides.
    clients = await joinClients(ROLES.length, (i) => ({
      join: mesh[i % mesh.length]!.controlAddress,
      role: ROLES[i],
      name: `client-${i}`,
      bindAddress: `127.0.1.${100 + i}`,
    }));
  });

  afterAll(async () => {
    closeClients(clients);
    await stopAll(mesh);
  });

  it('spreads the clients so every reflector serves nr or nr-1 (nr = 3)', async () => {
    const counts = await Promise.all(mesh.map(async (r) => (await r.status()).clients.length));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(9);
    for (const c of counts) expect([2, 3]).toContain(c);
    for (const c of clients) expect(c.client.reflectors.map((r) => r.id).sort()).toEqual(mesh.map((r) => r.id).sort());
  });

  it('delivers every datagram exactly once to every other receiving client, never back to its sender', async () => {
    const senders = clients.filter((_, i) => ROLES[i] !== 'recvonly');
    await sendRounds(senders, 0, ROUNDS);
    const receivers = clients.filter((_, i) => ROLES[i] !== 'sendonly');
    await waitFor(() => receivers.every((r) => senders.every((s) => s === r || r.countFrom(s.index) === ROUNDS)), {
      timeoutMs: 10_000,
      what: 'every datagram at every receiver',
    });
    await new Promise((r) => setTimeout(r, 300)); // late duplicates would show now
    for (const r of receivers) {
      expect(r.received.has(r.index), `client ${r.index} got its own datagrams`).toBe(false);
      for (const s of senders) {
        if (s === r) continue;
        expect(r.missingFrom(s.index, 0, ROUNDS), `client ${r.index} from ${s.index}`).toEqual([]);
        expect(r.duplicatesFrom(s.index), `duplicates at ${r.index} from ${s.index}`).toBe(0);
      }
      expect(r.foreign).toEqual([]);
    }
  });

  it('sends nothing to a sendonly client and forwards nothing a recvonly client sends', async () => {
    const sendonly = clients[ROLES.indexOf('sendonly')]!;
    const recvonly = clients[ROLES.indexOf('recvonly')]!;
    expect(sendonly.received.size).toBe(0);
    expect(sendonly.client.stats().datagramsReceived).toBe(0);
    expect(() => recvonly.client.send(Buffer.from('TST!xxxxxxxx'))).toThrow(/recvonly/);
    for (const c of clients) expect(c.received.has(recvonly.index)).toBe(false);
    // The recvonly client stays registered with keep-alives only.
    const statuses = await Promise.all(mesh.map((r) => r.status()));
    const entry = statuses.flatMap((s) => s.clients).find((c) => c.clientId === recvonly.client.clientId);
    expect(entry).toMatchObject({ role: 'recvonly', state: 'active' });
  });

  it('counts what it forwarded', async () => {
    const statuses = await Promise.all(mesh.map((r) => r.status()));
    const sum = (f: (s: (typeof statuses)[number]) => number) => statuses.reduce((n, s) => n + f(s), 0);
    // 8 senders (7 sendrecv, 1 sendonly) x ROUNDS datagrams came in from clients, each copied to the 3 peers.
    expect(sum((s) => s.counters.datagramsIn.client)).toBeGreaterThanOrEqual(8 * ROUNDS);
    expect(sum((s) => s.counters.datagramsOut.peer)).toBe(8 * ROUNDS * 3);
    expect(sum((s) => s.counters.datagramsIn.peer)).toBe(8 * ROUNDS * 3);
    // 8 receivers (7 sendrecv, 1 recvonly): a sendrecv sender reaches the 7 others, the sendonly one all 8.
    expect(sum((s) => s.counters.datagramsOut.client)).toBe((7 * 7 + 8) * ROUNDS);
    for (const s of statuses) expect(s.peers).toHaveLength(3);
  });
});
