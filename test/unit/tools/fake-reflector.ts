// A minimal single reflector speaking docs/protocol.md's client side (join, event stream, REGISTER,
// KEEPALIVE, mirror between its clients), for fast unit tests of the client tools. The integration
// tests use real `rmesh reflector` processes; this only lets the tools' own logic be tested in
// milliseconds.
import dgram from 'node:dgram';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { formatClientId, randomClientId } from '../../../protocol/wire/client-id.js';
import {
  ControlType,
  decodeControlDatagram,
  encodeControlDatagram,
  isControlDatagram,
  verifyControlTag,
} from '../../../protocol/wire/control-datagram.js';

interface FakeSession {
  key: Buffer;
  role: string;
  endpoints: (dgram.RemoteInfo | undefined)[];
}

export class FakeReflector {
  readonly sessions = new Map<number, FakeSession>();
  /** The Authorization header of each join, in order (undefined when none was sent). */
  readonly joinAuthorizations: (string | undefined)[] = [];
  /** When set, the next `times` joins are refused 429 with this Retry-After header value. */
  rateLimitJoins: { times: number; retryAfter: string } | undefined;
  /** When set, joins are refused with this protocol error (e.g. an expired token). */
  refuseJoins: { statusCode: number; code: string } | undefined;
  /** Every REGISTER_ACK sent, with where it went (for replays). */
  readonly acksSent: { ack: Buffer; portIndex: number; to: dgram.RemoteInfo }[] = [];
  /** When true, control datagrams are ignored (a reflector whose REGISTERs never arrive). */
  ignoreControl = false;
  /** registrationDeadlineMs of the join answers. */
  registrationDeadlineMs = 5000;
  private readonly sockets: dgram.Socket[] = [];
  private server: http.Server | undefined;
  private readonly streams = new Set<http.ServerResponse>();
  controlPort = 0;
  dataPort = 0;

  constructor(
    private readonly address: string,
    private readonly rtp: boolean,
  ) {}

  get join(): string {
    return `${this.address}:${this.controlPort}`;
  }

  async start(): Promise<void> {
    for (let i = 0; i < (this.rtp ? 2 : 1); i++) {
      const socket = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(i === 0 ? 0 : this.dataPort + 1, this.address, resolve));
      if (i === 0) this.dataPort = socket.address().port;
      socket.on('message', (msg, rinfo) => this.onDatagram(msg, i, rinfo));
      this.sockets.push(socket);
    }
    this.server = http.createServer((req, res) => this.onRequest(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, this.address, resolve));
    this.controlPort = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.streams) s.destroy();
    for (const s of this.sockets) s.close();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** Sends a datagram from the data socket of a port index (e.g. a replayed ACK). */
  sendFromData(portIndex: number, buf: Buffer, to: { address: string; port: number }): void {
    this.sockets[portIndex]!.send(buf, to.port, to.address);
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Sends an event on every open event stream. */
  sendEvent(name: string, data: unknown): void {
    for (const s of this.streams) s.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  info() {
    return { id: 'fake', address: this.address, dataPort: this.dataPort, controlPort: this.controlPort, rtp: this.rtp };
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method === 'POST' && req.url === '/v1/join') {
      this.joinAuthorizations.push(req.headers.authorization);
      if (this.rateLimitJoins && this.rateLimitJoins.times > 0) {
        this.rateLimitJoins.times--;
        res.writeHead(429, { 'content-type': 'application/json', 'retry-after': this.rateLimitJoins.retryAfter });
        res.end(JSON.stringify({ statusCode: 429, code: 'RMESH_RATE_LIMITED', error: 'Too Many Requests', message: 'too many requests' }));
        return;
      }
      if (this.refuseJoins) {
        const { statusCode, code } = this.refuseJoins;
        res.writeHead(statusCode, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ statusCode, code, error: 'Refused', message: `refused (${code})` }));
        return;
      }
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const { role = 'sendrecv' } = JSON.parse(body || '{}') as { role?: string };
        const id = randomClientId();
        const key = randomBytes(32);
        this.sessions.set(id, { key, role, endpoints: [undefined, undefined] });
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            clientId: formatClientId(id),
            sessionKey: key.toString('base64url'),
            role,
            reflector: this.info(),
            reflectors: [this.info()],
            keepaliveIntervalMs: 1000,
            idleTimeoutMs: 10_000,
            registrationDeadlineMs: this.registrationDeadlineMs,
          }),
        );
      });
      return;
    }
    if (req.method === 'GET' && req.url?.endsWith('/events')) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: reflectors\ndata: ${JSON.stringify({ reflectors: [this.info()] })}\n\n`);
      const ping = setInterval(() => res.write(': ping\n\n'), 1000);
      this.streams.add(res);
      res.on('close', () => {
        clearInterval(ping);
        this.streams.delete(res);
      });
      return;
    }
    if (req.method === 'POST' && req.url?.endsWith('/leave')) {
      res.writeHead(204).end();
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: 'no such endpoint' }));
  }

  private onDatagram(msg: Buffer, portIndex: number, from: dgram.RemoteInfo): void {
    const socket = this.sockets[portIndex]!;
    if (isControlDatagram(msg)) {
      if (this.ignoreControl) return;
      const datagram = decodeControlDatagram(msg);
      const session = this.sessions.get(datagram.clientId);
      if (!session || !verifyControlTag(msg, session.key)) return;
      session.endpoints[portIndex] = from;
      const ack = encodeControlDatagram({ type: ControlType.RegisterAck, clientId: datagram.clientId, nonce: datagram.nonce }, session.key);
      socket.send(ack, from.port, from.address);
      this.acksSent.push({ ack, portIndex, to: from });
      return;
    }
    const sender = [...this.sessions.values()].find(
      (s) => s.endpoints[portIndex]?.address === from.address && s.endpoints[portIndex]?.port === from.port,
    );
    if (!sender || sender.role === 'recvonly') return;
    for (const s of this.sessions.values()) {
      const to = s.endpoints[portIndex];
      if (s === sender || !to || s.role === 'sendonly') continue;
      socket.send(msg, to.port, to.address);
    }
  }
}
