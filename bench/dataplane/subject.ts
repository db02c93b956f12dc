// One forwarder under test, in its own process so its CPU time can be read from /proc: the native
// engine (with or without UDP GSO), the TypeScript engine, or a plain node:dgram loop (the baseline a reflector would be without
// an engine). It forwards every datagram from the generator's source to K sinks, prints "ready", and
// answers "stats" on stdin with one JSON line; it exits when stdin closes.
// usage: node dist/bench/dataplane/subject.js native|native-nogso|js|dgram LISTEN_ADDR LISTEN_PORT SOURCE_ADDR SOURCE_PORT
//          SINK_ADDR SINK_BASE K [SENDERS [VARIANT]]   (senders at SOURCE_PORT..+SENDERS-1, each also a receiver's peer)
// VARIANT: 'plain' (default): the K sinks are clients. 'peers': the K sinks are peer reflectors (each copy
// carries the 16-byte peer header), an open mesh. 'auth': the same with a mesh key, so every datagram
// is tagged once (epoch, HMAC-SHA256/128) before its K copies go out: auth minus peers is the cost of
// authenticated peers on the sending side (docs/security.md "Authenticated peers").
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';
import type { DataPlaneEngine, ForwardingClient } from '../../reflector/mirror/engine.js';
import { JsEngine } from '../../reflector/mirror/js-engine.js';
import { NativeEngine } from '../../reflector/native/native-engine.js';
import { singleKeySet } from '../../protocol/security/mesh-key-set.js';

export type SubjectKind = 'native' | 'native-nogso' | 'js' | 'dgram';

interface Forwarder {
  stats(): Record<string, number>;
  close(): Promise<void>;
}

async function startEngine(kind: 'native' | 'native-nogso' | 'js', listen: string, port: number, source: string, sourcePort: number, sink: string, sinkBase: number, k: number, senders: number, variant: string): Promise<Forwarder> {
  const toPeers = variant === 'peers' || variant === 'auth';
  const options = {
    address: listen,
    dataPort: port,
    rtp: false,
    maxDatagramSize: 1472,
    ...(variant === 'auth' ? { peerAuth: { keys: singleKeySet(Buffer.alloc(32, 0x5a)), advertiseAddress: listen } } : {}),
  };
  const engine: DataPlaneEngine = kind === 'js' ? new JsEngine(options) : new NativeEngine(options, undefined, { gso: kind === 'native' });
  await engine.start();
  const clients: ForwardingClient[] = [];
  for (let i = 0; i < senders; i++) clients.push({ id: 1 + i, sends: true, receives: false, deliver: true, endpoints: [{ address: source, port: sourcePort + i }, undefined] });
  const peers = [];
  for (let i = 0; i < k; i++) {
    if (toPeers) peers.push({ id: `sink-${i}`, address: sink, dataPort: sinkBase + i });
    else clients.push({ id: 100 + i, sends: false, receives: true, deliver: true, endpoints: [{ address: sink, port: sinkBase + i }, undefined] });
  }
  engine.setTable({ clients, peers });
  return {
    stats: () => {
      const c = engine.counters();
      const extra = engine instanceof NativeEngine ? engine.engineStats() : {};
      return { in: c.datagramsIn.client, out: c.datagramsOut.client + c.datagramsOut.peer, sendErrors: c.dropped.send_error, ...extra };
    },
    close: () => engine.close(),
  };
}

async function startDgramLoop(listen: string, port: number, sink: string, sinkBase: number, k: number): Promise<Forwarder> {
  const socket = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, listen, () => resolve());
  });
  let received = 0;
  let sent = 0;
  socket.on('message', (msg) => {
    received++;
    for (let i = 0; i < k; i++) socket.send(msg, sinkBase + i, sink);
    sent += k;
  });
  return {
    stats: () => ({ in: received, out: sent }),
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

async function main(argv: string[]): Promise<void> {
  const [kind, listen, port, source, sourcePort, sink, sinkBase, k, senders, variant = 'plain'] = argv;
  if (!['plain', 'peers', 'auth'].includes(variant)) throw new Error(`unknown variant ${variant}; use plain, peers or auth`);
  if (variant !== 'plain' && kind === 'dgram') throw new Error(`the dgram loop has no peers; variant ${variant} is for the engines`);
  if (!kind || !['native', 'native-nogso', 'js', 'dgram'].includes(kind) || !k) {
    throw new Error('usage: subject.js native|native-nogso|js|dgram LISTEN_ADDR LISTEN_PORT SOURCE_ADDR SOURCE_PORT SINK_ADDR SINK_BASE K');
  }
  const forwarder =
    kind === 'dgram'
      ? await startDgramLoop(listen!, Number(port), sink!, Number(sinkBase), Number(k))
      : await startEngine(kind as 'native' | 'native-nogso' | 'js', listen!, Number(port), source!, Number(sourcePort), sink!, Number(sinkBase), Number(k), Number(senders ?? 1), variant);
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    if (line.trim() === 'stats') process.stdout.write(`${JSON.stringify(forwarder.stats())}\n`);
  });
  lines.on('close', () => {
    void forwarder.close().then(() => process.exit(0));
  });
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`subject: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
