// The data plane fed arbitrary datagrams through real loopback sockets (fast-check), for each engine
// (TypeScript, and native when built) in an open and in a keyed mesh: from an unknown source nothing is
// forwarded; from a known peer only what the peer rules allow (in a keyed mesh nothing untagged, in an
// open one the payload after a well-formed header); from a send-receive client exactly its bytes to the
// other client and to the peer; from a receive-only client nothing; a control datagram goes to the
// control handler only; nothing ever goes back to its sender; and the engine keeps serving.
import dgram from 'node:dgram';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTROL_MAGIC } from '../../../protocol/wire/control-datagram.js';
import {
  PEER_HEADER_SIZE,
  PEER_MAGIC,
  PEER_TAGGED_HEADER_SIZE,
  PEER_TAGGED_OVERHEAD,
  PEER_VERSION,
  readPeerOriginClientId,
  writePeerHeader,
} from '../../../protocol/wire/peer-header.js';
import { peerEndpointKey, verifyPeerTag } from '../../../reflector/security/peer-tag.js';
import { createDataPlaneEngine } from '../../../reflector/native/select.js';
import { loadNativeMirror } from '../../../reflector/native/addon.js';
import type { DataPlaneEngine, EngineOptions } from '../../../reflector/mirror/engine.js';
import { singleKeySet } from '../../../protocol/security/mesh-key-set.js';

const MAX = 1472;
const A_ID = 0xa1;
const B_ID = 0xb2;
const MESH_KEY = Buffer.alloc(32, 7);

interface Socket {
  name: string;
  socket: dgram.Socket;
  port: number;
  address: string;
  got: Buffer[];
}

async function open(name: string, address: string): Promise<Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, address, resolve));
  const s: Socket = { name, socket, address, port: socket.address().port, got: [] };
  socket.on('message', (m) => s.got.push(Buffer.from(m)));
  return s;
}

function send(from: Socket, bytes: Buffer, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => from.socket.send(bytes, port, address, (err) => (err ? reject(err) : resolve())));
}

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** Datagrams worth throwing at a reflector: random bytes, near-control, near-peer-header, sizes around the limit. */
const datagram = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  fc.uint8Array({ minLength: MAX - 2, maxLength: MAX + 20 }),
  fc.tuple(fc.uint8Array({ minLength: 0, maxLength: 40 })).map(([rest]) => {
    const b = Buffer.alloc(4 + rest.length);
    b.writeUInt32BE(CONTROL_MAGIC, 0);
    Buffer.from(rest).copy(b, 4);
    return b;
  }),
  fc.tuple(fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.nat(255), fc.uint8Array({ maxLength: 48 }), fc.constantFrom(A_ID, B_ID, 7)).map(([seq, flags, payload, origin]) => {
    const b = Buffer.alloc(PEER_HEADER_SIZE + payload.length);
    writePeerHeader(b, origin, seq % 2 ** 32);
    if (flags % 3 === 0) b[3] = flags;
    Buffer.from(payload).copy(b, PEER_HEADER_SIZE);
    return b;
  }),
).map((a) => Buffer.from(a));

const native = loadNativeMirror();
const engines: { kind: 'js' | 'native'; keyed: boolean }[] = [
  { kind: 'js', keyed: false },
  { kind: 'js', keyed: true },
  ...(native.ok ? [{ kind: 'native' as const, keyed: false }, { kind: 'native' as const, keyed: true }] : []),
];

