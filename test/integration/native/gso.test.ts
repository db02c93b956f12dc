// Bursts through the native engine with UDP GSO on and off: runs of one sender's datagrams leave as one
// GSO send per destination, and every receiver must still get each datagram whole, at its own length,
// in the sender's order, with one peer header per datagram and sequence numbers that rise by one.
import { afterEach, describe, expect, it } from 'vitest';
import { NativeEngine } from '../../../reflector/native/native-engine.js';
import { loadNativeMirror } from '../../../reflector/native/addon.js';
import { PEER_HEADER_SIZE, isValidPeerHeader, readPeerOriginClientId, readPeerSequence } from '../../../protocol/wire/peer-header.js';
import { ENGINE_ADDRESS, Endpoints, PEER_ADDRESS, client, payload, sleep, until } from './harness.js';

const native = loadNativeMirror();

/** Mostly equal sizes (GSO runs), a shorter one now and then (ends a run), a longer one (starts one). */
const sizeOf = (i: number): number => (i % 7 === 6 ? 300 : i % 13 === 12 ? 1400 : 1000);

describe.runIf(native.ok).each([true, false])('native engine with gso=%s', (gso) => {
  const endpoints = new Endpoints();
  let engine: NativeEngine | undefined;
  afterEach(async () => {
    await engine?.close();
    await endpoints.closeAll();
  });

  it('delivers bursts whole, in order, with one peer header per datagram', async () => {
    const dataPort = gso ? 35800 : 35810;
    engine = new NativeEngine({ address: ENGINE_ADDRESS, dataPort, rtp: false, maxDatagramSize: 1472 }, undefined, { gso });
    await engine.start();
    const [a, b, listener, peer] = await Promise.all([endpoints.open(), endpoints.open(), endpoints.open(), endpoints.open(PEER_ADDRESS, dataPort + 50)]);
    for (const s of [listener, peer, a, b]) s.socket.setRecvBufferSize(8 << 20);
    engine.setTable({
      clients: [client(0xa, a.endpoint, 'sendonly'), client(0xb, b.endpoint, 'sendonly'), client(0xc, listener.endpoint, 'recvonly')],
      peers: [{ id: 'p', address: PEER_ADDRESS, dataPort: peer.endpoint.port }],
    });
    const perBurst = 300;
    let sent = 0;
    // A burst queued without waiting outruns the packet thread's wake-ups, so its batches hold runs of
    // one sender; repeat until the engine has used GSO at least once (at most 5 bursts).
    for (let burst = 0; burst < 5; burst++) {
      for (let i = 0; i < perBurst; i++, sent++) {
        a.socket.send(payload(sent, sizeOf(sent)), dataPort, ENGINE_ADDRESS);
        if (i % 3 === 0) b.socket.send(payload(1_000_000 + sent, 200), dataPort, ENGINE_ADDRESS);
      }
      await until(() => engine!.counters().datagramsIn.client >= sent + Math.ceil(sent / 3), 'the burst in', 5000);
      if (!gso || engine.engineStats().gsoSends > 0) break;
      await sleep(20);
    }
    const fromA = (): Buffer[] => listener.received.map((r) => r.data).filter((d) => d.readUInt32BE(4) < 1_000_000);
    await until(() => fromA().length === sent && peer.received.length === sent + Math.ceil(sent / 3), 'all copies', 5000);
    const got = fromA();
    got.forEach((d, i) => {
      expect(d.readUInt32BE(4)).toBe(i);
      expect(d.length).toBe(sizeOf(i));
    });
    const fromB = listener.received.map((r) => r.data.readUInt32BE(4)).filter((n) => n >= 1_000_000);
    expect(fromB).toEqual([...fromB].sort((x, y) => x - y));
    // Peer copies: one header each, sequence +1 per datagram in the order the engine took them.
    const sequences = peer.received.map((r) => r.data).map((d) => {
      expect(isValidPeerHeader(d)).toBe(true);
      return { origin: readPeerOriginClientId(d), n: d.readUInt32BE(PEER_HEADER_SIZE + 4), length: d.length - PEER_HEADER_SIZE, seq: readPeerSequence(d) };
    });
    const peerA = sequences.filter((s) => s.origin === 0xa);
    expect(peerA.map((s) => s.n)).toEqual(got.map((_, i) => i));
    expect(peerA.every((s) => s.length === sizeOf(s.n))).toBe(true);
    // One peer socket receives the copies in the order they left: the sequence rises by one each time.
    sequences.forEach((s, i) => expect(s.seq).toBe((sequences[0]!.seq + i) >>> 0));
    const stats = engine.engineStats();
    if (gso && engine.gso) expect(stats.gsoSends).toBeGreaterThan(0);
    else expect(stats.gsoSends).toBe(0);
    expect(engine.counters().datagramsOut).toEqual({ client: sent + Math.ceil(sent / 3), peer: sent + Math.ceil(sent / 3) });
  });
});
