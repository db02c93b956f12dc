// Only authenticated datagrams keep a session alive (docs/security.md "Liveness"), on both data planes:
// a client that falls silent is purged on time even while an attacker sends 8-byte "RMSH" datagrams (the
// control magic, no valid tag) from the client's very address and port; before, either engine took them
// as a sign of life and the session, with its share of the mesh, lived on for ever.
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_TIMINGS, reflectorPorts, startReflector, stopAll, type ReflectorProcess } from '../../support/reflector-process.js';
import { sleep, waitFor } from '../../support/wait.js';
import { testClientToken } from '../../support/client-tokens.js';
import { MeshClient } from '../../../client/mesh-client.js';

describe.each(['js', 'native'] as const)('liveness under spoofed control datagrams, %s data plane', (dataPlane) => {
  const host = dataPlane === 'js' ? 10 : 20;
  const addr = (i: number) => `127.0.42.${host + i}`;
  let reflector: ReflectorProcess;

  beforeAll(async () => {
    reflector = await startReflector({ address: addr(0), ...(await reflectorPorts()), dataPlane, ...FAST_TIMINGS });
    expect((await reflector.status()).dataPlane).toBe(dataPlane);
  });

  afterAll(async () => {
    await stopAll([reflector]);
  });

  const holds = async (id: string | undefined) => (await reflector.status()).clients.some((c) => c.clientId === id);

  it('purges a silent client while garbage "RMSH" arrives from its address', async () => {
    const client = new MeshClient({ join: reflector.controlAddress, bindAddress: addr(1), token: testClientToken() });
    client.on('warning', () => undefined);
    await client.join();
    const id = client.clientId;
    const endpoint = client.localEndpoints[0]!;
    expect(await holds(id)).toBe(true);
    client.close(); // silent from now on: no leave, no keep-alives
    // The attacker takes over the client's address and port and sends the magic with no valid tag.
    const spoofer = dgram.createSocket('udp4');
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          spoofer.once('error', () => resolve(false));
          spoofer.bind(endpoint.port, endpoint.address, () => resolve(true));
        }),
      { what: `the client's address ${endpoint.address}:${endpoint.port} to be free` },
    );
    const garbage = Buffer.from('RMSH\x01\x02\x03\x04', 'latin1');
    const malformedBefore = (await reflector.status()).counters.dropped.malformed ?? 0;
    let sent = 0;
    const flood = setInterval(() => {
      sent++;
      spoofer.send(garbage, reflector.spec.dataPort, addr(0));
    }, 50);
    try {
      const started = Date.now();
      // The idle timeout is 1.5 s; the purge timer runs every 375 ms.
      await waitFor(async () => !(await holds(id)), { timeoutMs: 6000, what: 'the silent client purged despite the garbage' });
      expect(Date.now() - started).toBeLessThan(4000);
      expect(sent).toBeGreaterThan(10);
      // Every one of them was looked at and dropped as malformed, none taken for life.
      expect((await reflector.status()).counters.dropped.malformed ?? 0).toBeGreaterThanOrEqual(malformedBefore + 10);
    } finally {
      clearInterval(flood);
      spoofer.close();
    }
  });

  it('keeps a client alive by its authenticated keep-alives alone (the same wait does not purge it)', async () => {
    const listener = new MeshClient({ join: reflector.controlAddress, role: 'recvonly', bindAddress: addr(2), token: testClientToken() });
    listener.on('warning', () => undefined);
    await listener.join();
    await sleep(3000); // twice the idle timeout, no data: only its tagged keep-alives
    expect(await holds(listener.clientId)).toBe(true);
    await listener.leave();
  });
});
