// Run by sanitizer.test.ts under AddressSanitizer and UBSan: drives the native addon given as argv[2]
// through table swaps under traffic, GSO bursts, peer data (some malformed), both RTP ports, more
// clients than activity lines, control hand-off and close, three times (the second with a mesh key:
// tagged peer copies, peer data tagged, forged, replayed or untagged, and the key set rotated under
// traffic: the peer's key second in the set, then accepted unsigned, then alone). Prints 'done' at the end.
/* global Buffer, console, setTimeout, global */
import dgram from 'node:dgram';
import process from 'node:process';
import { tryLoad } from '../../../dist/reflector/native/addon.js';
import { NativeEngine } from '../../../dist/reflector/native/native-engine.js';
import { writePeerHeader, writeTaggedPeerHeader } from '../../../dist/protocol/wire/peer-header.js';
import { peerEndpointKey, writePeerTag } from '../../../dist/reflector/security/peer-tag.js';
const MESH_KEY = Buffer.alloc(32, 7);
const OTHER_KEY = Buffer.alloc(32, 8);
// Rotation steps: the peer's key (MESH_KEY) verifies second, then with unsigned accepted, then alone.
const KEY_SETS = [
  { current: OTHER_KEY, accepted: [MESH_KEY], acceptUnsigned: false },
  { current: MESH_KEY, accepted: [OTHER_KEY], acceptUnsigned: true },
  { current: MESH_KEY, accepted: [], acceptUnsigned: false },
];
const PEER_KEY = peerEndpointKey(MESH_KEY, '127.0.4.20', 38200);
const load = tryLoad([process.argv[2]]);
if (!load.ok) throw new Error(load.reason);
const sock = (port) => new Promise((r) => { const s = dgram.createSocket('udp4'); s.bind(port, '127.0.4.20', () => r(s)); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let round = 0; round < 3; round++) {
  const auth = round === 1;
  const engine = new NativeEngine(
    { address: '127.0.4.20', dataPort: 38000, rtp: true, maxDatagramSize: 1000, ...(auth ? { peerAuth: { keys: KEY_SETS[0], advertiseAddress: '127.0.4.20' } } : {}) },
    load.addon,
    { slots: 4 },
  );
  let controls = 0;
  engine.onControl(() => controls++);
  await engine.start();
  const clients = await Promise.all(Array.from({ length: 8 }, (_, i) => sock(38100 + i)));
  const peer = await sock(38200);
  let received = 0;
  for (const c of [...clients, peer]) c.on('message', () => received++);
  const table = (k) => ({
    clients: clients.slice(0, 3 + (k % 6)).map((c, i) => ({ id: 100 + ((i + k) % 9), sends: i % 3 !== 1, receives: i % 3 !== 2, deliver: (i + k) % 4 !== 0, endpoints: [{ address: '127.0.4.20', port: 38100 + i }, i % 2 ? { address: '127.0.4.20', port: 38100 + i } : undefined] })),
    peers: k % 2 ? [{ id: 'p', address: '127.0.4.20', dataPort: 38200 }] : [],
  });
  let stop = false;
  const traffic = (async () => {
    let n = 0;
    while (!stop) {
      for (let j = 0; j < 40; j++, n++) {
        const c = clients[n % 8];
        const size = [1000, 1000, 1000, 300, 1200, 1001, 1][n % 7];
        const buf = Buffer.alloc(size, n & 0xff);
        if (n % 50 === 0) buf.write('RMSH', 0);
        c.send(buf, 38000 + (n % 2), '127.0.4.20');
        if (n % 5 === 0) {
          const framed = Buffer.alloc((auth ? 40 : 16) + (n % 3 ? 500 : 5));
          if (auth && n % 7 !== 0) {
            // Tagged; every 13th with a bad tag, every 17th sent twice (a replay), sequences out of order.
            writeTaggedPeerHeader(framed, 100 + (n % 9), n % 4 === 0 ? n - 40 : n, 1000 + Math.floor(n / 5000));
            writePeerTag(framed, framed.length - 16, PEER_KEY);
            if (n % 13 === 0) framed[framed.length - 1] ^= 1;
            if (n % 17 === 0) peer.send(framed, 38000, '127.0.4.20');
          } else {
            writePeerHeader(framed, 100 + (n % 9), n);
          }
          if (n % 11 === 0) framed[0] = 0;
          peer.send(framed, 38000, '127.0.4.20');
        }
      }
      await sleep(1);
    }
  })();
  for (let k = 0; k < 300; k++) {
    engine.setTable(table(k));
    if (auth && k % 25 === 0) engine.setMeshKeys(KEY_SETS[(k / 25) % KEY_SETS.length]);
    if (k % 10 === 0) { engine.counters(); engine.latency(); engine.clientActivity(100 + (k % 9)); engine.sendControl(k % 2, Buffer.from('RMSH-ack'), { address: '127.0.4.20', port: 38100 }); }
    await sleep(2);
  }
  stop = true;
  await traffic;
  await sleep(50);
  await engine.close();
  console.log(`round ${round}: received ${received}, controls ${controls}, counters ${JSON.stringify(engine.counters().dropped)}, stats ${JSON.stringify(engine.engineStats())}`);
  for (const c of [...clients, peer]) c.close();
}
if (global.gc) global.gc();
await sleep(100);
console.log('done');
