// An engine in its own process, for tests that stop it (SIGSTOP) or load a fault shim into it
// (LD_PRELOAD). Usage: engine-child.js native|js ADDRESS DATA_PORT TABLE_JSON [SOCKET_BUFFER_BYTES]
// Prints "ready" once serving the table; answers each "counters" line on stdin with the counters as JSON.
/* global console */
import process from 'node:process';
import { createInterface } from 'node:readline';
import { JsEngine } from '../../../dist/reflector/mirror/js-engine.js';
import { NativeEngine } from '../../../dist/reflector/native/native-engine.js';

const [kind, address, dataPort, table, socketBufferBytes] = process.argv.slice(2);
const options = { address, dataPort: Number(dataPort), rtp: false, maxDatagramSize: 1472 };
const tuning = socketBufferBytes ? { socketBufferBytes: Number(socketBufferBytes) } : {};
const engine = kind === 'js' ? new JsEngine(options) : new NativeEngine(options, undefined, tuning);
await engine.start();
engine.setTable(JSON.parse(table));
console.log('ready');
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'counters') console.log(JSON.stringify(engine.counters()));
}
await engine.close();
