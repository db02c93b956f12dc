// Test traffic over real SDK clients: numbered payloads (sender index, sequence number) and a record of
// what each client received, so a test can check exact-once delivery, no self-echo and zero loss. From
// 20 bytes on, a payload also carries its send time, so a receiver knows how late each datagram came.
import { MeshClient, type MeshClientOptions } from '../../client/mesh-client.js';
import { sleep, waitFor } from './wait.js';
import { testClientToken } from './client-tokens.js';

/** Bytes from which a numbered payload carries its send time (Date.now(), a double at offset 12). */
export const TIMED_PAYLOAD_SIZE = 20;

/** 12 bytes: magic "TST!", sender index, sequence; the first byte 0x54 is never the control magic's "R". */
export function numberedPayload(sender: number, sequence: number, size = 12): Buffer {
  const b = Buffer.alloc(Math.max(12, size));
  b.write('TST!', 0, 'latin1');
  b.writeUInt32BE(sender, 4);
  b.writeUInt32BE(sequence, 8);
  if (b.length >= TIMED_PAYLOAD_SIZE) b.writeDoubleBE(Date.now(), 12);
  return b;
}

export function readNumbered(b: Buffer): { sender: number; sequence: number; sentAtMs?: number } | undefined {
  if (b.length < 12 || b.toString('latin1', 0, 4) !== 'TST!') return undefined;
  const n = { sender: b.readUInt32BE(4), sequence: b.readUInt32BE(8) };
  return b.length >= TIMED_PAYLOAD_SIZE ? { ...n, sentAtMs: b.readDoubleBE(12) } : n;
}

export class TestClient {
  /** sender index -> sequence -> times received */
  readonly received = new Map<number, Map<number, number>>();
  readonly foreign: Buffer[] = [];
  sent = 0;
  /** Timed payloads: the latest arrival (ms after its send), and those that came later than `lateAfterMs`. */
  maxLateMs = 0;
  readonly late: { sentAtMs: number; lateMs: number }[] = [];
  lateAfterMs = Number.POSITIVE_INFINITY;

  constructor(
    readonly index: number,
    readonly client: MeshClient,
  ) {
    client.on('data', (payload) => {
      const n = readNumbered(payload);
      if (!n) {
        this.foreign.push(Buffer.from(payload));
        return;
      }
      if (n.sentAtMs !== undefined) {
        const lateMs = Date.now() - n.sentAtMs;
        this.maxLateMs = Math.max(this.maxLateMs, lateMs);
        if (lateMs > this.lateAfterMs) this.late.push({ sentAtMs: n.sentAtMs, lateMs });
      }
      let bySeq = this.received.get(n.sender);
      if (!bySeq) this.received.set(n.sender, (bySeq = new Map<number, number>()));
      bySeq.set(n.sequence, (bySeq.get(n.sequence) ?? 0) + 1);
    });
    client.on('warning', () => {});
  }

  send(sequence: number, size?: number): void {
    this.client.send(numberedPayload(this.index, sequence, size));
    this.sent = Math.max(this.sent, sequence + 1);
  }

  /** How many of `sender`'s sequences [from, to) arrived (at least once). */
  countFrom(sender: number, from = 0, to = Number.MAX_SAFE_INTEGER): number {
    let n = 0;
    for (const [seq] of this.received.get(sender) ?? []) if (seq >= from && seq < to) n++;
    return n;
  }

  /** Sequences of `sender` in [from, to) that never arrived. */
  missingFrom(sender: number, from: number, to: number): number[] {
    const got: Map<number, number> = this.received.get(sender) ?? new Map<number, number>();
    const missing: number[] = [];
    for (let s = from; s < to; s++) if (!got.has(s)) missing.push(s);
    return missing;
  }

  /** Datagrams of its own that came back to this client (the mesh must never send any). */
  ownReceived(): number {
    let n = 0;
    for (const [, times] of this.received.get(this.index) ?? []) n += times;
    return n;
  }

