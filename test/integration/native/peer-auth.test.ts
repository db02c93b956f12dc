// Authenticated peers in both data-plane engines (docs/protocol.md §2.4), with real UDP sockets: an
// engine with a mesh key tags every peer copy (one tag per datagram, verifiable with the key of the
// engine's data address), and delivers peer data only when its tag verifies and it is not a replay.
// A socket on 127.0.9.x plays the peer and builds datagrams with the same key derivation.
import { afterEach, describe, expect, it } from 'vitest';
import type { DataPlaneEngine, Endpoint } from '../../../reflector/mirror/engine.js';
import { loadNativeMirror } from '../../../reflector/native/addon.js';
import { peerEndpointKey, verifyPeerTag, writePeerTag } from '../../../reflector/security/peer-tag.js';
import { singleKeySet } from '../../../protocol/security/mesh-key-set.js';
import {
  PEER_FLAG_TAGGED,
  PEER_TAG_SIZE,
  PEER_TAGGED_HEADER_SIZE,
  PEER_TAGGED_OVERHEAD,
  readPeerEpoch,
  readPeerOriginClientId,
  readPeerSequence,
  writePeerHeader,
  writeTaggedPeerHeader,
} from '../../../protocol/wire/peer-header.js';
import { Endpoints, client, payload, sleep, startEngine, until, type EngineKind } from './harness.js';

const ENGINE = '127.0.9.20';
const PEER = '127.0.9.21';
const CLIENTS = '127.0.9.22';
const MESH_KEY = Buffer.alloc(32, 0x42);
const OTHER_KEY = Buffer.alloc(32, 0x43);

/** A tagged peer datagram as a peer at peerAddress:peerPort sends it. */
function tagged(key: Buffer, peerAddress: string, peerPort: number, origin: number, sequence: number, epoch: number, body: Buffer): Buffer {
  const buf = Buffer.alloc(body.length + PEER_TAGGED_OVERHEAD);
  writeTaggedPeerHeader(buf, origin, sequence, epoch);
  body.copy(buf, PEER_TAGGED_HEADER_SIZE);
  writePeerTag(buf, buf.length - PEER_TAG_SIZE, peerEndpointKey(key, peerAddress, peerPort));
  return buf;
}

const native = loadNativeMirror();
const kinds: EngineKind[] = native.ok ? ['js', 'native'] : ['js'];
it('the native addon is built, so both engines are tested', () => {
  expect(native.ok ? 'loaded' : native.reason).toBe('loaded');
});

