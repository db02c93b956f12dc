// The TypeScript packet loop on real sockets, driven directly through the engine interface: forwarding
// rules (design §2), the deliver flag, the origin skip, drops by reason, order and counters.
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JsEngine } from '../../../reflector/mirror/js-engine.js';
import type { Endpoint, ForwardingClient } from '../../../reflector/mirror/engine.js';
import { PEER_HEADER_SIZE, readPeerOriginClientId, readPeerSequence, writePeerHeader } from '../../../protocol/wire/peer-header.js';
import { freePort } from '../../support/ports.js';
import { waitFor } from '../../support/wait.js';

const HOST = '127.0.1.70';
/** The engine's data port, asked of the OS in beforeAll. */
let dataPort: number;

class Socket {
  readonly got: Buffer[] = [];
  constructor(readonly socket: dgram.Socket) {
    socket.on('message', (m) => this.got.push(m));
  }
  static async open(address: string): Promise<Socket> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, address, r));
    return new Socket(s);
  }
  get endpoint(): Endpoint {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }
  send(b: Buffer, port = dataPort): void {
    this.socket.send(b, port, HOST);
  }
}

describe('JsEngine', () => {
  let engine: JsEngine;
  let a: Socket, b: Socket, c: Socket, listener: Socket, peer: Socket, stranger: Socket;
  const controls: Buffer[] = [];

  const client = (id: number, s: Socket, extra: Partial<ForwardingClient> = {}): ForwardingClient => ({
    id,
    sends: true,
    receives: true,
    endpoints: [s.endpoint, undefined],
    deliver: true,
    ...extra,
  });

  beforeAll(async () => {
    dataPort = await freePort(HOST);
    engine = new JsEngine({ address: HOST, dataPort, rtp: false, maxDatagramSize: 100 });
    await engine.start();
    engine.onControl((d) => controls.push(Buffer.from(d)));
    const hosts = ['127.0.1.71', '127.0.1.72', '127.0.1.73', '127.0.1.74', '127.0.1.75', '127.0.1.76'];
    [a, b, c, listener, peer, stranger] = (await Promise.all(hosts.map((h) => Socket.open(h)))) as [Socket, Socket, Socket, Socket, Socket, Socket];
    engine.setTable({
      clients: [client(1, a), client(2, b), client(3, c, { sends: false }), client(4, listener, { receives: false })],
      peers: [{ id: 'p', address: peer.endpoint.address, dataPort: peer.endpoint.port }],
    });
  });

  afterAll(async () => {
    await engine?.close();
    for (const s of [a, b, c, listener, peer, stranger]) s?.socket.close();
  });

  it('copies a client datagram to every other receiving client and, with the header, to every peer, in order', async () => {
    for (let i = 0; i < 50; i++) a.send(Buffer.from([0x80, i]));
    await waitFor(() => b.got.length === 50 && c.got.length === 50 && peer.got.length === 50, { what: 'copies' });
    expect(b.got.map((m) => m[1])).toEqual([...Array(50).keys()]);
    expect(a.got).toHaveLength(0);
    expect(listener.got).toHaveLength(0); // sendonly: never sent anything
    peer.got.forEach((m, i) => {
      expect(readPeerOriginClientId(m)).toBe(1);
      expect(readPeerSequence(m)).toBe(i);
      expect([...m.subarray(PEER_HEADER_SIZE)]).toEqual([0x80, i]);
    });
    expect(engine.clientActivity(1)).toMatchObject({ datagramsIn: 50 });
    expect(engine.clientActivity(2)).toMatchObject({ datagramsOut: 50 });
  });

  it('delivers peer data to every receiving client except its origin, and never to a peer', async () => {
    const before = [a.got.length, b.got.length, c.got.length, peer.got.length];
    const d = Buffer.alloc(PEER_HEADER_SIZE + 2);
    writePeerHeader(d, 2, 7);
    d[PEER_HEADER_SIZE] = 0x80;
    peer.send(d);
    await waitFor(() => a.got.length === before[0]! + 1 && c.got.length === before[2]! + 1, { what: 'peer delivery' });
    expect(b.got).toHaveLength(before[1]!); // the origin
    expect(peer.got).toHaveLength(before[3]!);
    expect([...a.got.at(-1)!]).toEqual([0x80, 0]);
  });

  it('drops and counts unknown sources, recvonly senders, oversized and malformed peer data; hands control datagrams over', async () => {
    const start = engine.counters().dropped;
    stranger.send(Buffer.from([0x80, 1]));
    c.send(Buffer.from([0x80, 2])); // recvonly
    a.send(Buffer.alloc(101, 0x80)); // oversized
    peer.send(Buffer.from('not a peer header'));
    stranger.send(Buffer.from('RMSHxxxx'));
    await waitFor(() => controls.length === 1, { what: 'the control datagram' });
    await waitFor(() => engine.counters().dropped.malformed === start.malformed + 1, { what: 'drops' });
    const d = engine.counters().dropped;
    expect(d.unknown_source).toBe(start.unknown_source + 1);
    expect(d.role).toBe(start.role + 1);
    expect(d.oversized).toBe(start.oversized + 1);
    expect(controls[0]!.toString()).toBe('RMSHxxxx');
  });

  it('stops delivering to a departing client but still forwards what it sends', async () => {
    engine.setTable({
      clients: [client(1, a), client(2, b, { deliver: false })],
      peers: [{ id: 'p', address: peer.endpoint.address, dataPort: peer.endpoint.port }],
    });
    const before = [a.got.length, b.got.length, peer.got.length];
    a.send(Buffer.from([0x80, 100]));
    b.send(Buffer.from([0x80, 101]));
    await waitFor(() => a.got.length === before[0]! + 1 && peer.got.length === before[2]! + 2, { what: 'forwarding' });
    expect(b.got).toHaveLength(before[1]!);
    expect(engine.clientActivity(1)?.datagramsIn).toBeGreaterThan(50); // activity survives a table change
    const latency = engine.latency();
    expect(latency.count).toBeGreaterThan(0);
    expect(latency.counts.at(-1)).toBeLessThanOrEqual(latency.count);
  });
});