  /** Sequences of `sender` that arrived more than once. */
  duplicatesFrom(sender: number): number {
    let n = 0;
    for (const [, times] of this.received.get(sender) ?? []) if (times > 1) n++;
    return n;
  }
}

/**
 * Joins `count` clients one after the other (so admission spreads them) and returns them registered.
 * Each presents a token signed with the test mesh key unless its options name one.
 */
export async function joinClients(
  count: number,
  options: (i: number) => MeshClientOptions,
): Promise<TestClient[]> {
  const clients: TestClient[] = [];
  for (let i = 0; i < count; i++) {
    const client = new MeshClient({ token: testClientToken(), ...options(i) });
    await client.join();
    clients.push(new TestClient(i, client));
  }
  return clients;
}

/** Every sending client sends sequences [from, to), paced `perTickMs` apart, round-robin across clients. */
export async function sendRounds(senders: TestClient[], from: number, to: number, perTickMs = 2): Promise<void> {
  for (let seq = from; seq < to; seq++) {
    for (const s of senders) s.send(seq);
    await sleep(perTickMs);
  }
}

/**
 * Every sending client sends the next sequence every `perTickMs` (timed payloads) until stopped: the
 * steady stream a stall or a partition cuts into. `sequence` is the next one to go.
 */
export class TrafficLoop {
  sequence: number;
  private stopped = false;
  private readonly done: Promise<void>;

  constructor(
    private readonly senders: TestClient[],
    from = 0,
    private readonly perTickMs = 5,
  ) {
    this.sequence = from;
    this.done = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      for (const s of this.senders) s.send(this.sequence, TIMED_PAYLOAD_SIZE);
      this.sequence++;
      await sleep(this.perTickMs);
    }
  }

  async stop(): Promise<number> {
    this.stopped = true;
    await this.done;
    return this.sequence;
  }
}

export function closeClients(clients: TestClient[]): void {
  for (const c of clients) c.client.close();
}

/** Traffic that runs until stopped: every sender sends the next sequence every `everyMs` (`size` bytes, default 12). */
export interface SteadyTraffic {
  /** Stops sending; resolves to the number of sequences each sender sent ([0, n)). */
  stop(): Promise<number>;
  /** Sequences sent so far by each sender. */
  readonly sent: number;
}

export function steadyTraffic(senders: TestClient[], everyMs = 5, size?: number): SteadyTraffic {
  let sequence = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const s of senders) s.send(sequence, size);
      sequence++;
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return sequence;
    },
    get sent() {
      return sequence;
    },
  };
}

/** Per receiver and sender, the sequences of [0, n) that never arrived (empty lists when nothing was lost). */
export function lossReport(clients: TestClient[], n: number): string[] {
  const lines: string[] = [];
  for (const r of clients) {
    for (const s of clients) {
      if (s === r) continue;
      const missing = r.missingFrom(s.index, 0, n);
      if (missing.length) lines.push(`client ${r.index} missed ${missing.length} of ${s.index}'s ${n} (first ${missing.slice(0, 5).join(',')})`);
    }
  }
  return lines;
}

/**
 * Waits until every client has every round [from, to) from every other (the last datagrams in flight
 * arrive), or `timeoutMs` passes; never throws: the test's own assertions then name what is missing.
 */
export async function delivered(clients: TestClient[], from: number, to: number, timeoutMs = 3000): Promise<void> {
  const complete = () => clients.every((r) => clients.every((s) => s === r || r.countFrom(s.index, from, to) === to - from));
  await waitFor(complete, { timeoutMs, what: `rounds ${from}..${to - 1} at every client` }).catch(() => undefined);
}

/** Waits until every client has heard from every other at least once at or after round `from` (traffic is flowing). */
export async function flowing(clients: TestClient[], from = 0, timeoutMs = 10_000): Promise<void> {
  await waitFor(() => clients.every((r) => clients.every((s) => s === r || r.countFrom(s.index, from) > 0)), { timeoutMs, what: 'traffic between every pair of clients' });
}
