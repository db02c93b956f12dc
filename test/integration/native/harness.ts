// Helpers for the data-plane engine tests: real UDP sockets on 127.0.4.x that play clients and peers,
// and a way to start either engine (TypeScript or native) with the same options.
import dgram from 'node:dgram';
import { afterEach } from 'vitest';
import { freePortPair } from '../../support/ports.js';
import type { Role } from '../../../protocol/roles.js';
import type { DataPlaneEngine, EngineOptions, Endpoint, ForwardingClient } from '../../../reflector/mirror/engine.js';
import { JsEngine } from '../../../reflector/mirror/js-engine.js';
import { NativeEngine } from '../../../reflector/native/native-engine.js';

export const ENGINE_ADDRESS = '127.0.4.1';
export const PEER_ADDRESS = '127.0.4.2';
export const CLIENT_ADDRESS = '127.0.4.3';

export type EngineKind = 'js' | 'native';

export async function startEngine(kind: EngineKind, options: Partial<EngineOptions> & { dataPort: number }): Promise<DataPlaneEngine> {
  const full: EngineOptions = { address: ENGINE_ADDRESS, rtp: false, maxDatagramSize: 1472, ...options };
  const engine = kind === 'js' ? new JsEngine(full) : new NativeEngine(full);
  await engine.start();
  return engine;
}

/** A UDP socket that records what it receives. */
/**
 * What the engine tests of a describe block share: their client and peer sockets, the engines they
 * launch (closed after each test; close is idempotent) and ports asked of the OS, in pairs since an
 * engine in RTP mode takes P and P + 1.
 */
export function engineFixture(kind: EngineKind): { endpoints: Endpoints; port: () => Promise<number>; launch: (options: Partial<EngineOptions> & { dataPort: number }) => Promise<DataPlaneEngine> } {
  const endpoints = new Endpoints();
  const launched: DataPlaneEngine[] = [];
  afterEach(async () => {
    for (const engine of launched.splice(0)) await engine.close();
    await endpoints.closeAll();
  });
  const launch = async (options: Partial<EngineOptions> & { dataPort: number }) => {
    const engine = await startEngine(kind, options);
    launched.push(engine);
    return engine;
  };
  return { endpoints, port: freePortPair, launch };
}

export class Endpoints {
  readonly sockets: dgram.Socket[] = [];

  async open(address = CLIENT_ADDRESS, port = 0): Promise<Station> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => resolve());
    });
    this.sockets.push(socket);
    return new Station(socket);
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.sockets.length = 0;
  }
}

export class Station {
  readonly received: { data: Buffer; from: Endpoint }[] = [];
  constructor(readonly socket: dgram.Socket) {
    socket.on('message', (data, rinfo) => this.received.push({ data, from: { address: rinfo.address, port: rinfo.port } }));
  }

  get endpoint(): Endpoint {
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  send(data: Buffer, port: number, address = ENGINE_ADDRESS): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(data, port, address, (err) => (err ? reject(err) : resolve())));
  }
}

export function client(id: number, endpoint: Endpoint | undefined, role: Role = 'sendrecv', deliver = true, rtcp?: Endpoint): ForwardingClient {
  return { id, sends: role !== 'recvonly', receives: role !== 'sendonly', deliver, endpoints: [endpoint, rtcp] };
}

/** An RTP-looking payload (first byte 0x80) carrying a number, so order and identity can be checked. */
export function payload(n: number, size = 200): Buffer {
  const buf = Buffer.alloc(size, 0x5a);
  buf[0] = 0x80;
  buf.writeUInt32BE(n, 4);
  return buf;
}
