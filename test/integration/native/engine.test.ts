// The forwarding rules of docs/protocol.md §2, run with real UDP sockets against both data-plane engines
// (TypeScript and native), so the two are held to the same behaviour: fan-out, roles, deliver flag,
// peer header, origin skip, drops by reason, control handoff, counters, activity, order, table swaps
// under traffic, RTP mode and a clean stop.
import { describe, expect, it } from 'vitest';
import type { DataPlaneEngine, Endpoint, PortIndex } from '../../../reflector/mirror/engine.js';
import { PEER_HEADER_SIZE, readPeerOriginClientId, readPeerSequence, writePeerHeader, isValidPeerHeader } from '../../../protocol/wire/peer-header.js';
import { loadNativeMirror } from '../../../reflector/native/addon.js';
import { ENGINE_ADDRESS, PEER_ADDRESS, client, engineFixture, payload, startEngine, type EngineKind } from './harness.js';
import { sleep, waitFor } from '../../support/wait.js';

// The native addon is built by `npm install`; without it this file cannot test the native engine and
// says so by failing, rather than silently testing one engine.
const native = loadNativeMirror();
it('the native addon is built and loads', () => {
  expect(native.ok ? 'loaded' : native.reason).toBe('loaded');
});

const kinds: EngineKind[] = native.ok ? ['js', 'native'] : ['js'];