describe.each(kinds)('%s engine with a mesh key', (kind) => {
  let nextPort = kind === 'js' ? 53000 : 53100;
  const port = (): number => (nextPort += 2);
  const endpoints = new Endpoints();
  let engine: DataPlaneEngine | undefined;

  afterEach(async () => {
    await engine?.close();
    engine = undefined;
    await endpoints.closeAll();
  });

  async function setup(): Promise<{ engine: DataPlaneEngine; dataPort: number; peerEndpoint: Endpoint; a: Awaited<ReturnType<Endpoints['open']>>; b: Awaited<ReturnType<Endpoints['open']>>; peer: Awaited<ReturnType<Endpoints['open']>> }> {
    const dataPort = port();
    engine = await startEngine(kind, { address: ENGINE, dataPort, peerAuth: { keys: singleKeySet(MESH_KEY), advertiseAddress: ENGINE } });
    const [a, b, peer] = await Promise.all([endpoints.open(CLIENTS), endpoints.open(CLIENTS), endpoints.open(PEER, port())]);
    engine.setTable({ clients: [client(0x10, a.endpoint), client(0x11, b.endpoint)], peers: [{ id: 'p', address: PEER, dataPort: peer.endpoint.port }] });
    return { engine, dataPort, peerEndpoint: peer.endpoint, a, b, peer };
  }

  it('tags every peer copy with the key of its data address, sequences rising by one in one epoch', async () => {
    const { engine, dataPort, a, b, peer } = await setup();
    for (let n = 0; n < 5; n++) await a.send(payload(n, 300), dataPort, ENGINE);
    await until(() => peer.received.length === 5 && b.received.length === 5, 'copies');
    const key = peerEndpointKey(MESH_KEY, ENGINE, dataPort);
    const copies = peer.received.map((r) => r.data);
    for (const [n, copy] of copies.entries()) {
      expect(copy.length).toBe(300 + PEER_TAGGED_OVERHEAD);
      expect(copy[3]! & PEER_FLAG_TAGGED).toBe(PEER_FLAG_TAGGED);
      expect(readPeerOriginClientId(copy)).toBe(0x10);
      expect(verifyPeerTag(copy, copy.length, key)).toBe(true);
      expect(verifyPeerTag(copy, copy.length, peerEndpointKey(OTHER_KEY, ENGINE, dataPort))).toBe(false);
      expect(copy.subarray(PEER_TAGGED_HEADER_SIZE, copy.length - PEER_TAG_SIZE).equals(payload(n, 300))).toBe(true);
    }
    const sequences = copies.map(readPeerSequence);
    expect(sequences).toEqual(sequences.map((_, i) => sequences[0]! + i));
    const epochs = new Set(copies.map(readPeerEpoch));
    expect(epochs.size).toBe(1);
    const [epoch] = epochs;
    expect(Math.abs(epoch! - Date.now())).toBeLessThan(60_000); // milliseconds since the Unix epoch at start
    expect(engine.counters().bytesOut.peer).toBe(5 * (300 + PEER_TAGGED_OVERHEAD));
  });

  it('tags each datagram of a burst (one GSO send of several in the native engine) and a second engine accepts them all', async () => {
    const { dataPort, a, peer } = await setup();
    // The receiving side: a second engine that knows the first as its peer.
    const receiverPort = port();
    const receiver = await startEngine(kind, { address: PEER, dataPort: receiverPort, peerAuth: { keys: singleKeySet(MESH_KEY), advertiseAddress: PEER } });
    try {
      const listener = await endpoints.open(CLIENTS);
      receiver.setTable({ clients: [client(0x20, listener.endpoint)], peers: [{ id: 'e', address: ENGINE, dataPort }] });
      engine!.setTable({ clients: [client(0x10, a.endpoint)], peers: [{ id: 'p', address: PEER, dataPort: receiverPort }, { id: 'q', address: PEER, dataPort: peer.endpoint.port }] });
      const burst = Array.from({ length: 50 }, (_, n) => payload(n, 500));
      await Promise.all(burst.map((b) => a.send(b, dataPort, ENGINE)));
      await until(() => listener.received.length === 50, 'the burst through two engines', 10_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${listener.received.length} arrived; receiver ${JSON.stringify(receiver.counters())}; peer got ${peer.received.length}, sizes ${[...new Set(peer.received.map((r) => r.data.length))].join(',')}`);
      });
      expect(listener.received.map((r) => r.data.readUInt32BE(4))).toEqual(burst.map((_, n) => n));
      expect(receiver.counters().dropped).toMatchObject({ bad_peer_tag: 0, replay: 0, malformed: 0 });
    } finally {
      await receiver.close();
    }
  });

  it('in RTP mode keys and windows are per port: P+1 takes its own key only, and a copy made for P is refused there', async () => {
    const dataPort = port() + 10;
    const rtpEngine = await startEngine(kind, { address: ENGINE, dataPort, rtp: true, peerAuth: { keys: singleKeySet(MESH_KEY), advertiseAddress: ENGINE } });
    engine = rtpEngine;
    const peerBase = port() + 20;
    const [rtp, rtcp, peerRtp, peerRtcp] = await Promise.all([endpoints.open(CLIENTS), endpoints.open(CLIENTS), endpoints.open(PEER, peerBase), endpoints.open(PEER, peerBase + 1)]);
    rtpEngine.setTable({ clients: [client(0x10, rtp.endpoint, 'sendrecv', true, rtcp.endpoint)], peers: [{ id: 'p', address: PEER, dataPort: peerBase }] });
    const epoch = Date.now();
    const forRtcp = tagged(MESH_KEY, PEER, peerBase + 1, 0x99, 1, epoch, payload(1));
    const forRtp = tagged(MESH_KEY, PEER, peerBase, 0x99, 2, epoch, payload(2)); // fresh in both windows
    await peerRtcp.send(forRtcp, dataPort + 1, ENGINE);
    await until(() => rtcp.received.length === 1, 'RTCP delivery');
    await peerRtcp.send(forRtp, dataPort + 1, ENGINE); // made for P: another key
    await peerRtp.send(forRtp, dataPort, ENGINE); // right key and port: delivered; the window of P is its own
    await until(() => rtp.received.length === 1 && rtpEngine.counters().dropped.bad_peer_tag === 1, 'per-port keys').catch((err: Error) => {
      throw new Error(`${err.message}: rtp ${rtp.received.length}, rtcp ${rtcp.received.length}, ${JSON.stringify(rtpEngine.counters())}`);
    });
    expect(rtcp.received).toHaveLength(1);
    // The client's RTCP goes to the peer from P+1, tagged with P+1's key.
    await rtcp.send(payload(3), dataPort + 1, ENGINE);
    await until(() => peerRtcp.received.length === 1, 'RTCP copy to the peer');
    const copy = peerRtcp.received[0]!.data;
    expect(verifyPeerTag(copy, copy.length, peerEndpointKey(MESH_KEY, ENGINE, dataPort + 1))).toBe(true);
    expect(verifyPeerTag(copy, copy.length, peerEndpointKey(MESH_KEY, ENGINE, dataPort))).toBe(false);
  });

  it('delivers authenticated peer data; drops forged, tampered, untagged, misattributed and replayed datagrams, counting them', async () => {
    const { engine, dataPort, peerEndpoint, a, b, peer } = await setup();
    const epoch = Date.now();
    const good = tagged(MESH_KEY, PEER, peerEndpoint.port, 0x99, 7, epoch, payload(1));
    await peer.send(good, dataPort, ENGINE);
    await until(() => a.received.length === 1 && b.received.length === 1, 'authenticated delivery');
    expect(a.received[0]!.data.equals(payload(1))).toBe(true);

    await peer.send(tagged(OTHER_KEY, PEER, peerEndpoint.port, 0x99, 8, epoch, payload(2)), dataPort, ENGINE); // wrong mesh key
    const tampered = Buffer.from(tagged(MESH_KEY, PEER, peerEndpoint.port, 0x99, 9, epoch, payload(3)));
    tampered[PEER_TAGGED_HEADER_SIZE + 10]! ^= 0x01;
    await peer.send(tampered, dataPort, ENGINE);
    const untagged = Buffer.alloc(16 + 200);
    writePeerHeader(untagged, 0x99, 10);
    payload(4).copy(untagged, 16);
    await peer.send(untagged, dataPort, ENGINE);
    // Tagged with another reflector's key (one at another address): not this peer's.
    await peer.send(tagged(MESH_KEY, '127.0.9.99', peerEndpoint.port, 0x99, 11, epoch, payload(5)), dataPort, ENGINE);
    await peer.send(good, dataPort, ENGINE); // replayed
    await until(() => engine.counters().dropped.bad_peer_tag === 4 && engine.counters().dropped.replay === 1, 'drops');
    await sleep(100);
    expect(a.received).toHaveLength(1);
    expect(b.received).toHaveLength(1);
    expect(engine.counters().dropped).toMatchObject({ bad_peer_tag: 4, replay: 1, malformed: 0 });
  });

  it('keeps a 64-wide window: late datagrams inside it pass once, older ones are refused', async () => {
    const { engine, dataPort, peerEndpoint, a, peer } = await setup();
    const epoch = Date.now();
    const send = (sequence: number, n: number) => peer.send(tagged(MESH_KEY, PEER, peerEndpoint.port, 0x99, sequence, epoch, payload(n)), dataPort, ENGINE);
    await send(100, 1);
    await send(98, 2); // late, inside the window
    await send(200, 3); // jumps ahead: 100..136 fall out of the window
    await send(137, 4); // 200 - 63: the oldest still inside
    await send(136, 5); // just outside
    await send(98, 6); // far outside, and seen
    await send(137, 7); // seen
    await until(() => a.received.length === 4 && engine.counters().dropped.replay === 3, 'window');
    await sleep(100);
    expect(a.received.map((r) => r.data.readUInt32BE(4))).toEqual([1, 2, 3, 4]);
  });

  it('accepts a restarted peer (a newer epoch, its sequence from 0) and refuses the old epoch from then on', async () => {
    const { engine, dataPort, peerEndpoint, a, peer } = await setup();
    const old = Date.now() - 10_000;
    await peer.send(tagged(MESH_KEY, PEER, peerEndpoint.port, 0x99, 5000, old, payload(1)), dataPort, ENGINE);
    await until(() => a.received.length === 1, 'before the restart');
    const restarted = old + 10_000;
    await peer.send(tagged(MESH_KEY, PEER, peerEndpoint.port, 0x99, 0, restarted, payload(2)), dataPort, ENGINE);
    await peer.send(tagged(MESH_KEY, PEER, peerEndpoint.port, 0x99, 1, restarted, payload(3)), dataPort, ENGINE);
    await until(() => a.received.length === 3, 'after the restart');
    await peer.send(tagged(MESH_KEY, PEER, peerEndpoint.port, 0x99, 5001, old, payload(4)), dataPort, ENGINE); // captured before the restart
    await until(() => engine.counters().dropped.replay === 1, 'old epoch refused');
    // A forged datagram of a newer epoch does not move the window (tags are checked before the window moves).
    await peer.send(tagged(OTHER_KEY, PEER, peerEndpoint.port, 0x99, 0, restarted + 1, payload(5)), dataPort, ENGINE);
    await peer.send(tagged(MESH_KEY, PEER, peerEndpoint.port, 0x99, 2, restarted, payload(6)), dataPort, ENGINE);
    await until(() => a.received.length === 4 && engine.counters().dropped.bad_peer_tag === 1, 'window unmoved by a forgery');
    expect(a.received.map((r) => r.data.readUInt32BE(4))).toEqual([1, 2, 3, 6]);
  });

  it('keeps a peer\'s window across table changes (a fresh one would take replays again)', async () => {
    const { engine, dataPort, peerEndpoint, a, b, peer } = await setup();
    const epoch = Date.now();
    const first = tagged(MESH_KEY, PEER, peerEndpoint.port, 0x99, 1, epoch, payload(1));
    await peer.send(first, dataPort, ENGINE);
    await until(() => a.received.length === 1, 'first');
    const c = await endpoints.open(CLIENTS);
    engine.setTable({ clients: [client(0x10, a.endpoint), client(0x11, b.endpoint), client(0x12, c.endpoint)], peers: [{ id: 'p', address: PEER, dataPort: peerEndpoint.port }] });
    await sleep(20);
    await peer.send(first, dataPort, ENGINE);
    await until(() => engine.counters().dropped.replay === 1, 'replay after a table change');
    expect(c.received).toHaveLength(0);
  });
});

// The native engine's sequence is not reachable from a test; the TypeScript engine's is.
describe('js engine sequence wrap', () => {
  const endpoints = new Endpoints();
  it('moves to a newer epoch when its 32-bit sequence wraps, and a receiver takes the copies across the wrap', async () => {
    const dataPort = 53300;
    const engine = await startEngine('js', { address: ENGINE, dataPort, peerAuth: { keys: singleKeySet(MESH_KEY), advertiseAddress: ENGINE } });
    const [a, peer] = await Promise.all([endpoints.open(CLIENTS), endpoints.open(PEER, 53302)]);
    // Reach into the TypeScript engine's port to put its sequence just below the wrap.
    (engine as unknown as { ports: { sequence: number }[] }).ports[0]!.sequence = 0xffff_fffe;
    const receiverPort = 53304;
    const receiver = await startEngine('js', { address: PEER, dataPort: receiverPort, peerAuth: { keys: singleKeySet(MESH_KEY), advertiseAddress: PEER } });
    try {
      const listener = await endpoints.open(CLIENTS);
      receiver.setTable({ clients: [client(0x20, listener.endpoint)], peers: [{ id: 'e', address: ENGINE, dataPort }] });
      engine.setTable({ clients: [client(0x10, a.endpoint)], peers: [{ id: 'p', address: PEER, dataPort: receiverPort }, { id: 'q', address: PEER, dataPort: peer.endpoint.port }] });
      for (let n = 0; n < 4; n++) await a.send(payload(n, 100), dataPort, ENGINE);
      await until(() => peer.received.length === 4 && listener.received.length === 4, 'copies across the wrap');
      const copies = peer.received.map((r) => r.data);
      expect(copies.map(readPeerSequence)).toEqual([0xffff_fffe, 0xffff_ffff, 0, 1]);
      const epochs = copies.map(readPeerEpoch);
      expect(epochs[1]).toBe(epochs[0]);
      expect(epochs[2]).toBeGreaterThan(epochs[1]!);
      expect(epochs[3]).toBe(epochs[2]);
      expect(receiver.counters().dropped).toMatchObject({ replay: 0, bad_peer_tag: 0 });
    } finally {
      await receiver.close();
      await engine.close();
      await endpoints.closeAll();
    }
  });
});
