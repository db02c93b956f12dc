// The traffic generator: one mesh client (through the SDK's MeshClient) that sends a paced RTP stream
// and analyzes everyone else's, and records its own migrations and failovers so their gaps and losses
// appear in the report. The CLI (`rmesh client`) and the benchmarks drive it.
import { MeshClient, type MeshClientOptions, type Role } from '../../client/mesh-client.js';
import { Analyzer } from './analyzer.js';
import { PacingSchedule } from './pacing.js';
import {
  GENERATOR_HEADER_SIZE,
  decodeGeneratorPacket,
  emptyGeneratorPacket,
  encodeGeneratorPacket,
  rtpTimestampAt,
  type GeneratorPacket,
} from './rtp-packet.js';
import type { ClientReport, SenderReport } from './report.js';

export interface GeneratorOptions {
  /** Reflectors to join through, "HOST:CONTROLPORT" each. */
  join: string[];
  role: Role;
  name?: string;
  /** The client token a keyed mesh needs (MeshClientOptions.token). */
  token?: MeshClientOptions['token'];
  bitrateBps: number;
  /** UDP payload size of each datagram, RTP header included. */
  packetSize: number;
  /** How long to send (and receive). */
  durationMs: number;
  /** How long to keep receiving after sending stops, for datagrams in flight. */
  lingerMs: number;
  /** Local address of the data socket(s). */
  bindAddress?: string;
  /** Leave out every Nth datagram (its sequence number is used anyway): a known loss, for testing. */
  dropEvery?: number;
  failoverTimeoutMs?: number;
  /** Called with the running report every `progressIntervalMs`. */
  onProgress?: (report: ClientReport) => void;
  progressIntervalMs?: number;
  onWarning?: (error: Error) => void;
  /** Aborting ends the run early; the report covers what happened until then. */
  signal?: AbortSignal;
}

/**
 * Buffers per burst: a datagram's buffer is reused only after this many bursts, long after its send
 * (which is asynchronous) completed, so no datagram is overwritten before it leaves.
 */
const BURSTS_IN_FLIGHT = 4;

export async function runGenerator(options: GeneratorOptions): Promise<ClientReport> {
  if (options.packetSize < GENERATOR_HEADER_SIZE) {
    throw new RangeError(`packet size ${options.packetSize} is smaller than the generator's ${GENERATOR_HEADER_SIZE}-byte header`);
  }
  const startNs = process.hrtime.bigint();
  const analyzer = new Analyzer({ startNs });
  const client = new MeshClient({
    join: options.join,
    role: options.role,
    ...(options.name !== undefined ? { name: options.name } : {}),
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.bindAddress !== undefined ? { bindAddress: options.bindAddress } : {}),
    ...(options.failoverTimeoutMs !== undefined ? { failoverTimeoutMs: options.failoverTimeoutMs } : {}),
  });
  const decoded = emptyGeneratorPacket();
  client.on('data', (payload, portIndex) => {
    const now = process.hrtime.bigint();
    if (portIndex === 0 && decodeGeneratorPacket(payload, decoded)) analyzer.onDatagram(decoded, payload.length, now);
    else analyzer.onUnrecognized(payload.length, now);
  });
  client.on('migrated', (e) => {
    const now = process.hrtime.bigint();
    analyzer.addEvent({ kind: 'migration', startNs: now - msToNs(e.durationMs), endNs: now, from: e.from.id, to: e.to.id });
  });
  client.on('failover', (e) => {
    const now = process.hrtime.bigint();
    // The trouble began when the old reflector fell silent, before the client gave up on it.
    const startNs = now - msToNs(e.durationMs + e.silentMs);
    analyzer.addEvent({ kind: 'failover', startNs, endNs: now, from: e.from.id, to: e.to.id, reason: e.reason });
  });
  client.on('warning', (err) => options.onWarning?.(err));

  try {
    await client.join();
  } catch (err) {
    client.close();
    throw err;
  }
  const sender = new Sender(client, options);
  const sends = options.role !== 'recvonly';
  const sendingStartNs = process.hrtime.bigint();
  let sendingEndNs = sendingStartNs;
  const build = (nowNs: bigint): ClientReport => {
    const analysis = analyzer.report(nowNs);
    const stats = client.stats();
    const sendingNs = (sends ? (sender.stopped ? sendingEndNs : nowNs) : sendingStartNs) - sendingStartNs;
    const senderReport = sender.report(stats.datagramsSent, stats.bytesSent, stats.sendsDropped, Number(sendingNs) / 1e6);
    return {
      name: options.name ?? null,
      role: options.role,
      clientId: client.clientId ?? null,
      reflector: client.reflector?.id ?? null,
      durationMs: round3(Number(nowNs - startNs) / 1e6),
      sent: stats.datagramsSent,
      sentBytes: stats.bytesSent,
      sender: senderReport,
      received: analysis.received,
      lossPct: analysis.received.lossPct,
      latencyMs: analysis.received.latencyMs,
      jitterMs: analysis.received.jitterMs,
      migrations: analysis.migrations,
      failovers: analysis.failovers,
    };
  };

  const progress = options.onProgress
    ? setInterval(() => options.onProgress!(build(process.hrtime.bigint())), options.progressIntervalMs ?? 500)
    : undefined;
  try {
    if (sends) sender.start();
    await sleep(options.durationMs, options.signal);
    sender.stop();
    sendingEndNs = process.hrtime.bigint();
    if (!options.signal?.aborted) await sleep(options.lingerMs, options.signal);
    return build(process.hrtime.bigint());
  } finally {
    clearInterval(progress);
    sender.stop();
    await client.leave();
  }
}

