// The per-stream rate the operator plans with (outboundBitsPerSecond ÷ outboundRateStreams of
// /v1/status, operator/controller/sizing.ts) on real reflectors while clients leave: two reflectors,
// six clients streaming, four of them closing at once. The bits of each second are divided by the
// larger stream count of that second, so the rate read around the leave stays the steady one; divided
// by the count of now (outboundStreams), the same readings make each remaining stream several times
// heavier, which is what grew a mesh whose clients were leaving. The datagrams are media-sized (1000
// bytes): with tiny ones a peer datagram's header weighs as much as its payload, and the mix of peer
// and client streams, which a leave changes, would move the per-stream rate by itself. Addresses
// 127.0.14.x.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusResponse } from '../../../protocol/api-schemas.js';
import { closeClients, joinClients, steadyTraffic, type SteadyTraffic, type TestClient } from '../../support/mesh-traffic.js';
import { startMesh, stopAll, type ReflectorProcess } from '../../support/reflector-process.js';
import { sleep, waitFor } from '../../support/wait.js';

let mesh: ReflectorProcess[] = [];
let clients: TestClient[] = [];
let traffic: SteadyTraffic | undefined;
const PAYLOAD_BYTES = 1000;

interface Reading {
  /** Bits per second over the last closed second, per stream of that second. */
  perRateStream: number;
  /** The same bits per stream of now. */
  perStreamNow: number;
}

/** GET /v1/status of every reflector of the mesh. */
const meshStatus = () => Promise.all(mesh.map((r) => r.json<StatusResponse>('/v1/status')));

/** One reading per reflector that sends anything; `settled` when each is down to the 2 streams left. */
async function readings(): Promise<{ readings: Reading[]; settled: boolean }> {
  const statuses = await meshStatus();
  return {
    readings: statuses
      .filter((s) => s.outboundStreams > 0 && (s.outboundRateStreams ?? 0) > 0)
      .map((s) => ({ perRateStream: s.outboundBitsPerSecond / s.outboundRateStreams!, perStreamNow: s.outboundBitsPerSecond / s.outboundStreams })),
    settled: statuses.every((s) => s.outboundStreams === 2 && s.outboundRateStreams === 2),
  };
}

beforeAll(async () => {
  mesh = await startMesh({ size: 2, addressPrefix: '127.0.14.' });
  clients = await joinClients(6, (i) => ({ join: mesh[i % 2]!.controlAddress, bindAddress: `127.0.14.${20 + i}` }));
}, 60_000);

afterAll(async () => {
  await traffic?.stop();
  closeClients(clients);
  await stopAll(mesh);
});

describe('the per-stream rate on real reflectors while clients leave', () => {
  it('stays the steady rate: a second\'s bits over that second\'s streams', async () => {
    traffic = steadyTraffic(clients, 5, PAYLOAD_BYTES);
    // Three full seconds of traffic at both reflectors: 3 clients each, 18 outbound streams each.
    await waitFor(async () => (await meshStatus()).every((s) => s.outboundStreams === 18 && s.outboundBitsPerSecond > 0), {
      timeoutMs: 10_000,
      what: '18 streams carrying traffic at both reflectors',
    });
    await sleep(3000);
    const steady = Math.max(...(await readings()).readings.map((r) => r.perRateStream));
    expect(steady).toBeGreaterThan(0);

    // Four leave (two at each reflector, clients 2..5), the other two keep streaming. The closed
    // clients' sessions go when they are purged as idle (1.5 s); read every 100 ms until each reflector
    // is down to its 2 streams, at both ends of its last rate window.
    await traffic.stop();
    const staying = clients.slice(0, 2);
    closeClients(clients.slice(2));
    traffic = steadyTraffic(staying, 5, PAYLOAD_BYTES);
    const around: Reading[] = [];
    await waitFor(
      async () => {
        const now = await readings();
        around.push(...now.readings);
        return now.settled;
      },
      { timeoutMs: 10_000, intervalMs: 100, what: 'the mesh down to 2 streams at each reflector' },
    );
    // The rate of the two streams left (a sender loop of two runs at its own pace on a busy machine).
    await sleep(2000);
    const after = Math.max(...(await readings()).readings.map((r) => r.perRateStream));
    const bound = 1.5 * Math.max(steady, after);

    const ratios = (pick: (r: Reading) => number) => around.map((r) => (pick(r) / steady).toFixed(2)).join(' ');
    // The count of now makes the remaining streams look heavier: what the operator saw before (up to 9×).
    expect(Math.max(...around.map((r) => r.perStreamNow)), `per stream of now, over the steady rate: ${ratios((r) => r.perStreamNow)}`).toBeGreaterThan(bound);
    // The window's count does not: within the measurement's own noise of the steady rates before and after.
    expect(Math.max(...around.map((r) => r.perRateStream)), `per stream of the window, over the steady rate (${(after / steady).toFixed(2)} after): ${ratios((r) => r.perRateStream)}`).toBeLessThan(bound);
  });
});