describe.each(kinds)('%s engine', (kind) => {
  const { endpoints, port, launch } = engineFixture(kind);
  const start = async (options: { rtp?: boolean; maxDatagramSize?: number } = {}): Promise<{ engine: DataPlaneEngine; dataPort: number }> => {
    const dataPort = await port();
    return { engine: await launch({ dataPort, ...options }), dataPort };
  };

  it('reports its kind', async () => {
    const { engine } = await start();
    expect(engine.kind).toBe(kind);
  });

  it('forwards client data unchanged to every other receiving client and to every peer with the header', async () => {
    const { engine, dataPort } = await start();
    const [a, b, c, peer1, peer2] = await Promise.all([endpoints.open(), endpoints.open(), endpoints.open(), endpoints.open(PEER_ADDRESS, 35901 + (kind === 'js' ? 0 : 10)), endpoints.open(PEER_ADDRESS, 35903 + (kind === 'js' ? 0 : 10))]);
    engine.setTable({
      clients: [client(0xa1, a.endpoint), client(0xb2, b.endpoint), client(0xc3, c.endpoint)],
      peers: [
        { id: 'p1', address: PEER_ADDRESS, dataPort: peer1.endpoint.port },
        { id: 'p2', address: PEER_ADDRESS, dataPort: peer2.endpoint.port },
      ],
    });
    const data = payload(7);
    await a.send(data, dataPort);
    await a.send(payload(8), dataPort);
    await waitFor(() => b.received.length === 2 && c.received.length === 2 && peer1.received.length === 2 && peer2.received.length === 2, { what: 'fan-out', intervalMs: 5, timeoutMs: 3000 });
    await sleep(50);
    expect(a.received).toHaveLength(0); // never back to the sender
    expect(b.received[0]!.data.equals(data)).toBe(true);
    expect(b.received[0]!.from).toEqual({ address: ENGINE_ADDRESS, port: dataPort });
    for (const peer of [peer1, peer2]) {
      const copy = peer.received[0]!.data;
      expect(isValidPeerHeader(copy)).toBe(true);
      expect(readPeerOriginClientId(copy)).toBe(0xa1);
      expect(copy.subarray(PEER_HEADER_SIZE).equals(data)).toBe(true);
      expect(readPeerSequence(peer.received[1]!.data)).toBe((readPeerSequence(copy) + 1) >>> 0);
    }
    const counters = engine.counters();
    expect(counters.datagramsIn).toEqual({ client: 2, peer: 0 });
    expect(counters.datagramsOut).toEqual({ client: 4, peer: 4 });
    expect(counters.bytesIn.client).toBe(400);
    expect(counters.bytesOut).toEqual({ client: 800, peer: 4 * (200 + PEER_HEADER_SIZE) });
    const activity = engine.clientActivity(0xa1)!;
    expect(activity.datagramsIn).toBe(2);
    expect(Math.abs(activity.lastHeardMs - Date.now())).toBeLessThan(2000);
    expect(engine.clientActivity(0xb2)).toMatchObject({ datagramsIn: 0, datagramsOut: 2, lastHeardMs: 0 });
    expect(engine.clientActivity(0xdead)).toBeUndefined();
    expect(engine.latency().count).toBe(2);
    expect(engine.latency().counts.at(-1)).toBeLessThanOrEqual(2);
  });

  it('honours roles and the deliver flag', async () => {
    const { engine, dataPort } = await start();
    const [sender, listener, recvonly, sendonly, departing] = await Promise.all([endpoints.open(), endpoints.open(), endpoints.open(), endpoints.open(), endpoints.open()]);
    engine.setTable({
      clients: [
        client(1, sender.endpoint),
        client(2, listener.endpoint),
        client(3, recvonly.endpoint, 'recvonly'),
        client(4, sendonly.endpoint, 'sendonly'),
        client(5, departing.endpoint, 'sendrecv', false),
      ],
      peers: [],
    });
    await sender.send(payload(1), dataPort);
    await recvonly.send(payload(2), dataPort); // dropped: role
    await sendonly.send(payload(3), dataPort);
    await departing.send(payload(4), dataPort); // still forwarded while it departs
    await waitFor(() => listener.received.length === 3 && recvonly.received.length === 3, { what: 'deliveries', intervalMs: 5, timeoutMs: 3000 });
    await sleep(50);
    expect(listener.received.map((r) => r.data.readUInt32BE(4))).toEqual([1, 3, 4]);
    expect(recvonly.received.map((r) => r.data.readUInt32BE(4))).toEqual([1, 3, 4]);
    expect(sendonly.received).toHaveLength(0);
    expect(departing.received).toHaveLength(0);
    expect(sender.received.map((r) => r.data.readUInt32BE(4))).toEqual([3, 4]);
    expect(engine.counters().dropped.role).toBe(1);
    expect(engine.clientActivity(3)!.lastHeardMs).toBeGreaterThan(0);
  });

  it('delivers peer data without its header to every receiving client but the origin, never to a peer', async () => {
    const { engine, dataPort } = await start();
    const [a, b, origin, peer, other] = await Promise.all([endpoints.open(), endpoints.open(), endpoints.open(), endpoints.open(PEER_ADDRESS, 35921 + (kind === 'js' ? 0 : 10)), endpoints.open(PEER_ADDRESS, 35923 + (kind === 'js' ? 0 : 10))]);
    engine.setTable({
      clients: [client(0x10, a.endpoint), client(0x11, b.endpoint, 'recvonly'), client(0x12, origin.endpoint)],
      peers: [
        { id: 'p', address: PEER_ADDRESS, dataPort: peer.endpoint.port },
        { id: 'q', address: PEER_ADDRESS, dataPort: other.endpoint.port },
      ],
    });
    const body = payload(42, 300);
    const framed = Buffer.alloc(PEER_HEADER_SIZE + body.length);
    writePeerHeader(framed, 0x12, 99);
    body.copy(framed, PEER_HEADER_SIZE);
    await peer.send(framed, dataPort);
    await waitFor(() => a.received.length === 1 && b.received.length === 1, { what: 'peer delivery', intervalMs: 5, timeoutMs: 3000 });
    await sleep(50);
    expect(a.received[0]!.data.equals(body)).toBe(true);
    expect(origin.received).toHaveLength(0);
    expect(other.received).toHaveLength(0);
    expect(peer.received).toHaveLength(0);
    const counters = engine.counters();
    expect(counters.datagramsIn.peer).toBe(1);
    expect(counters.bytesIn.peer).toBe(framed.length);
    expect(counters.datagramsOut).toEqual({ client: 2, peer: 0 });
  });

  it('drops malformed peer data, unknown sources and oversized datagrams, counting each reason', async () => {
    const { engine, dataPort } = await start({ maxDatagramSize: 500 });
    const [a, b, peer, stranger] = await Promise.all([endpoints.open(), endpoints.open(), endpoints.open(PEER_ADDRESS, 35941 + (kind === 'js' ? 0 : 10)), endpoints.open()]);
    engine.setTable({ clients: [client(1, a.endpoint), client(2, b.endpoint)], peers: [{ id: 'p', address: PEER_ADDRESS, dataPort: peer.endpoint.port }] });
    await stranger.send(payload(1), dataPort); // unknown source
    await peer.send(Buffer.from('RPshort'), dataPort); // shorter than the header
    const badMagic = Buffer.alloc(100);
    badMagic.write('XX', 0);
    await peer.send(badMagic, dataPort);
    const tagged = Buffer.alloc(100);
    writePeerHeader(tagged, 1, 1);
    tagged[3] = 1; // tagged, but this engine has no mesh key to verify it with: malformed (peer-auth.test.ts has the keyed mesh)
    await peer.send(tagged, dataPort);
    await a.send(payload(2, 501), dataPort); // oversized
    await a.send(payload(3, 2000), dataPort); // well past the receive buffer
    const bigFromPeer = Buffer.alloc(PEER_HEADER_SIZE + 501);
    writePeerHeader(bigFromPeer, 9, 1);
    await peer.send(bigFromPeer, dataPort);
    await a.send(payload(4, 500), dataPort); // the largest allowed
    await waitFor(() => b.received.length === 1, { what: 'the one good datagram', intervalMs: 5, timeoutMs: 3000 });
    await waitFor(() => engine.counters().dropped.oversized === 3, { what: 'drop counts', intervalMs: 5, timeoutMs: 3000 });
    expect(b.received[0]!.data.readUInt32BE(4)).toBe(4);
    expect(peer.received).toHaveLength(1);
    const { dropped } = engine.counters();
    expect(dropped).toEqual({ unknown_source: 1, malformed: 3, oversized: 3, role: 0, auth: 0, send_error: 0, rate_limited: 0, bad_peer_tag: 0, replay: 0, stale: 0, receive_buffer: 0, send_buffer: 0 });
  });

  it('hands control datagrams from any source to the control side and sends control datagrams from the data socket', async () => {
    const { engine, dataPort } = await start();
    const [known, stranger] = await Promise.all([endpoints.open(), endpoints.open()]);
    const got: { data: Buffer; portIndex: PortIndex; from: Endpoint }[] = [];
    engine.onControl((data, portIndex, from) => got.push({ data: Buffer.from(data), portIndex, from }));
    engine.setTable({ clients: [client(5, known.endpoint, 'recvonly')], peers: [] });
    const register = Buffer.alloc(36);
    register.write('RMSH', 0);
    register[4] = 1;
    register[5] = 1;
    await stranger.send(register, dataPort);
    const keepalive = Buffer.from(register);
    keepalive[5] = 2;
    await known.send(keepalive, dataPort);
    await waitFor(() => got.length === 2, { what: 'control handoff', intervalMs: 5, timeoutMs: 3000 });
    expect(got[0]).toMatchObject({ data: register, portIndex: 0, from: stranger.endpoint });
    expect(got[1]!.from).toMatchObject(known.endpoint);
    // Not a sign of life at the engine: only the control side, once the tag verifies, counts it
    // (docs/security.md "Liveness"; test/integration/security/control-liveness.test.ts).
    expect(engine.clientActivity(5)!.lastHeardMs).toBe(0);
    expect(engine.counters().dropped.unknown_source).toBe(0);

    const ack = Buffer.from(register);
    ack[5] = 3;
    engine.sendControl(0, ack, stranger.endpoint);
    await waitFor(() => stranger.received.length === 1, { what: 'control send', intervalMs: 5, timeoutMs: 3000 });
    expect(stranger.received[0]).toEqual({ data: ack, from: { address: ENGINE_ADDRESS, port: dataPort } });
  });

  it("preserves each sender's order through a burst", async () => {
    const { engine, dataPort } = await start();
    const [s1, s2, r] = await Promise.all([endpoints.open(), endpoints.open(), endpoints.open()]);
    r.socket.setRecvBufferSize(4 << 20);
    engine.setTable({ clients: [client(1, s1.endpoint, 'sendonly'), client(2, s2.endpoint, 'sendonly'), client(3, r.endpoint, 'recvonly')], peers: [] });
    const n = 2000;
    const sends: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      sends.push(s1.send(payload(i, 100), dataPort));
      sends.push(s2.send(payload(100_000 + i, 100), dataPort));
      if (i % 10 === 9) {
        await Promise.all(sends.splice(0));
        await sleep(1);
      }
    }
    await Promise.all(sends);
    // The TypeScript engine shares this test's event loop and keeps the default receive buffer, so it
    // may lose part of a burst; order is what this test is about. The native engine must lose nothing.
    const share = kind === 'native' ? 1 : 0.8;
    await waitFor(() => r.received.length >= 2 * n * share, { what: 'most datagrams out', intervalMs: 5, timeoutMs: 5000 });
    await sleep(100);
    const seen = r.received.map((x) => x.data.readUInt32BE(4));
    const first = seen.filter((v) => v < 100_000);
    const second = seen.filter((v) => v >= 100_000);
    expect(first.length).toBeGreaterThanOrEqual(n * share);
    expect(second.length).toBeGreaterThanOrEqual(n * share);
    expect(first).toEqual([...first].sort((x, y) => x - y));
    expect(second).toEqual([...second].sort((x, y) => x - y));
  });

  it('takes table changes under traffic: a new receiver starts getting data, a removed one stops, activity is kept', async () => {
    const { engine, dataPort } = await start();
    const [sender, stay, join, leave] = await Promise.all([endpoints.open(), endpoints.open(), endpoints.open(), endpoints.open()]);
    const base = [client(1, sender.endpoint, 'sendonly'), client(2, stay.endpoint, 'recvonly')];
    engine.setTable({ clients: [...base, client(4, leave.endpoint, 'recvonly')], peers: [] });
    let i = 0;
    let sending = true;
    const loop = (async () => {
      while (sending) {
        await sender.send(payload(i++, 100), dataPort);
        if (i % 20 === 0) await sleep(1);
      }
    })();
    await waitFor(() => stay.received.length > 100 && leave.received.length > 100, { what: 'traffic before the change', intervalMs: 5, timeoutMs: 3000 });
    for (let k = 0; k < 50; k++) {
      engine.setTable({ clients: k % 2 === 0 ? [...base, client(3, join.endpoint, 'recvonly')] : [...base, client(3, join.endpoint, 'recvonly'), client(4, leave.endpoint, 'recvonly')], peers: [] });
      await sleep(2);
    }
    engine.setTable({ clients: [...base, client(3, join.endpoint, 'recvonly')], peers: [] });
    await sleep(30);
    const leftAt = leave.received.length;
    const joinedAt = join.received.length;
    const stayAt = stay.received.length;
    await waitFor(() => stay.received.length > stayAt + 200, { what: 'traffic after the change', intervalMs: 5, timeoutMs: 3000 });
    sending = false;
    await loop;
    await sleep(50);
    expect(leave.received.length).toBe(leftAt);
    expect(join.received.length).toBeGreaterThan(joinedAt + 150);
    const seen = stay.received.map((x) => x.data.readUInt32BE(4));
    expect(seen).toEqual([...seen].sort((x, y) => x - y));
    expect(engine.clientActivity(1)!.datagramsIn).toBe(engine.counters().datagramsIn.client);
    expect(engine.clientActivity(4)).toBeUndefined();
  });

  it('takes a table with no clients (the last one left) and serves clients again after it', async () => {
    const { engine, dataPort } = await start();
    const [a, b] = await Promise.all([endpoints.open(), endpoints.open()]);
    const both = { clients: [client(0xa1, a.endpoint), client(0xb2, b.endpoint)], peers: [] };
    engine.setTable(both);
    // An empty Uint32Array may come to the addon without a data pointer: still a valid table.
    expect(() => engine.setTable({ clients: [], peers: [] })).not.toThrow();
    engine.setTable(both);
    await a.send(payload(1), dataPort);
    await waitFor(() => b.received.length === 1, { what: 'delivery after an empty table', intervalMs: 5, timeoutMs: 3000 });
  });

  it('serves P and P+1 in RTP mode with per-port endpoints and peer ports', async () => {
    const { engine, dataPort } = await start({ rtp: true });
    const [rtpA, rtcpA, rtpB, rtcpB, peerRtp, peerRtcp] = await Promise.all([
      endpoints.open(), endpoints.open(), endpoints.open(), endpoints.open(),
      endpoints.open(PEER_ADDRESS, 35961 + (kind === 'js' ? 0 : 10)), endpoints.open(PEER_ADDRESS, 35962 + (kind === 'js' ? 0 : 10)),
    ]);
    const got: PortIndex[] = [];
    engine.onControl((_d, portIndex) => got.push(portIndex));
    engine.setTable({
      clients: [client(1, rtpA.endpoint, 'sendrecv', true, rtcpA.endpoint), client(2, rtpB.endpoint, 'sendrecv', true, rtcpB.endpoint)],
      peers: [{ id: 'p', address: PEER_ADDRESS, dataPort: peerRtp.endpoint.port }],
    });
    await rtpA.send(payload(1), dataPort);
    await rtcpA.send(payload(2), dataPort + 1);
    await rtpA.send(payload(3), dataPort + 1); // the RTP endpoint is unknown on P+1
    const register = Buffer.alloc(36);
    register.write('RMSH', 0);
    await rtcpB.send(register, dataPort + 1);
    await waitFor(() => rtpB.received.length === 1 && rtcpB.received.length === 1 && peerRtp.received.length === 1 && peerRtcp.received.length === 1 && got.length === 1, { what: 'both ports', intervalMs: 5, timeoutMs: 3000 });
    expect(rtcpB.received[0]!.from.port).toBe(dataPort + 1);
    expect(rtcpB.received[0]!.data.readUInt32BE(4)).toBe(2);
    expect(got).toEqual([1]);
    expect(engine.counters().dropped.unknown_source).toBe(1);
    expect(engine.clientActivity(1)!.datagramsIn).toBe(2);
  });

  it('rejects start when the port is taken, and closes cleanly (idempotent, port free again)', async () => {
    const { engine: first, dataPort } = await start();
    const taken = startEngine(kind, { dataPort });
    await expect(taken).rejects.toMatchObject({ code: 'EADDRINUSE' });
    const [a, b] = await Promise.all([endpoints.open(), endpoints.open()]);
    first.setTable({ clients: [client(1, a.endpoint), client(2, b.endpoint)], peers: [] });
    let sending = true;
    const loop = (async () => {
      while (sending) {
        await a.send(payload(0, 1000), dataPort);
        await sleep(0);
      }
    })();
    await waitFor(() => b.received.length > 10, { what: 'traffic', intervalMs: 5, timeoutMs: 3000 });
    await first.close();
    await first.close();
    sending = false;
    await loop;
    const again = await startEngine(kind, { dataPort });
    await again.close();
  });
});