/** Paces and sends the stream: RTP sequence and timestamp per datagram, sent in catch-up bursts. */
class Sender {
  readonly ssrc = (Math.random() * 0x1_0000_0000) >>> 0;
  private readonly schedule: PacingSchedule;
  private readonly buffers: Buffer[];
  private readonly packet: GeneratorPacket;
  private readonly initialTimestamp = (Math.random() * 0x1_0000_0000) >>> 0;
  private index = 0;
  private dropped = 0;
  private timer: NodeJS.Timeout | undefined;
  private startNs = 0n;
  stopped = false;

  constructor(
    private readonly client: MeshClient,
    private readonly options: GeneratorOptions,
  ) {
    this.schedule = new PacingSchedule({ bitrateBps: options.bitrateBps, packetSize: options.packetSize });
    const ring = Math.max(16, BURSTS_IN_FLIGHT * this.schedule.maxBurst);
    this.buffers = Array.from({ length: ring }, () => Buffer.alloc(options.packetSize));
    this.packet = { ssrc: this.ssrc, sequence: (Math.random() * 0x1_0000) >>> 0, rtpTimestamp: 0, sentNs: 0n, clientId: 0 };
  }

  start(): void {
    this.startNs = process.hrtime.bigint();
    this.tick();
    this.timer = setInterval(() => this.tick(), this.schedule.tickMs);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
  }

  report(sent: number, sentBytes: number, droppedBySdk: number, sendingMs: number): SenderReport {
    return {
      ssrc: this.ssrc.toString(16).padStart(8, '0'),
      packetSize: this.options.packetSize,
      targetBitrateBps: this.options.bitrateBps,
      bitrateBps: sendingMs > 0 ? Math.round((sentBytes * 8 * 1000) / sendingMs) : 0,
      packetsPerSecond: sendingMs > 0 ? round3((sent * 1000) / sendingMs) : 0,
      droppedOnPurpose: this.dropped,
      droppedDuringFailover: droppedBySdk,
      behindSchedule: this.schedule.skipped,
      lastSequence: this.index > 0 ? this.packet.sequence : null,
    };
  }

  private tick(): void {
    if (this.stopped) return;
    const now = process.hrtime.bigint();
    const due = this.schedule.due(Number(now - this.startNs) / 1e6);
    const dropEvery = this.options.dropEvery ?? 0;
    const packet = this.packet;
    packet.clientId = parseInt(this.client.clientId ?? '0', 16);
    // The RTP timestamp is the send time (not the scheduled time), so jitter measures the path, not the pacing.
    packet.rtpTimestamp = rtpTimestampAt(this.initialTimestamp, now - this.startNs);
    for (let i = 0; i < due; i++) {
      this.index++;
      packet.sequence = (packet.sequence + 1) & 0xffff;
      if (dropEvery > 0 && this.index % dropEvery === 0) {
        this.dropped++;
        continue;
      }
      const buf = this.buffers[this.index % this.buffers.length]!;
      packet.sentNs = process.hrtime.bigint();
      encodeGeneratorPacket(buf, packet);
      this.client.send(buf);
    }
  }
}

function msToNs(ms: number): bigint {
  return BigInt(Math.round(ms * 1e6));
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
