// SIGTERM of a reflector whose clients have no peer to go to yet, while one is on its way: a disruption
// budget counts a replacement pod once it is Ready, which can be before the operator has wired it in,
// and then lets the next eviction through (a kubectl drain of two nodes at once did that on a real
// cluster). The reflector waits a while for a peer (reflector/drain.ts, SHUTDOWN_PEER_WAIT_MS) and hands
// its clients to the one that comes, make before break: no failover.
import { afterAll, describe, expect, it } from 'vitest';
import { meshMemberSpec, startMesh, startReflector, stopAll, type ReflectorProcess } from '../../support/reflector-process.js';
import { closeClients, joinClients, type TestClient } from '../../support/mesh-traffic.js';
import { sleep, waitFor } from '../../support/wait.js';

describe('SIGTERM with clients and no peer to take them', () => {
  let mesh: ReflectorProcess[] = [];
  let clients: TestClient[] = [];

  afterAll(async () => {
    closeClients(clients);
    await stopAll(mesh);
  });

  it('waits for a peer that comes, and hands its clients over to it', async () => {
    mesh = await startMesh({ size: 2, addressPrefix: '127.0.1.', firstHost: 71 });
    const [a, b] = mesh as [ReflectorProcess, ReflectorProcess];
    clients = await joinClients(3, (i) => ({ join: a.controlAddress, bindAddress: `127.0.1.${200 + i}` }));
    const failovers: unknown[] = [];
    for (const c of clients) c.client.on('failover', (e) => failovers.push(e));
    // b leaves (its clients move to a): a is alone, after having been in a mesh.
    expect(await b.stop()).toEqual({ code: 0, signal: null });
    await waitFor(() => clients.every((c) => c.client.reflector?.id === a.id), { timeoutMs: 5000, what: 'every client at a' });
    const exit = a.stop();
    await sleep(1000);
    // The replacement comes, and meets a (as the operator's peer list would make it).
    const c = await startReflector(await meshMemberSpec({ size: 1, addressPrefix: '127.0.1.', firstHost: 73 }, 0, a.controlAddress));
    mesh.push(c);
    expect(await exit).toEqual({ code: 0, signal: null });
    expect(clients.map((x) => x.client.reflector?.id)).toEqual(clients.map(() => c.id));
    expect(failovers).toEqual([]);
  });
});
