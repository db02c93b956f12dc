// The client's UDP side (docs/protocol.md §2): its data socket(s), one per port index, bound before
// it registers so that the reflector learns its address from its own datagrams (NAT-safe), and the
// REGISTER/ACK handshake over them. A REGISTER_ACK counts only when its tag verifies with the session
// key and it echoes a nonce newer than any before (a replayed ACK proves nothing).
import dgram from 'node:dgram';
import {
  ControlType,
  decodeControlDatagram,
  encodeControlDatagram,
  isControlDatagram,
  verifyControlTag,
  type ControlDatagram,
  type PortIndex,
} from '../protocol/wire/control-datagram.js';
import { ERROR_CODES } from '../protocol/errors.js';
import type { ReflectorInfo } from '../protocol/api-schemas.js';
import { MeshError } from './types.js';

/** What the sockets need of the session: the id to register and the key to tag and verify with. */
export interface SessionKey {
  clientId: number;
  key: Buffer;
}

/** What the sockets tell the client, and ask of it. */
export interface DataSocketsHost {
  session(): SessionKey | undefined;
  closed(): boolean;
  /** A datagram that is not a control datagram: a payload, if it comes from a reflector. */
  data(msg: Buffer, portIndex: PortIndex, from: dgram.RemoteInfo): void;
  warning(err: Error): void;
  /** A genuine, fresh REGISTER_ACK came from `from`. */
  acked(from: dgram.RemoteInfo): void;
  /** A REFUSED that no registration waits for (the serving reflector no longer knows the client). */
  refused(from: dgram.RemoteInfo): void;
}

export interface BindOptions {
  address: string;
  /** The port of index 0 (index 1 uses port + 1); 0 = any. */
  port: number;
  receiveBufferBytes: number;
}

interface RegistrationWaiter {
  onAck(nonce: bigint): void;
  onRefused(): void;
}

export class DataSockets {
  sockets: dgram.Socket[] = [];
  private readonly waiters = new Map<string, RegistrationWaiter>();
  private readonly nonces: [number, number] = [0, 0];
  /** The newest REGISTER_ACK nonce accepted per reflector data socket: an older one is a replay. */
  private readonly lastAck = new Map<string, bigint>();

  constructor(
    private readonly host: DataSocketsHost,
    private readonly registerRetryMs: number,
  ) {}

  /** Binds `count` sockets (2 in RTP mode), once: a failover keeps the client's address. */
  async bind(count: 1 | 2, options: BindOptions): Promise<void> {
    if (this.sockets.length > 0) return;
    for (let i = 0; i < count; i++) {
      const socket = dgram.createSocket({ type: options.address.includes(':') ? 'udp6' : 'udp4' });
      const portIndex = i as PortIndex;
      socket.on('message', (msg, rinfo) => this.onDatagram(msg, portIndex, rinfo));
      socket.on('error', (err) => this.host.warning(err));
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(options.port === 0 ? 0 : options.port + i, options.address, () => {
          socket.off('error', reject);
          setBufferSize(socket, options.receiveBufferBytes);
          resolve();
        });
      });
      this.sockets.push(socket);
    }
  }

  /** Sends REGISTER on every port every registerRetryMs until each is acknowledged by `reflector`. */
  register(reflector: ReflectorInfo, deadlineMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const count = this.sockets.length;
      const acked = new Array<boolean>(count).fill(false);
      const keys = acked.map((_, i) => sourceKey(reflector.address, reflector.dataPort + i));
      const cleanup = (): void => {
        clearInterval(retry);
        clearTimeout(deadline);
        for (const k of keys) this.waiters.delete(k);
      };
      const sendAll = (): void => {
        if (this.host.closed()) {
          cleanup();
          reject(new MeshError('the client is closed', ERROR_CODES.CLOSED, 0));
          return;
        }
        for (let i = 0; i < count; i++) if (!acked[i]) this.sendControl(ControlType.Register, i as PortIndex, reflector);
      };
      // Only an ACK of a REGISTER (or KEEPALIVE) sent from now on counts: one echoing an older nonce,
      // replayed from an earlier registration at the same reflector, proves nothing about this one.
      const since = acked.map((_, i) => BigInt(this.nonces[i as PortIndex]) + 1n);
      keys.forEach((key, i) => {
        this.waiters.get(key)?.onRefused();
        this.waiters.set(key, {
          onAck: (nonce) => {
            if (nonce < since[i]!) return;
            acked[i] = true;
            if (acked.every(Boolean)) {
              cleanup();
              resolve();
            }
          },
          onRefused: () => {
            cleanup();
            reject(new MeshError(`reflector ${reflector.id} refused the registration`, ERROR_CODES.REFUSED, 0));
          },
        });
      });
      const retry = setInterval(sendAll, this.registerRetryMs);
      const deadline = setTimeout(() => {
        cleanup();
        reject(new MeshError(`no REGISTER_ACK from reflector ${reflector.id} within ${deadlineMs} ms`, ERROR_CODES.REGISTER_TIMEOUT, 0));
      }, deadlineMs);
      sendAll();
    });
  }

  /** A REGISTER or KEEPALIVE from port `portIndex`, with a nonce newer than the last. */
  sendControl(type: ControlDatagram['type'], portIndex: PortIndex, reflector: ReflectorInfo): void {
    const session = this.host.session();
    const socket = this.sockets[portIndex];
    if (!session || !socket) return;
    const now = Date.now();
    this.nonces[portIndex] = now > this.nonces[portIndex] ? now : this.nonces[portIndex] + 1;
    const datagram = encodeControlDatagram({ type, clientId: session.clientId, nonce: BigInt(this.nonces[portIndex]) }, session.key);
    socket.send(datagram, reflector.dataPort + portIndex, reflector.address);
  }

  /** Fails every registration still waiting and closes the sockets. */
  close(): void {
    for (const w of [...this.waiters.values()]) w.onRefused();
    this.waiters.clear();
    for (const s of this.sockets) s.close();
    this.sockets = [];
  }

  private onDatagram(msg: Buffer, portIndex: PortIndex, from: dgram.RemoteInfo): void {
    if (isControlDatagram(msg)) this.onControlDatagram(msg, from);
    else this.host.data(msg, portIndex, from);
  }

  private onControlDatagram(msg: Buffer, from: dgram.RemoteInfo): void {
    const session = this.host.session();
    if (!session) return;
    let datagram: ControlDatagram;
    try {
      datagram = decodeControlDatagram(msg);
    } catch {
      return;
    }
    if (datagram.clientId !== session.clientId) return;
    const key = sourceKey(from.address, from.port);
    if (datagram.type === ControlType.RegisterAck) {
      if (!verifyControlTag(msg, session.key)) return;
      // Our nonces only grow, so each genuine ACK from a reflector echoes a newer one than the last.
      const last = this.lastAck.get(key);
      if (last !== undefined && datagram.nonce <= last) return;
      this.lastAck.set(key, datagram.nonce);
      this.host.acked(from);
      this.waiters.get(key)?.onAck(datagram.nonce);
    } else if (datagram.type === ControlType.Refused) {
      const waiter = this.waiters.get(key);
      if (waiter) waiter.onRefused();
      else this.host.refused(from);
    }
  }
}

/** Best effort: the kernel caps the size at its maximum, and some systems refuse; the default then stays. */
function setBufferSize(socket: dgram.Socket, bytes: number): void {
  try {
    socket.setRecvBufferSize(bytes);
  } catch {
    // keep the system default
  }
}

function sourceKey(address: string, port: number): string {
  return `${address}|${port}`;
}
