// Run by overflow.test.ts: an engine (argv[2]: native or js) on argv[3]:argv[4] serving one client at
// argv[5]:argv[6], in its own process so the test can stop it (SIGSTOP) while datagrams pile up in its
// socket. Prints "ready" once serving; answers each "counters" line on stdin with the counters as JSON.
/* global console */
import process from 'node:process';
import { createInterface } from 'node:readline';
import { JsEngine } from '../../../dist/reflector/mirror/js-engine.js';
import { NativeEngine } from '../../../dist/reflector/native/native-engine.js';

const [kind, address, dataPort, clientAddress, clientPort] = process.argv.slice(2);
const options = { address, dataPort: Number(dataPort), rtp: false, maxDatagramSize: 1472 };
// A small receive buffer for the native engine (a few datagrams); the TypeScript one keeps its own.
const engine = kind === 'js' ? new JsEngine(options) : new NativeEngine(options, undefined, { socketBufferBytes: 16384 });
await engine.start();
engine.setTable({ clients: [{ id: 1, sends: true, receives: false, deliver: true, endpoints: [{ address: clientAddress, port: Number(clientPort) }] }], peers: [] });
console.log('ready');
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'counters') console.log(JSON.stringify(engine.counters()));
}
await engine.close();
