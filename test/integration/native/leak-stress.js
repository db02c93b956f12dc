// Run by sanitizer.test.ts under AddressSanitizer with leak detection: drives the error paths of the
// addon given as argv[2] (a table whose client or peer element throws while it is read, bad tables,
// open() refused for a bad callback or a port in use), then exits; LeakSanitizer reports at exit what
// any of them left behind. Prints 'done' at the end.
/* global Buffer, console, global */
import process from 'node:process';
import { tryLoad } from '../../../dist/reflector/native/addon.js';

const load = tryLoad([process.argv[2]]);
if (!load.ok) throw new Error(load.reason);
const addon = load.addon;
const options = { address: '127.0.4.21', dataPort: 38300, rtp: true, maxDatagramSize: 1000, slots: 4, latencyBucketsSeconds: [0.001] };
const opened = addon.open(options, () => {});
const client = (port) => ({ id: port, sends: true, receives: true, deliver: true, endpoints: [{ address: '127.0.4.21', port }] });
/** An array whose element i throws when read (a getter, as a Proxy or a careless caller could make). */
const throwingAt = (items, i) => {
  const array = [...items];
  Object.defineProperty(array, i, { get: () => { throw new Error('element getter'); } });
  return array;
};
const slots = new Uint32Array(4);
// setTable(handle, clients, slots, generations, peers[, auth]); an addon from before line generations
// (no layout.slotGeneration) takes no generations: so the same run shows that addon's leaks.
const setTable = (clients, peers, auth) =>
  addon.layout.slotGeneration === undefined ? addon.setTable(opened.handle, clients, slots, peers, auth) : addon.setTable(opened.handle, clients, slots, slots, peers, auth);
const attempts = [
  () => setTable(throwingAt([client(1), client(2), client(3)], 2), []),
  () => setTable([client(1)], throwingAt([{ address: '127.0.4.21', dataPort: 38400 }, {}], 1)),
  () => setTable([client(1), { ...client(2), endpoints: [{ address: 'not an address', port: 1 }] }], []),
  () => setTable([client(1)], [{ address: '127.0.4.21', dataPort: 70000 }]),
  () => setTable([client(1)], [{ address: '127.0.4.21', dataPort: 38400 }], { keyCount: 1 }),
  () => setTable([client(1)], [], { selfKeys: [Buffer.alloc(3)], keyCount: 0 }),
  () => addon.open({ ...options, dataPort: 38310 }, 'not a function'),
  () => addon.open(options, () => {}),  // the ports are in use
];
let thrown = 0;
for (let round = 0; round < 50; round++) {
  for (const attempt of attempts) {
    try {
      attempt();
    } catch {
      thrown++;
    }
  }
}
setTable([client(1)], []);
addon.close(opened.handle);
if (global.gc) global.gc();
console.log(`thrown ${thrown} of ${50 * attempts.length}`);
console.log('done');
