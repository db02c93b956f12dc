// The RTP proxy: lets an unmodified RTP application use the mesh. The application sends RTP to a local
// port (and RTCP to the next one); the proxy passes both into the mesh through the SDK's MeshClient,
// which does the joining, registration, keep-alives, migrations and failover. What the mesh delivers
// goes to the ports the application named (RTP to one, RTCP to the next), or, without them, back to
// where the application sends from (symmetric RTP).
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isControlDatagram } from '../../protocol/wire/control-datagram.js';
import {
  MeshClient,
  type FailoverEvent,
  type MeshClientOptions,
  type MigratedEvent,
  type PortIndex,
  type ReflectorInfo,
  type Role,
  type SessionInfo,
} from '../../client/mesh-client.js';
import { describeJoinError } from '../join-error.js';
import { bindLocalPorts, type Endpoint } from './local-ports.js';

export type { Endpoint };

export interface ProxyOptions {
  join: string[];
  role: Role;
  name?: string;
  /** The client token a keyed mesh needs (MeshClientOptions.token). */
  token?: MeshClientOptions['token'];
  /** Where the application sends: RTP to `port`, RTCP to `port + 1`. Port 0 picks free ports. */
  listen: Endpoint;
  /** Where the mesh's traffic goes: RTP to `port`, RTCP to `port + 1`; undefined = back to the sender's address. */
  deliver?: Endpoint;
  /** Carry RTCP on the next port (default true). */
  rtcp?: boolean;
  /** Local address of the proxy's sockets towards the mesh (default: any). */
  meshBindAddress?: string;
  failoverTimeoutMs?: number;
}

export interface ProxyStats {
  /** From the application into the mesh, by port index (RTP, RTCP). */
  fromApplication: [number, number];
  /** From the mesh to the application, by port index. */
  toApplication: [number, number];
  /** Datagrams that could not be passed on: a recvonly role, RTCP while the mesh has no RTCP port, no known destination. */
  dropped: { role: number; noRtcpInMesh: number; noDestination: number; controlMagic: number };
  migrations: number;
  failovers: number;
}

export interface ProxyEvents {
  ready: [info: { listen: Endpoint[]; session: SessionInfo }];
  migrated: [event: MigratedEvent];
  failover: [event: FailoverEvent];
  reflectors: [reflectors: ReflectorInfo[]];
  warning: [error: Error];
}

export class RtpProxy extends EventEmitter<ProxyEvents> {
  private local: dgram.Socket[] = [];
  private client: MeshClient | undefined;
  /** Where the application sends from, by port index: the destination when none was named. */
  private readonly applicationSource: (Endpoint | undefined)[] = [undefined, undefined];
  private meshPorts = 1;
  private warnedNoRtcp = false;
  private readonly counters: ProxyStats = {
    fromApplication: [0, 0],
    toApplication: [0, 0],
    dropped: { role: 0, noRtcpInMesh: 0, noDestination: 0, controlMagic: 0 },
    migrations: 0,
    failovers: 0,
  };

  constructor(private readonly options: ProxyOptions) {
    super();
  }

  /**
   * Binds the local ports, then joins the mesh. Rejects with a PortInUseError naming the port (and a
   * free one to use instead), or with an error saying why the mesh refused the client.
   */
  async start(): Promise<{ listen: Endpoint[]; session: SessionInfo }> {
    const count = this.options.rtcp === false ? 1 : 2;
    this.local = await bindLocalPorts(this.options.listen, count);
    this.local.forEach((socket, i) => socket.on('message', (msg, rinfo) => this.fromApplication(msg, i as PortIndex, rinfo)));
    const client = new MeshClient({
      join: this.options.join,
      role: this.options.role,
      ...(this.options.name !== undefined ? { name: this.options.name } : {}),
      ...(this.options.token !== undefined ? { token: this.options.token } : {}),
      ...(this.options.meshBindAddress !== undefined ? { bindAddress: this.options.meshBindAddress } : {}),
      ...(this.options.failoverTimeoutMs !== undefined ? { failoverTimeoutMs: this.options.failoverTimeoutMs } : {}),
    });
    client.on('data', (payload, portIndex) => this.toApplication(payload, portIndex));
    client.on('migrated', (e) => {
      this.counters.migrations++;
      this.emit('migrated', e);
    });
    client.on('failover', (e) => {
      this.counters.failovers++;
      this.emit('failover', e);
    });
    client.on('reflectors', (list) => this.emit('reflectors', list));
    client.on('warning', (err) => this.emit('warning', err));
    let session: SessionInfo;
    try {
      session = await client.join();
    } catch (err) {
      client.close();
      this.closeLocal();
      throw describeJoinError(err);
    }
    this.client = client;
    this.meshPorts = session.portCount;
    const listen = this.local.map((s) => {
      const a = s.address();
      return { host: a.address, port: a.port };
    });
    const ready = { listen, session };
    this.emit('ready', ready);
    return ready;
  }

  stats(): ProxyStats {
    return structuredClone(this.counters);
  }

  /** Leaves the mesh and closes every socket. */
  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.leave();
    this.closeLocal();
  }

  private fromApplication(msg: Buffer, portIndex: PortIndex, from: dgram.RemoteInfo): void {
    this.applicationSource[portIndex] = { host: from.address, port: from.port };
    const client = this.client;
    if (!client) return;
    if (this.options.role === 'recvonly') {
      this.counters.dropped.role++;
      return;
    }
    if (portIndex >= this.meshPorts) {
      this.counters.dropped.noRtcpInMesh++;
      if (!this.warnedNoRtcp) {
        this.warnedNoRtcp = true;
        this.emit('warning', new Error('the mesh is not in RTP mode (no RTCP port): RTCP from the application is dropped'));
      }
      return;
    }
    // A payload starting with the control magic would be taken for a control datagram; RTP never does.
    if (isControlDatagram(msg)) {
      this.counters.dropped.controlMagic++;
      return;
    }
    client.send(msg, portIndex);
    this.counters.fromApplication[portIndex]++;
  }

  private toApplication(payload: Buffer, portIndex: PortIndex): void {
    const socket = this.local[portIndex];
    const deliver = this.options.deliver;
    const destination = deliver ? { host: deliver.host, port: deliver.port + portIndex } : this.applicationSource[portIndex];
    if (!socket || !destination) {
      this.counters.dropped.noDestination++;
      return;
    }
    socket.send(payload, destination.port, destination.host);
    this.counters.toApplication[portIndex]++;
  }

  private closeLocal(): void {
    for (const s of this.local) s.close();
    this.local = [];
  }
}
