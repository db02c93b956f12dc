// Per-client limits in both data-plane engines, with real UDP sockets (docs/security.md "Limits"): the
// rate limit drops a flooding client's excess before fan-out (nothing reaches receivers or peers) and
// counts it as rate_limited, a client within its rate loses nothing, oversized datagrams are dropped per
// datagram and counted, and a table change does not refill a client's bucket.
import { describe, expect, it } from 'vitest';
import type { ClientRateLimit } from '../../../reflector/mirror/engine.js';
import { loadNativeMirror } from '../../../reflector/native/addon.js';
import { client, engineFixture, payload, type EngineKind } from '../native/harness.js';
import { sleep, waitFor } from '../../support/wait.js';

// On 127.0.9.x; each engine's port is asked of the OS (engineFixture).
const ENGINE = '127.0.9.1';
const CLIENTS = '127.0.9.2';
const PEER = '127.0.9.3';

const native = loadNativeMirror();
it('the native addon is built and loads', () => {
  expect(native.ok ? 'loaded' : native.reason).toBe('loaded');
});

describe.each(['js', 'native'] as EngineKind[])('%s engine limits', (kind) => {
  const { endpoints, port, launch } = engineFixture(kind);
  const start = async (clientRateLimit?: ClientRateLimit, maxDatagramSize = 1472) => {
    const dataPort = await port();
    return { engine: await launch({ address: ENGINE, dataPort, maxDatagramSize, ...(clientRateLimit ? { clientRateLimit } : {}) }), dataPort };
  };

  it('drops a flooding client above its packet rate before fan-out and counts it; a client within its rate loses nothing', async () => {
    // 100 datagrams/s with a 100 ms burst: 10 datagrams of credit at the start.
    const { engine, dataPort } = await start({ packetsPerSecond: 100, bitsPerSecond: 0, burstMs: 100 });
    const [flood, calm, receiver, peer] = await Promise.all([
      endpoints.open(CLIENTS),
      endpoints.open(CLIENTS),
      endpoints.open(CLIENTS),
      endpoints.open(PEER, kind === 'js' ? 50090 : 50190),
    ]);
    engine.setTable({
      clients: [client(1, flood.endpoint), client(2, calm.endpoint), client(3, receiver.endpoint, 'recvonly')],
      peers: [{ id: 'p', address: PEER, dataPort: peer.endpoint.port }],
    });
    const started = performance.now();
    const SENT = 1000;
    for (let i = 0; i < SENT; i++) await flood.send(payload(i), dataPort, ENGINE);
    const elapsedSeconds = (performance.now() - started) / 1000;
    // The calm client: 20 datagrams 20 ms apart (50/s, half its limit).
    for (let i = 0; i < 20; i++) {
      await calm.send(payload(100_000 + i), dataPort, ENGINE);
      await sleep(20);
    }
    await waitFor(() => engine.counters().datagramsIn.client === SENT + 20, { what: 'every datagram counted in', intervalMs: 5, timeoutMs: 3000 });
    await sleep(100);
    const fromCalm = receiver.received.filter((r) => r.data.readUInt32BE(4) >= 100_000).length;
    const fromFlood = receiver.received.length - fromCalm;
    expect(fromCalm).toBe(20);
    // Admitted: the burst plus the rate over the sending time (+ slack for the clock of each engine).
    const allowance = 10 + Math.ceil(100 * (elapsedSeconds + 0.05)) + 1;
    expect(fromFlood).toBeGreaterThanOrEqual(10);
    expect(fromFlood).toBeLessThanOrEqual(allowance);
    const dropped = engine.counters().dropped;
    expect(dropped.rate_limited).toBe(SENT - fromFlood);
    // Counted per client too: all of it the flooding client's.
    expect(engine.clientActivity(1)).toMatchObject({ datagramsIn: SENT, datagramsRateLimited: SENT - fromFlood });
    expect(engine.clientActivity(2)).toMatchObject({ datagramsIn: 20, datagramsRateLimited: 0 });
    // Nothing of the excess left the reflector: the peer got exactly what the receiver got.
    expect(peer.received.length).toBe(receiver.received.length);
    expect(engine.counters().datagramsOut.peer).toBe(fromFlood + 20);
  });

  it('polices the bit rate: large datagrams run out of byte credit first', async () => {
    // 80 kbit/s = 10 kB/s, burst 100 ms = 1 kB, which holds at least one largest datagram (1472 bytes).
    const { engine, dataPort } = await start({ packetsPerSecond: 0, bitsPerSecond: 80_000, burstMs: 100 });
    const [sender, receiver] = await Promise.all([endpoints.open(CLIENTS), endpoints.open(CLIENTS)]);
    engine.setTable({ clients: [client(1, sender.endpoint), client(2, receiver.endpoint)], peers: [] });
    const started = performance.now();
    for (let i = 0; i < 200; i++) await sender.send(payload(i, 1000), dataPort, ENGINE);
    const elapsedSeconds = (performance.now() - started) / 1000;
    await waitFor(() => engine.counters().datagramsIn.client === 200, { what: 'every datagram counted in', intervalMs: 5, timeoutMs: 3000 });
    await sleep(50);
    const allowance = Math.floor((1472 + 10_000 * (elapsedSeconds + 0.05)) / 1000) + 1;
    expect(receiver.received.length).toBeGreaterThanOrEqual(1);
    expect(receiver.received.length).toBeLessThanOrEqual(allowance);
    expect(engine.counters().dropped.rate_limited).toBe(200 - receiver.received.length);
  });

  it('keeps a client bucket across table changes (a new table does not refill it)', async () => {
    const { engine, dataPort } = await start({ packetsPerSecond: 1, bitsPerSecond: 0, burstMs: 1000 });
    const [sender, receiver, other] = await Promise.all([endpoints.open(CLIENTS), endpoints.open(CLIENTS), endpoints.open(CLIENTS)]);
    engine.setTable({ clients: [client(1, sender.endpoint), client(2, receiver.endpoint)], peers: [] });
    for (let i = 0; i < 5; i++) await sender.send(payload(i), dataPort, ENGINE);
    await waitFor(() => engine.counters().datagramsIn.client === 5, { what: 'the first five', intervalMs: 5, timeoutMs: 3000 });
    engine.setTable({ clients: [client(1, sender.endpoint), client(2, receiver.endpoint), client(3, other.endpoint)], peers: [] });
    for (let i = 5; i < 10; i++) await sender.send(payload(i), dataPort, ENGINE);
    await waitFor(() => engine.counters().datagramsIn.client === 10, { what: 'the next five', intervalMs: 5, timeoutMs: 3000 });
    await sleep(50);
    // One token at the start, and at most one more refilled within the test's second.
    expect(receiver.received.length).toBeGreaterThanOrEqual(1);
    expect(receiver.received.length).toBeLessThanOrEqual(2);
    expect(engine.counters().dropped.rate_limited).toBe(10 - receiver.received.length);
  });

  it('drops every datagram above --max-datagram-size and counts it as oversized, without taking rate credit', async () => {
    const { engine, dataPort } = await start({ packetsPerSecond: 1, bitsPerSecond: 0, burstMs: 1000 }, 500);
    const [sender, receiver] = await Promise.all([endpoints.open(CLIENTS), endpoints.open(CLIENTS)]);
    engine.setTable({ clients: [client(1, sender.endpoint), client(2, receiver.endpoint)], peers: [] });
    for (let i = 0; i < 5; i++) await sender.send(payload(i, 501), dataPort, ENGINE);
    await sender.send(payload(5, 1400), dataPort, ENGINE);
    await sender.send(payload(6, 500), dataPort, ENGINE);
    await waitFor(() => engine.counters().datagramsIn.client === 7, { what: 'every datagram counted in', intervalMs: 5, timeoutMs: 3000 });
    await waitFor(() => receiver.received.length === 1, { what: 'the one datagram within the size', intervalMs: 5, timeoutMs: 3000 });
    expect(receiver.received[0]!.data.readUInt32BE(4)).toBe(6);
    expect(engine.counters().dropped).toMatchObject({ oversized: 6, rate_limited: 0 });
  });

  it('without a limit nothing is rate limited', async () => {
    const { engine, dataPort } = await start();
    const [sender, receiver] = await Promise.all([endpoints.open(CLIENTS), endpoints.open(CLIENTS)]);
    engine.setTable({ clients: [client(1, sender.endpoint), client(2, receiver.endpoint)], peers: [] });
    // Few enough that the receiving test socket's default buffer holds them all.
    for (let i = 0; i < 100; i++) await sender.send(payload(i), dataPort, ENGINE);
    await waitFor(() => receiver.received.length === 100, { what: 'every datagram', intervalMs: 5, timeoutMs: 3000 });
    expect(engine.counters().dropped.rate_limited).toBe(0);
  });
});
