// Helpers for the data-plane engine tests: real UDP sockets on 127.0.4.x that play clients and peers,
// and a way to start either engine (TypeScript or native) with the same options.
import dgram from 'node:dgram';
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

export async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** An RTP-looking payload (first byte 0x80) carrying a number, so order and identity can be checked. */
export function payload(n: number, size = 200): Buffer {
  const buf = Buffer.alloc(size, 0x5a);
  buf[0] = 0x80;
  buf.writeUInt32BE(n, 4);
  return buf;
}