describe.each(engines)('the $kind data plane (keyed: $keyed), for any datagram from anyone', ({ kind, keyed }) => {
  const host = 20 + engines.findIndex((e) => e.kind === kind && e.keyed === keyed) * 10;
  const address = `127.0.9.${host}`;
  const dataPort = 50200 + host;
  let engine: DataPlaneEngine;
  let a: Socket, b: Socket, peer: Socket, stranger: Socket;
  const controls: Buffer[] = [];

  beforeAll(async () => {
    const options: EngineOptions = {
      address,
      dataPort,
      rtp: false,
      maxDatagramSize: MAX,
      ...(keyed ? { peerAuth: { keys: singleKeySet(MESH_KEY), advertiseAddress: address } } : {}),
    };
    engine = createDataPlaneEngine(kind, options).engine;
    expect(engine.kind).toBe(kind);
    engine.onControl((d) => controls.push(Buffer.from(d)));
    await engine.start();
    [a, b, peer, stranger] = await Promise.all([open('a', `127.0.9.${host + 1}`), open('b', `127.0.9.${host + 2}`), open('peer', `127.0.9.${host + 3}`), open('stranger', `127.0.9.${host + 4}`)]);
    engine.setTable({
      clients: [
        { id: A_ID, sends: true, receives: true, endpoints: [{ address: a.address, port: a.port }, undefined], deliver: true },
        { id: B_ID, sends: false, receives: true, endpoints: [{ address: b.address, port: b.port }, undefined], deliver: true },
      ],
      peers: [{ id: 'peer', address: peer.address, dataPort: peer.port }],
    });
  });

  afterAll(async () => {
    for (const s of [a, b, peer, stranger]) s?.socket.close();
    await engine?.close();
  });

  it('forwards only by the rules and keeps serving', async () => {
    let marker = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('stranger', 'peer', 'a', 'b'), datagram, async (fromName, bytes) => {
        const from = { a, b, peer, stranger }[fromName];
        for (const s of [a, b, peer, stranger]) s.got.length = 0;
        controls.length = 0;
        const before = engine.counters();
        const activity = { a: engine.clientActivity(A_ID)!, b: engine.clientActivity(B_ID)! };
        await send(from, bytes, dataPort, address);
        // A marker from A after it: once B and the peer have it, the engine is done with the datagram.
        const tag = Buffer.from(`MARK${String(++marker).padStart(8, '0')}`);
        await send(a, tag, dataPort, address);
        await until(() => b.got.some((m) => m.equals(tag)) && peer.got.some((m) => m.includes(tag)), `marker ${marker}`);
        await new Promise((r) => setTimeout(r, 2));
        const notMarker = (m: Buffer) => !m.includes(tag);
        const got = { a: a.got.filter(notMarker), b: b.got.filter(notMarker), peer: peer.got.filter(notMarker), stranger: stranger.got };
        const what = `${fromName} sent ${bytes.length} bytes ${bytes.subarray(0, 24).toString('hex')}`;

        expect(got[fromName], `${what}: echoed to the sender`).toEqual([]);
        expect(got.stranger, what).toEqual([]);
        const isControl = bytes.length >= 4 && bytes.readUInt32BE(0) === CONTROL_MAGIC;
        if (isControl) {
          expect(controls.map((c) => c.toString('hex')), what).toEqual([bytes.toString('hex')]);
          expect([got.a, got.b, got.peer], what).toEqual([[], [], []]);
          return;
        }
        expect(controls, what).toEqual([]);
        const after = engine.counters();
        // Nobody else's session is disturbed: B (which never sends) is untouched unless the datagram
        // was its own, and A counts only its own datagrams (the marker, and the datagram if it sent it).
        if (fromName !== 'b') {
          const b = engine.clientActivity(B_ID)!;
          expect(b.datagramsIn, `${what}: B's count`).toBe(activity.b.datagramsIn);
          // The native engine converts its monotonic clock to wall time on each read: ±1 ms.
          expect(Math.abs(b.lastHeardMs - activity.b.lastHeardMs), `${what}: B last heard`).toBeLessThanOrEqual(1);
        }
        expect(engine.clientActivity(A_ID)!.datagramsIn - activity.a.datagramsIn, `${what}: A's count`).toBe(fromName === 'a' ? 2 : 1);
        if (fromName === 'stranger') {
          expect([got.a, got.b, got.peer], what).toEqual([[], [], []]);
          expect(after.dropped.unknown_source - before.dropped.unknown_source, what).toBe(1);
        } else if (fromName === 'b') {
          expect([got.a, got.peer], `${what}: a receive-only client's data`).toEqual([[], []]);
        } else if (fromName === 'a') {
          if (bytes.length > MAX) {
            expect([got.b, got.peer], `${what}: oversized`).toEqual([[], []]);
          } else {
            expect(got.b.map((m) => m.toString('hex')), what).toEqual([bytes.toString('hex')]);
            expect(got.peer.length, what).toBe(1);
            const copy = got.peer[0]!;
            expect(copy.readUInt16BE(0), what).toBe(PEER_MAGIC);
            expect(copy[2], what).toBe(PEER_VERSION);
            expect(readPeerOriginClientId(copy), what).toBe(A_ID);
            if (keyed) {
              // header | epoch | payload | tag, the tag made with the key of the engine's data address
              expect(copy.length, what).toBe(bytes.length + PEER_TAGGED_OVERHEAD);
              expect(copy.subarray(PEER_TAGGED_HEADER_SIZE, PEER_TAGGED_HEADER_SIZE + bytes.length).equals(bytes), `${what}: the payload`).toBe(true);
              expect(verifyPeerTag(copy, copy.length, peerEndpointKey(MESH_KEY, address, dataPort)), `${what}: the tag`).toBe(true);
            } else {
              expect(copy.length, what).toBe(bytes.length + PEER_HEADER_SIZE);
              expect(copy.subarray(PEER_HEADER_SIZE).equals(bytes), `${what}: the payload`).toBe(true);
            }
          }
        } else {
          expect(got.peer, `${what}: peer data goes to no peer`).toEqual([]);
          if (keyed) {
            expect([got.a, got.b], `${what}: untagged peer data in a keyed mesh`).toEqual([[], []]);
          } else {
            const payload = bytes.subarray(PEER_HEADER_SIZE).toString('hex');
            for (const [name, list] of [['a', got.a], ['b', got.b]] as const) {
              for (const m of list) expect(m.toString('hex'), `${what}: delivered to ${name}`).toBe(payload);
              expect(list.length, `${what}: delivered to ${name} more than once`).toBeLessThanOrEqual(1);
            }
            // The origin client is skipped.
            if (got.a.length > 0) expect(bytes.readUIntBE(4, 6), what).not.toBe(A_ID);
            if (got.b.length > 0) expect(bytes.readUIntBE(4, 6), what).not.toBe(B_ID);
          }
        }
      }),
      { numRuns: 300 },
    );
  }, 60_000);
});
